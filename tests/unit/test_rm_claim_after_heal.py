"""A peer we declared dead and that never lost us: on its return we learn what it
holds (hbnode.rm.claims), though it has no change of its own to report.

The nemesis found the slave showing no holder for good while master held the VIP
(`view_disagrees`, 60 % loss on master's eth1, 2 Dec 2026): the slave declared master
dead on a late heartbeat, which defers the takeover, and heard it again at once.
Its view of master's claim had been forgotten with the death, and master, which never
lost the slave, had nothing new to report. With STONITH configured that view would
also skip the reset if master then died (a peer that "held nothing").
"""

from __future__ import annotations

from hbnode.config.hacf import AutoFailback
from hbnode.rm.hold import Hold
from hbnode.rm.scope import StandbyScope
from tests.harness.rm_sim import RmClusterSim

GROUP = "192.168.0.38/24/eth0:0"
HARESOURCES = f"master {GROUP} nginx\n"


def _cluster(**kwargs: object) -> RmClusterSim:
    c = RmClusterSim(
        haresources=HARESOURCES,
        auto_failback=AutoFailback.ON,
        keepalive=0.25,
        deadtime=1.5,
        initdead=3.0,
        action_time=0.05,
        **kwargs,  # type: ignore[arg-type]
    )
    c.boot("master", "slave")
    c.run(20)
    assert c.where() == {"master": {GROUP}, "slave": set()}
    return c


def _late_death_and_return(c: RmClusterSim) -> None:
    """The slave declares master dead on a status later than deadtime (the takeover
    waits) and hears it again a moment later; master never lost the slave."""
    c.call("slave", lambda rm: rm.node_dead("master", c.now, heard=True))
    c.run(0.1)
    c.call("slave", lambda rm: rm.partition_healed("master", c.now))


def _holder_seen_by(c: RmClusterSim, node: str) -> object:
    resources = c.rm(node).status()
    assert isinstance(resources, dict)
    return resources[GROUP]["holder"]


def test_the_returning_peer_is_asked_and_its_claim_is_known_again() -> None:
    c = _cluster()
    asked_from = len(c.sent)
    _late_death_and_return(c)
    c.run(3)
    assert c.rm("slave").s.peers["master"].hold == Hold.LOCAL
    assert _holder_seen_by(c, "slave") == "master"
    reports = [
        m for t, src, m in c.sent[asked_from:] if src == "slave" and m.get("t") == "resource"
    ]
    # asked once (unsettled), then said settled again once the answer came
    assert [r.get("isstable") for r in reports] == ["0", "1"]
    assert c.where() == {"master": {GROUP}, "slave": set()}


def test_a_lost_answer_is_asked_for_again() -> None:
    c = _cluster()
    c.deaf.add(("slave", "master"))  # master's answer to the first ask is lost
    _late_death_and_return(c)
    c.run(0.8)  # shorter than deadtime: no death from this silence
    c.deaf.clear()
    assert c.rm("slave").s.peers["master"].hold == Hold.NONE
    c.run(2)
    assert _holder_seen_by(c, "slave") == "master"


def test_a_real_heartbeat_peer_is_not_asked() -> None:
    """It does not heal in place: it restarts, and reports what it holds after."""
    c = _cluster(heartbeat_like=["master"])
    asked_from = len(c.sent)
    _late_death_and_return(c)
    c.run(3)
    unsettled = [
        m
        for _, src, m in c.sent[asked_from:]
        if src == "slave" and m.get("t") == "resource" and m.get("isstable") == "0"
    ]
    assert unsettled == []


def test_with_stonith_a_holder_that_then_dies_is_reset_before_the_takeover() -> None:
    c = _cluster(stonith=True, stonith_delay=0.0)
    _late_death_and_return(c)
    c.run(3)
    c.kill9("master")  # its VIP and nginx keep running on the machine
    c.run(10)
    assert [(by, whom) for _, by, whom, _ in c.fenced] == [("slave", "master")]
    assert c.doubles == []
    assert c.where() == {"master": set(), "slave": {GROUP}}


def test_a_report_filled_in_late_does_not_undo_a_newer_claim() -> None:
    """The nemesis's second `view_disagrees` on that schedule: master gave its group
    to the slave (ipfail) and took it back; the report of its giving up, lost and then
    retransmitted, reached the slave after the report of its taking back, and the
    slave saw master hold nothing for good."""
    c = _cluster()
    c.call("master", lambda rm: rm.standby(StandbyScope.ALL, c.now))
    c.run(3)
    gave_up = [m for _, src, m in c.sent if src == "master" and m.get("t") == "resource"][-1]
    assert Hold.parse(gave_up.get("rsc_hold")) == Hold.NONE
    c.call("slave", lambda rm: rm.standby(StandbyScope.FOREIGN, c.now))
    c.run(3)
    assert _holder_seen_by(c, "slave") == "master"
    c.deliver_late("slave", gave_up.copy())
    c.run(1)
    assert c.rm("slave").s.peers["master"].hold == Hold.LOCAL
    assert _holder_seen_by(c, "slave") == "master"


def test_a_restarted_peer_numbers_its_reports_afresh() -> None:
    """A new generation starts its seqs again: its first report is not stale."""
    c = _cluster()
    c.crash("master")
    c.run(5)
    c.boot("master")
    c.run(20)
    assert c.where() == {"master": {GROUP}, "slave": set()}
    assert _holder_seen_by(c, "slave") == "master"
