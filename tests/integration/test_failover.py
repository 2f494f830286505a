"""The tutorial's failover scenarios, run against each implementation in HBLAB_IMPLS.

Margins: a takeover must complete within deadtime plus TAKEOVER_MARGIN (the real
Heartbeat runs shell resource scripts after declaring the peer dead).

Each scenario also reads the wire (the ``wire_trace`` fixture, tests/integration/
wire.py): the protocol exchange behind the outcome, every packet verified with the
cluster's key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from lab.wireevents import ArpEvent, HeartbeatEvent
from lab.wirequery import msg
from lab.wiretrace import WireTrace

from . import wire
from .badnews import CABLE_PULLED, LATE_AFTER_HEAL, PARTITION_RETURN, ExpectedLog
from .helpers import Cluster, holds_for, wait_until

pytestmark = pytest.mark.failover

TAKEOVER_MARGIN = 6.0
STARTUP_TIMEOUT = 60.0
NODES = ("master", "slave")
RQSTDELAY = 10.0  # seconds a starting 3.0.6 node waits for a stable peer (§4.3)
RESTART_BEGINS = 30.0  # a real Heartbeat begins its restart 2 s after a heal (§4.7); slack


def test_startup_master_takes_vip_and_nginx(
    lab_factory: Callable[..., Cluster],
    wire_trace: Callable[[Cluster], WireTrace],
    impl_spec: str,
    measure: Callable[..., None],
) -> None:
    cluster = lab_factory(impl_spec, start=False)
    trace = wire_trace(cluster)  # from before the daemons start: the whole start-up
    cluster.lab.service_at_once(list(NODES), "heartbeat", "start")
    took = cluster.startup("master", STARTUP_TIMEOUT)
    measure("startup_vip_s", took, impl=impl_spec)
    assert cluster.page() == "master"
    ifconfig = cluster.lab.run("master", ["ifconfig"], check=True).stdout
    assert "eth0:0" in ifconfig and "192.168.0.38" in ifconfig
    ps = cluster.lab.run("master", ["ps", "aux"], check=True).stdout
    assert "nginx: master process" in ps
    assert "nginx: master process" not in cluster.lab.run("slave", ["ps", "aux"]).stdout
    assert cluster.nodestatus("slave", "master") == "active"
    assert cluster.nodestatus("master", "slave") == "active"
    waited = _assert_startup_on_the_wire(trace, cluster)
    measure("wire_starting_to_acquired_s", round(waited, 3), impl=impl_spec)


def _assert_startup_on_the_wire(trace: WireTrace, cluster: Cluster) -> float:
    """Start-up on the wire (§4.2-4.3): each node's first status says st=init with
    seq 1, and each says ``starting``; master then reports its group held, settled.
    Two hbnode nodes negotiate at once: each reports what it holds, unsettled
    (isstable=0), with ``hbnode_quickstart=1`` (docs/differences.md), and master
    acquires at once. A real Heartbeat never says it; it may send no unsettled report
    at all (measured: a 3.0.6 node that hears its peer's ``starting`` before its own
    first reports when RQSTDELAY runs out), and with it in the cluster the group is
    taken RQSTDELAY (10 s) after the first ``starting`` (measured: 10.0-10.5 s).
    Returns the wait, from the first ``starting`` to master's settled report."""
    for node in NODES:
        first = trace.first("status", node)
        assert first is not None and (first.get("st"), first.seq) == ("init", 1), str(first)
        unsettled = trace.messages("resource", node, rtype="full", isstable="0")
        quick = {e.get("hbnode_quickstart") for e in unsettled}
        if cluster.impl(node) == "hbnode":
            trace.sequence(msg("starting", node), msg("resource", node, isstable="0"))
            assert quick == {"1"}, quick
        else:
            assert trace.first("starting", node) is not None, f"{node} never said starting"
            assert quick <= {None}, quick
    starting = trace.first("starting")
    assert starting is not None
    settled = trace.wait_for(
        msg("resource", "master", rsc_hold="local", isstable="1"), 2 * RQSTDELAY, after=starting
    )
    waited = settled.time - starting.time
    if cluster.hbnode_only:
        assert waited < RQSTDELAY / 4, f"an hbnode pair waited {waited:.3f} s"
    else:
        assert waited >= RQSTDELAY - 1.0, f"a cluster with Heartbeat waited {waited:.3f} s"
    wire.assert_all_signed(trace, cluster.impl)
    return waited


