"""Forged requests: with the cluster's key, anyone on the heartbeat link moves the group.

Heartbeat's authentication is one shared key: a packet signed with it is a node's
word. Here the forger (lab/forge.py) sits on gw, which is no cluster node. It
listens where the target listens (inside the target's namespace) to learn the
victim's generation and seq, then sends one message in the victim's name
(spoofing its address), continuing its sequence, signed with authkeys' key. The
wire trace shows the message arriving at the target, and never leaving the victim.

What each implementation does with it (measured; the receiver's implementation
decides, so every pairing of HBLAB_IMPLS runs):

* ``hb_takeover rsc_hold=all`` in slave's name, to master. Heartbeat: rc.d/hb_takeover
  runs ``hb_standby all``; the standby exchange follows and slave takes the group.
  hbnode: the same.
* ``ip-request ipaddr=<group>`` in slave's name, to master (the holder). Heartbeat:
  rc.d/ip-request gives the group up and answers ``ip-request-resp dest=slave
  weown=yes ok=OK``; a Heartbeat slave takes the group (rc.d/ip-request-resp). hbnode
  gives it up and answers the same, but an hbnode slave, which never asked, ignores a
  stray answer: nobody holds the VIP, and it lasts.
* ``shutdone`` in master's name, to slave. Heartbeat: ``Received shutdown notice``,
  slave takes master's group at once (mach_down) while master still holds it: two
  holders, and it lasts. hbnode takes it at once too, and gives it back when master
  says it still holds the group: an hbnode master does at once (it answers the
  report of a peer in transition), a real Heartbeat master never does. An hbnode
  master also claims a group it keeps that is held twice, and asks a real Heartbeat
  slave for it with ``hb_takeover`` until it lets go (hbnode.rm heal): two holders
  last only under a real Heartbeat master.
* Any of them signed with another key: dropped; Heartbeat logs ``authentication
  failed``, hbnode counts it (``io.rejected.bad_signature``).
* Any of them with an old seq of the victim (a replay within its generation):
  dropped; Heartbeat says nothing, hbnode counts it (``duplicate``/``out_of_window``).
* Any of them with an older generation: dropped; Heartbeat logs ``attempted replay
  attack``, hbnode counts it (``replayed``).

Between the steps the group is put back on master with the real ``hb_takeover``.
Packets go from gw's eth1 to the target's MAC inside the lab; nothing leaves it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lab.forge import Forger
from lab.hafiles import AUTHKEYS
from lab.hbcodec import parse_authkeys
from lab.topology import REFERENCE
from lab.wirequery import msg
from lab.wiretrace import WireTrace

from . import wire
from .badnews import REJECTED_PACKET, ExpectedLog
from .helpers import Cluster, holds_for, wait_until

STARTUP_TIMEOUT = 60.0
MOVE_TIMEOUT = 20.0
WRONG_KEYS = parse_authkeys("auth 3\n3 md5 NotTheKey\n")
GROUP = "192.168.0.38/24/eth0:0"  # the group key: haresources' first resource
AUTH_FAILED = re.compile(r"authentication failed|authtoken does not match")
REPLAY_ATTACK = "attempted replay attack"
# (name, fields, victim, target): what is forged, in whose name, sent to whom.
REQUESTS: list[tuple[str, list[tuple[str, str]], str, str]] = [
    ("hb_takeover", [("t", "hb_takeover"), ("rsc_hold", "all")], "slave", "master"),
    ("ip-request", [("t", "ip-request"), ("ipaddr", GROUP)], "slave", "master"),
    ("shutdone", [("t", "shutdone"), ("st", "dead")], "master", "slave"),
]


@contextmanager
def forgers(cluster: Cluster) -> Iterator[dict[str, Forger]]:
    """A forger per target (master, slave), each in the other node's name, on gw."""
    # By lab.netns_of: a name on netns, a /proc path on docker (the record's is empty there).
    netns = {name: cluster.lab.netns_of(name) for name in cluster.lab.require_up().nodes}
    keys = parse_authkeys(AUTHKEYS)
    made: dict[str, Forger] = {}
    try:
        for target in ("master", "slave"):
            victim = REFERENCE.peer_of(target).name
            made[target] = Forger(REFERENCE, netns, victim, target, "gw", keys)
            made[target].start_learning()
        for forger in made.values():
            wait_until(
                lambda f=forger: f.learned.last_sequenced is not None,
                10.0,
                f"the forger heard {forger.victim}",
            )
        yield made
    finally:
        for forger in made.values():
            forger.stop()


