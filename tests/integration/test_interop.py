"""hbnode and the real Heartbeat 3.0.6 in one cluster (issue 3's interop tests).

These always run mixed clusters, whatever HBLAB_IMPLS says: interop is the point.
The real Heartbeat is the judge: its log must not complain about hbnode's packets.
Retransmission under loss runs on every cluster of HBLAB_IMPLS, read on the wire.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from lab.wiretrace import WireTrace

from . import wire
from .badnews import REJECTED_PACKET, ExpectedLog, shutdone_standby_race
from .helpers import Cluster, holds_for, wait_until

MIXED = ["master=heartbeat,slave=hbnode", "master=hbnode,slave=heartbeat"]
COMM_TIMEOUT = 30.0
# Lines of the real Heartbeat's log that would mean it dislikes what hbnode sends.
COMPLAINT = re.compile(
    r"authenticat|authtoken|bad node|replay|netstring|string2msg|malformed|msg2|"
    r"lost a lot|lost packet|nak_rexmit|seqno|flow control|should_drop",
    re.I,
)


def impl_of(spec: str, node: str) -> str:
    return dict(part.split("=") for part in spec.split(","))[node]


def hbnode_status(cluster: Cluster, node: str) -> dict[str, Any]:
    done = cluster.lab.run(node, ["hbnode", "status", "--json"], timeout=10)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def both_active(cluster: Cluster) -> bool:
    return (
        cluster.nodestatus("master", "slave") == "active"
        and cluster.nodestatus("slave", "master") == "active"
    )


def link_up(cluster: Cluster, on: str, about: str) -> bool:
    done = cluster.lab.run(on, ["cl_status", "hblinkstatus", about, "eth1"], timeout=10)
    return done.stdout.strip() == "up"


def heartbeat_complaints(cluster: Cluster, node: str, peer: str) -> list[str]:
    """WARN/ERROR/CRIT lines of the real Heartbeat's log about the peer or its packets."""
    lines = []
    for line in cluster.log(node).splitlines():
        if not re.search(r"\b(WARN|ERROR|CRIT)\b", line):
            continue
        if COMPLAINT.search(line) or peer in line:
            lines.append(line)
    return lines


@pytest.mark.parametrize("spec", MIXED)
def test_mixed_cluster_members_see_each_other(
    lab_factory: Callable[..., Cluster], spec: str, measure: Callable[..., None]
) -> None:
    cluster = lab_factory(spec)
    took = wait_until(lambda: both_active(cluster), COMM_TIMEOUT, "both nodes see the other active")
    measure("both_active_s", round(took, 3), impl=spec)
    for on, about in (("master", "slave"), ("slave", "master")):
        assert link_up(cluster, on, about), f"{on} sees link {about}:eth1 up"
    # A few seconds of steady state, still both active (sampled, not slept).
    holds_for(lambda: both_active(cluster), 3.0, "both nodes active", interval=0.5)
    hb_node = "master" if impl_of(spec, "master") == "heartbeat" else "slave"
    ours = "slave" if hb_node == "master" else "master"
    assert heartbeat_complaints(cluster, hb_node, ours) == []
    status = hbnode_status(cluster, ours)
    assert status["io"]["rejected"] == {}, status["io"]
    counters = status["counters"]
    measure("hbnode_counters", json.dumps(counters, sort_keys=True), impl=spec)
    assert counters.get("replayed", 0) == 0
    assert f"Link {hb_node}:eth1 up." in cluster.log(ours)
    assert f"Link {ours}:eth1 up." in cluster.log(hb_node)