def test_takeover_on_poweroff(
    lab_factory: Callable[..., Cluster],
    wire_trace: Callable[[Cluster], WireTrace],
    impl_spec: str,
    measure: Callable[..., None],
) -> None:
    cluster = lab_factory(impl_spec)
    trace = wire_trace(cluster)
    cluster.startup("master", STARTUP_TIMEOUT)
    # A steady cluster (start-up's resource reports over): the cut is then the only news.
    wire.wait_quiet(trace, 2 * cluster.timers["keepalive"])
    # What slave says after the cut must leave it: see keep_resolved.
    wire.keep_resolved(cluster, "slave", "master")
    before = trace.mark("poweroff master")
    cluster.lab.poweroff("master")
    cut = time.time()
    took = cluster.wait_holder("slave", cluster.deadtime + TAKEOVER_MARGIN)
    cluster.wait_page("slave", 5.0)
    trace.wait_for(msg("resource", "slave", info="mach_down"), 10.0, after=before)
    until = time.time()
    death = wire.assert_takeover_after_power_cut(trace, cluster, "master", "slave", cut, until)
    wire.assert_all_signed(trace, cluster.impl)
    measure("takeover_poweroff_s", took, impl=impl_spec, deadtime=cluster.deadtime)
    stonith = trace.first("stonith", "slave", after=death)
    assert stonith is not None
    measure("wire_silence_to_stonith_s", round(stonith.time - death.time, 3), impl=impl_spec)
    cadence = trace.intervals("slave", "status", "slave:eth1", death, until)
    gaps = json.dumps([round(g, 3) for g in cadence.gaps])
    measure("wire_slave_status_gaps_s", gaps, impl=impl_spec)
    assert "node master: is dead" in cluster.log("slave")


@pytest.mark.parametrize("failback", ["on", "off"])
def test_auto_failback(
    lab_factory: Callable[..., Cluster],
    wire_trace: Callable[[Cluster], WireTrace],
    impl_spec: str,
    failback: str,
    measure: Callable[..., None],
) -> None:
    cluster = lab_factory(impl_spec, {"auto_failback": failback})
    trace = wire_trace(cluster)
    cluster.startup("master", STARTUP_TIMEOUT)
    old_hg = wire.current_generation(trace, "master")
    cluster.lab.poweroff("master")
    cluster.wait_holder("slave", cluster.deadtime + TAKEOVER_MARGIN)
    with cluster.arp_watch() as watch:
        back = trace.mark("poweron master")
        cluster.lab.poweron("master")
        wait_until(
            lambda: cluster.nodestatus("slave", "master") == "active",
            30.0,
            "slave sees master active again",
        )
        if failback == "on":
            took = cluster.settles_on("master", 30.0)
            measure("failback_s", took, impl=impl_spec)
        else:
            holds_for(
                cluster.held_by("slave"),
                3 * cluster.deadtime,
                "the VIP stays on slave with auto_failback off",
            )
            assert cluster.page() == "slave"
    windows = watch.windows()
    measure(f"failback_{failback}_two_macs_s", round(windows.two_holders, 3), impl=impl_spec)
    measure(f"failback_{failback}_no_mac_s", round(windows.longest_no_holder, 3), impl=impl_spec)
    # The wire: master is back with a new generation (st=init, seq 1, hg above the
    # one before the cut); with auto_failback on the group comes back through the
    # standby protocol, with it off nobody asks for anything.
    wire.restarted(trace, "master", old_hg, 10.0, back)
    if failback == "on":
        wire.assert_failback(trace, cluster, "master", "slave", back, 10.0)
    else:
        asked = trace.messages("ask_resources", after=back)
        assert asked == [], trace.render(asked)
        trace.wait_for(msg("resource", "master", rsc_hold="none", isstable="1"), 10.0, after=back)
        held = trace.messages("resource", "slave", after=back, rtype="full")
        assert held and {e.get("rsc_hold") for e in held} == {"all"}, trace.render(held)
    wire.assert_standby_exchanges_complete(trace, cluster, back)
    wire.assert_all_signed(trace, cluster.impl)