def test_forged_requests_move_the_group(
    lab_factory: Callable[..., Cluster],
    wire_trace: Callable[[Cluster], WireTrace],
    impl_spec: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    expect_log(REJECTED_PACKET, "the forgeries signed with another key")
    expect_log(r"ERROR: should_drop_message: attempted replay attack", "an older generation")
    # A forgery's seq is ahead of its victim's (lab.forge: clear of its answers): a 3.0.6
    # receiver asks for the gap it opened, which the victim cannot resend for ever.
    gap = "the gap a forgery's seq opens in its victim's sequence"
    expect_log(r"ERROR: (Irretrievably lost packet|Cannot rexmit pkt \d+ for \S+: seqno)", gap)
    moved = "a forged request moves the group behind the real holder's back"
    expect_log(r"Both machines own .* resources!", moved)
    expect_log(r"ERROR: Ignored standby message", moved)
    cluster = lab_factory(impl_spec)
    trace = wire_trace(cluster)
    cluster.startup("master", STARTUP_TIMEOUT)
    wire.wait_quiet(trace, 2 * cluster.timers["keepalive"])
    lasting = 3 * cluster.deadtime
    with forgers(cluster) as forger:
        wrong = _rejected_forgeries(cluster, trace, forger, measure)

        # hb_takeover in slave's name: master goes standby, whatever runs on it.
        sent = _forge(trace, forger["master"], REQUESTS[0][1])
        wire.assert_standby_exchange(trace, cluster, "master", "slave", "all", sent.time)
        cluster.settles_on("slave", MOVE_TIMEOUT)
        _past(forger["master"], sent)
        _back_to_master(cluster)

        # ip-request in slave's name: master gives the group up and answers slave.
        sent = _forge(trace, forger["master"], REQUESTS[1][1])
        trace.wait_for(
            msg("ip-request-resp", "master", dest="slave", ipaddr=GROUP, weown="yes", ok="OK"),
            MOVE_TIMEOUT,
            after=sent.time,
        )
        if cluster.impl("slave") == "heartbeat":
            cluster.settles_on("slave", MOVE_TIMEOUT)  # rc.d/ip-request-resp takes it
        else:
            # hbnode takes only what it asked for: the group is left without a holder.
            wait_until(cluster.held_by(), MOVE_TIMEOUT, "master gave the VIP up")
            holds_for(cluster.held_by(), lasting, "nobody takes the VIP master gave up")
        _past(forger["master"], sent)
        _back_to_master(cluster)

        # shutdone in master's name: slave takes master's group at once.
        sent = _forge(trace, forger["slave"], REQUESTS[2][1])
        trace.wait_for(msg("resource", "slave", info="mach_down"), MOVE_TIMEOUT, after=sent.time)
        assert "Received shutdown notice from 'master'" in cluster.log("slave")
        if cluster.impl("master") == "hbnode":
            # master says it holds the group (its answer to slave's report, or its
            # claim and hb_takeover against a real Heartbeat slave): slave lets go.
            cluster.settles_on("master", MOVE_TIMEOUT)
        else:
            holds_for(cluster.held_by("master", "slave"), lasting, "two holders, for good")
    assert sorted(e.get("t") or "" for e in trace.bad_signatures()) == sorted(wrong)


def _forge(
    trace: WireTrace,
    forger: Forger,
    fields: list[tuple[str, str]],
    *,
    authentic: bool = True,
    **how: Any,
) -> wire.Forgery:
    """Send one forgery and find it on the wire: at the target, never at the victim."""
    forged = forger.send_message(fields, **how)
    return wire.forgery_on_the_wire(
        trace, forged, forger.victim, forger.target, authentic=authentic
    )


def _past(forger: Forger, sent: wire.Forgery) -> None:
    """Wait until the victim's own messages have gone past the forged seq (the one
    that reaches it is dropped as a duplicate): the next step starts clean."""
    wait_until(lambda: forger.passed(sent.forged), 30.0, f"{forger.victim} passed the forged seq")


def _back_to_master(cluster: Cluster) -> None:
    """Put the group back on master with the real tool (hb_takeover all on master)."""
    done = cluster.tool("master", "hb_takeover", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    cluster.settles_on("master", MOVE_TIMEOUT)


def _rejected_forgeries(
    cluster: Cluster, trace: WireTrace, forger: dict[str, Forger], measure: Callable[..., None]
) -> list[str]:
    """Each request three ways it must fail: another key, an old seq of the victim
    (a replay within its generation), an older generation. Nothing moves; each is
    counted where the receiver counts (hbnode's counters, Heartbeat's log)."""
    before = {node: _evidence(cluster, node) for node in ("master", "slave")}
    # Judged on what the forgeries may have caused: a start-up that did not negotiate at
    # once (a peer that started late, on a busy machine) logs a failback standby of its own.
    logged = {node: len(cluster.log(node)) for node in before}
    sent: dict[str, dict[str, int]] = {n: {"key": 0, "seq": 0, "gen": 0} for n in before}
    wrong = []
    for _name, fields, _victim, target in REQUESTS:
        f = forger[target]
        _forge(trace, f, fields, keys=WRONG_KEYS, authentic=False)
        _forge(trace, f, fields, seq=max(1, f.next_seq(0) - 3))  # said already
        _forge(trace, f, fields, hg=(f.learned.hg or 1) - 1)
        for how in ("key", "seq", "gen"):
            sent[target][how] += 1
        wrong.append(fields[0][1])
    for node, counts in sent.items():
        wait_until(
            lambda n=node, c=counts: _all_counted(cluster, n, before[n], c),
            10.0,
            f"{node} counts every forgery it rejected",
        )
        after = _evidence(cluster, node)
        measure(f"forged_rejected_{node}", json.dumps(_delta(before[node], after)))
    holds_for(cluster.held_by("master"), 2 * cluster.deadtime, "no forgery moved the VIP")
    for node in ("master", "slave"):
        log = cluster.log(node)[logged[node] :]
        assert "wants to go standby" not in log, f"{node} acted on a rejected forgery"
        assert "Received shutdown notice" not in log, f"{node} acted on a rejected forgery"
    return wrong


def _evidence(cluster: Cluster, node: str) -> dict[str, int]:
    """What a node counts of rejected packets: hbnode's counters, or Heartbeat's log."""
    if cluster.impl(node) == "hbnode":
        done = cluster.lab.run(node, ["hbnode", "status", "--json"], timeout=10)
        assert done.returncode == 0, done.stderr
        status = json.loads(done.stdout)
        counters = status["counters"]
        return {
            "key": int(status["io"]["rejected"].get("bad_signature", 0)),
            "seq": int(counters["duplicate"]) + int(counters["out_of_window"]),
            "gen": int(counters["replayed"]),
        }
    log = cluster.log(node)
    return {
        "key": sum(1 for line in log.splitlines() if AUTH_FAILED.search(line)),
        "seq": 0,  # Heartbeat drops an old seq without a word (should_drop_message)
        "gen": log.count(REPLAY_ATTACK),
    }


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in before}


def _all_counted(cluster: Cluster, node: str, before: dict[str, int], sent: dict[str, int]) -> bool:
    got = _delta(before, _evidence(cluster, node))
    if cluster.impl(node) == "heartbeat":
        sent = {**sent, "seq": 0}
    return all(got[k] >= sent[k] for k in sent)