@pytest.mark.parametrize("spec", MIXED)
def test_restarts_carry_new_generations(
    lab_factory: Callable[..., Cluster],
    spec: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    for node in ("master", "slave"):  # each restarts while the other runs
        why = "the peer's restart meets the node's own standby step (a real Heartbeat's race)"
        expect_log(shutdone_standby_race(node), why, [node])
    cluster = lab_factory(spec)
    wait_until(lambda: both_active(cluster), COMM_TIMEOUT, "both nodes see the other active")
    for node in ("master", "slave"):
        peer = "slave" if node == "master" else "master"
        before = cluster.log(peer).count(f"Heartbeat restart on node {node}")
        done = cluster.lab.service(node, "heartbeat", "restart")
        assert done.returncode == 0, done.stdout + done.stderr
        took = wait_until(
            lambda n=node, p=peer, b=before: (
                cluster.log(p).count(f"Heartbeat restart on node {n}") > b
                or f"Received shutdown notice from '{n}'" in cluster.log(p)
            ),
            COMM_TIMEOUT,
            f"{peer} notices {node}'s restart",
        )
        wait_until(lambda: both_active(cluster), COMM_TIMEOUT, f"both active after {node} restart")
        measure(f"restart_{node}_noticed_s", round(took, 3), impl=spec)
    for node in ("master", "slave"):
        if impl_of(spec, node) == "heartbeat":
            log = cluster.log(node)
            assert "replay" not in log, "the real Heartbeat took a generation as a replay"


KEYS = {
    "md5": "auth 3\n3 md5 Hello!\n",
    "sha1": "auth 1\n1 sha1 SecretKey\n",
    "crc": "auth 2\n2 crc\n",
}


def _start_with_authkeys(cluster: Cluster, keys: dict[str, str]) -> None:
    for node, text in keys.items():
        path = cluster.lab.node_file(node, "/etc/ha.d/authkeys")
        path.write_text(text)
        path.chmod(0o600)
    # Both at once: started one after the other on a busy machine, the second could
    # come up after the first's initdead (3 s here), which the real Heartbeat then
    # logs as `node X: is dead`, a complaint about the peer though none is at fault.
    cluster.lab.service_at_once(list(keys), "heartbeat", "start")


@pytest.mark.parametrize("method", sorted(KEYS))
def test_signature_methods_interoperate(lab_factory: Callable[..., Cluster], method: str) -> None:
    spec = MIXED[0]
    cluster = lab_factory(spec, start=False)
    _start_with_authkeys(cluster, {"master": KEYS[method], "slave": KEYS[method]})
    wait_until(lambda: both_active(cluster), COMM_TIMEOUT, f"both active with {method}")
    assert heartbeat_complaints(cluster, "master", "slave") == []
    assert hbnode_status(cluster, "slave")["io"]["rejected"] == {}


def test_mismatched_key_is_rejected_on_both_sides(
    lab_factory: Callable[..., Cluster], expect_log: ExpectedLog
) -> None:
    expect_log(REJECTED_PACKET, "the two nodes' authkeys differ")
    cluster = lab_factory(MIXED[0], start=False)
    _start_with_authkeys(cluster, {"master": KEYS["md5"], "slave": "auth 3\n3 md5 Wrong!\n"})
    wait_until(
        lambda: hbnode_status(cluster, "slave")["io"]["rejected"].get("bad_signature", 0) > 0,
        COMM_TIMEOUT,
        "hbnode counts the real Heartbeat's packets as badly signed",
    )
    wait_until(
        lambda: "authentication failed" in cluster.log("slave"),
        COMM_TIMEOUT,
        "hbnode logs the rejection",
    )
    wait_until(
        lambda: (
            re.search(r"authtoken does not match|authentication failed", cluster.log("master"))
            is not None
        ),
        COMM_TIMEOUT,
        "the real Heartbeat logs the rejection",
    )
    assert cluster.nodestatus("master", "slave") != "active"
    assert cluster.nodestatus("slave", "master") != "active"


LOSS_SECONDS = 10.0
CAUGHT_UP = 1.0  # seconds of wire after the window that show the trace has read past it
# The fast profile's deadtime is 6 keepalives: at 20% loss, 5 statuses lost in a row
# (0.2**5, some 80 chances in the window over both directions: about 2.5% a run) leave
# a gap of deadtime, and the peer is dead by Heartbeat's own rule, a true death of
# the link and no fault of either side (measured: 3 runs in 56 here, 1 in CI). With
# 12 keepalives it takes 11 in a row (0.2**11): repair is what is under test
# (RELIABILITY.md, "A false death under 20 % loss").
# initdead stays at least deadtime (Heartbeat's rule), so it is stated beside it.
LOSSY_TIMERS = {"deadtime": "3000ms", "warntime": "1500ms", "initdead": "3"}


def test_loss_is_repaired_without_false_death(
    lab_factory: Callable[..., Cluster],
    wire_trace: Callable[[Cluster], WireTrace],
    impl_spec: str,
    measure: Callable[..., None],
) -> None:
    spec = impl_spec
    cluster = lab_factory(spec, LOSSY_TIMERS)
    trace = wire_trace(cluster)
    wait_until(lambda: both_active(cluster), COMM_TIMEOUT, "both nodes see the other active")
    lossy = trace.mark("20% loss on both eth1")
    for node in ("master", "slave"):
        cluster.lab.netem(node, "eth1", {"loss": "20%"})
    try:
        holds_for(
            lambda: both_active(cluster), LOSS_SECONDS, "both active under 20% loss", interval=0.5
        )
    finally:
        for node in ("master", "slave"):
            cluster.lab.netem(node, "eth1", None)
    clear = trace.mark("loss cleared")
    for node in ("master", "slave"):
        assert "is dead" not in cluster.log(node), f"{node} declared a false death"
    asked = _rexmits_answered(trace, lossy, clear)
    measure("loss20_rexmit_requests", len(asked), impl=spec)
    for node in ("master", "slave"):
        if cluster.impl(node) == "hbnode":
            counters = hbnode_status(cluster, node)["counters"]
            measure(f"loss20_counters_{node}", json.dumps(counters, sort_keys=True), impl=spec)
            assert counters.get("rexmit_requested", 0) > 0, counters
            assert counters.get("lost", 0) > 0, counters
    wire.assert_all_signed(trace, cluster.impl)


def _rexmits_answered(trace: WireTrace, lossy: float, clear: float) -> list[wire.Rexmit]:
    """On the wire (§3.4), the same for both implementations (measured): each side
    asks for what it missed (NS_rexmit, one seq a request), and gets it. The loss
    drops packets before they reach the wire (an nftables output rule), so a message
    asked for was never on the wire before, and its retransmission is; nothing
    asked for was refused (NS_nak_rexmit is for seqs out of the sender's history)."""

    asked: list[wire.Rexmit] = []

    def settled() -> bool:
        nonlocal asked
        # The trace's reader lags the wire a little, and the "loss cleared" mark is
        # noted at once: a request sent just before the mark can show up after a
        # look that found everything answered (seen in CI). So judge only once the
        # trace holds a message from well after the mark, and keep that look.
        if trace.first(after=clear + CAUGHT_UP) is None:
            return False
        asked = wire.rexmits(trace, lossy, clear)
        return all(a.resent is not None or a.refused is not None for a in asked)

    wait_until(settled, 10.0, "every retransmission request answered on the wire")
    for node in ("master", "slave"):
        mine = [a for a in asked if a.request.src == node]
        assert mine, f"{node} never asked for a retransmission under 20% loss"
    for request in asked:
        assert request.resent is not None and request.refused is None, str(request)
        assert request.earlier is None, f"{request}, but it was on the wire: {request.earlier}"
    assert trace.messages("NS_nak_rexmit", after=lossy) == []
    return asked