def test_split_brain_and_heal(
    lab_factory: Callable[..., Cluster],
    wire_trace: Callable[[Cluster], WireTrace],
    impl_spec: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    expect_log(PARTITION_RETURN, "the split is healed")
    expect_log(LATE_AFTER_HEAL, "the split is healed")
    expect_log(r"Both machines own .* resources!", "both nodes hold the VIP until the heal")
    # Heartbeat's classic split-brain: no ping-based isolation policy in the way, nor
    # ipfail. A real Heartbeat's restart after the heal that crosses an ipfail standby
    # exchange can hang until `Emergency Shutdown` and never come back (RELIABILITY.md,
    # the CTS finding); it did so here once in 15 runs of the reference pairing.
    cluster = lab_factory(impl_spec, {"hbnode_isolation": "off", "respawn": ""})
    if not cluster.lab.pulls_carrier:  # a system engine: hblab link sets eth1 down
        expect_log(CABLE_PULLED, "master's eth1 is set down while the cable is out", ["master"])
    trace = wire_trace(cluster)
    cluster.startup("master", STARTUP_TIMEOUT)
    generations = {n: wire.current_generation(trace, n) for n in NODES}
    with cluster.arp_watch() as watch:
        cluster.lab.link("master", "eth1", up=False)
        cut = time.time()
        split = wait_until(
            cluster.held_by("master", "slave"),
            cluster.deadtime + TAKEOVER_MARGIN,
            "both nodes hold the VIP",
        )
        # A split brain is each side declaring the other dead; the one that still
        # held the VIP may do so a tick later (3.0.6's 250 ms dead check). Healed
        # before that, it is no partition for that side (and no restart).
        for node in NODES:
            peer = "slave" if node == "master" else "master"
            wait_until(
                lambda n=node, p=peer: f"node {p}: is dead" in cluster.log(n),
                cluster.deadtime + TAKEOVER_MARGIN,
                f"{node} declares {peer} dead",
            )
        # Holding the VIP is not yet announcing it: 3.0.6's IPaddr sends the takeover's
        # gratuitous ARP in the background, and it can follow the address by more than
        # the time both sides take to declare the split. Heal once it is on the wire.
        at = wire.where(cluster)
        wait_until(
            lambda: _slave_announcement(trace, at, cut) is not None,
            cluster.deadtime + TAKEOVER_MARGIN,
            "slave's gratuitous ARP for the VIP after it declared master dead",
        )
        healing = time.time()
        cluster.lab.link("master", "eth1", up=True)
        healed_at = time.time()
        # A real Heartbeat node restarts itself after a partition (§4.7): give up
        # everything, sleep deadtime + 1 s, start again with a new generation. The
        # holder is judged once that is over, on the wire.
        for node in NODES:
            if cluster.impl(node) == "heartbeat":
                wire.restarted(trace, node, generations[node], 60.0, healed_at)
        # auto_failback on: the owner ends up with it, and keeps it. hbnode keeps
        # one holder and restarts nothing.
        judged = time.time()
        healed = judged - healed_at + cluster.settles_on("master", 90.0)
    windows = watch.windows()
    measure("split_brain_after_s", split, impl=impl_spec)
    measure("heal_converged_s", healed, impl=impl_spec)
    measure("split_two_macs_s", round(windows.two_holders, 3), impl=impl_spec)
    measure("heal_longest_no_mac_s", round(windows.longest_no_holder, 3), impl=impl_spec)
    assert windows.two_holders > 0, "ARP never showed two holders during the split"
    _assert_cut_on_the_wire(trace, cluster, cut, healing)
    _assert_heal_on_the_wire(trace, cluster, generations, healed_at)
    wire.assert_all_signed(trace, cluster.impl)


def _slave_announcement(
    trace: WireTrace, at: wire.Where, cut: float, heal: float | None = None
) -> tuple[HeartbeatEvent, ArpEvent] | None:
    """Slave's takeover on the wire between the cut and the heal: its message that
    master is dead (t=stonith), then its gratuitous ARP for the VIP; None until both."""
    stonith = trace.first("stonith", "slave", after=cut, before=heal, node="master")
    if stonith is None:
        return None
    arp = trace.first_gratuitous_arp(at.vip, mac=at.mac("slave"), after=stonith, before=heal)
    return None if arp is None else (stonith, arp)


def _assert_cut_on_the_wire(trace: WireTrace, cluster: Cluster, cut: float, heal: float) -> None:
    """The cut is real: nothing crossed eth1 while it lasted; master's pings to the
    ping node went unanswered (its eth1 is its only way there) while slave's were
    answered; each side took the group, so both announced the VIP."""
    at = wire.where(cluster)
    assert wire.crossing(trace, cluster, "eth1", cut, heal) == []
    requests, replies = wire.answered_pings(trace, at.ip("master"), cut, heal)
    assert replies == [], trace.render(replies)
    assert requests == [], f"master's pings left a cut cable: {trace.render(requests)}"
    requests, replies = wire.answered_pings(trace, at.ip("slave"), cut, heal)
    assert requests and replies, "slave's pings were not answered during the cut"
    assert _slave_announcement(trace, at, cut, heal) is not None, (
        "slave did not declare master dead, then announce the VIP, while the cable was out"
    )


def _newer_than(hg: int) -> Callable[[HeartbeatEvent], bool]:
    return lambda event: (event.hg or 0) > hg


def _assert_heal_on_the_wire(
    trace: WireTrace, cluster: Cluster, generations: dict[str, int], healed: float
) -> None:
    """After the heal statuses cross again, both ways. A real Heartbeat node gives
    up everything (resource rsc_hold=none info=shutdown, then shutdone) and comes
    back with a new generation; an hbnode node keeps its generation, its seq going
    on (docs/differences.md, "partition heal"). What one side asks to have sent
    again: hbnode refuses what it sent while apart (NS_nak_rexmit), the real
    Heartbeat sends it."""
    for node in NODES:
        peer = cluster.lab.topo.peer_of(node).name
        heard = trace.first("status", node, iface=f"{peer}:eth1", after=healed)
        assert heard is not None, f"{peer} never heard {node}'s status after the heal"
        if cluster.impl(node) == "heartbeat":
            trace.sequence(
                msg("resource", node, rsc_hold="none", info="shutdown"),
                msg("shutdone", node),
                msg("status", node, st="init", where=_newer_than(generations[node])),
                after=healed,
            )
        else:
            assert wire.generation(trace, node, healed, None) == {generations[node]}
            assert trace.messages("shutdone", node, after=healed) == []
    _assert_no_exchange_before_the_restart(trace, cluster, healed)
    for asked in wire.rexmits(trace, healed):
        if cluster.impl(asked.sender) == "hbnode":
            assert asked.refused is not None and asked.resent is None, str(asked)
        else:
            assert asked.resent is not None, str(asked)


def _assert_no_exchange_before_the_restart(
    trace: WireTrace, cluster: Cluster, healed: float
) -> None:
    """An hbnode node starts no standby exchange with a healed real Heartbeat (no
    ``ask_resources info=me``, no ``hb_takeover``) before that peer's restart has begun:
    the peer's own heal steps would cut it in the middle (docs/differences.md,
    "partition heal"). Answers to the peer's own requests are not counted."""
    for node in NODES:
        peer = cluster.lab.topo.peer_of(node).name
        if cluster.impl(node) != "hbnode" or cluster.impl(peer) != "heartbeat":
            continue
        gives_up = msg("resource", peer, rsc_hold="none", info="shutdown")
        restart = trace.wait_for(gives_up, RESTART_BEGINS, after=healed)
        early = trace.messages("ask_resources", node, after=healed, before=restart, info="me")
        early += trace.messages("hb_takeover", node, after=healed, before=restart)
        assert early == [], trace.render(early)


@pytest.mark.parametrize("ping", ["ping", "noping"])
def test_the_tutorial_split_brain_demo_ends_on_master(
    lab_factory: Callable[..., Cluster],
    wire_trace: Callable[[Cluster], WireTrace],
    impl_spec: str,
    ping: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    """Pull master's eth1 for a while, plug it back: with auto_failback on, master holds
    the VIP in the end and keeps it (it once went to slave for good: ipfail acted on a
    ping count measured while cut off). One lab, cuts of several lengths in turn."""
    overrides = {} if ping == "ping" else {"ping": "", "respawn": ""}
    expect_log(PARTITION_RETURN, "each cut longer than deadtime heals")
    expect_log(LATE_AFTER_HEAL, "each cut longer than deadtime heals")
    expect_log(r"Both machines own .* resources!", "both nodes hold the VIP until the heal")
    cluster = lab_factory(impl_spec, overrides)
    if not cluster.lab.pulls_carrier:  # a system engine: hblab link sets eth1 down
        expect_log(CABLE_PULLED, "master's eth1 is set down while the cable is out", ["master"])
    trace = wire_trace(cluster)
    cluster.startup("master", STARTUP_TIMEOUT)
    # hbnode heals without a restart: master within deadtime + 1 s, whatever the cut. A
    # real Heartbeat node restarts itself after a partition (give up, sleep deadtime +
    # 1 s, start again, some 20 s): one cut, and a wider limit.
    # The short cut stays short of warntime (0.75 s) with the keepalive's phase and the
    # link's own delay added: at 0.5 s the silence master saw reached 0.775 s in CI (of
    # ea96b4f and d48619b), its early isolation let go of the group and took it back
    # 0.2-0.3 s later, as designed (docs/differences.md), which this strict settle forbids.
    cuts = (0.3, 2.0, 6.0) if cluster.hbnode_only else (6.0,)
    limit = cluster.deadtime + 1.0 if cluster.hbnode_only else 90.0
    for cut in cuts:
        master_hg = wire.current_generation(trace, "master")
        cluster.lab.link("master", "eth1", up=False)
        time.sleep(cut)  # the length of the cut: the fault itself, not a wait for anything
        cluster.lab.link("master", "eth1", up=True)
        healed_at = time.time()
        # A real Heartbeat master restarts after a partition and gives the group up
        # meanwhile: the holder is judged after that restart, seen on the wire.
        if cluster.impl("master") == "heartbeat" and cut > cluster.deadtime:
            wire.restarted(trace, "master", master_hg, 60.0, healed_at)
        took = time.time() - healed_at + cluster.settles_on("master", limit)
        measure(f"heal_{ping}_{cut:g}s_master_after_s", round(took, 3), impl=impl_spec)
        if cut > cluster.deadtime:
            _assert_no_exchange_before_the_restart(trace, cluster, healed_at)
