"""STONITH before takeover (hbnode.rm.fencing), in virtual time: Heartbeat's R1 rules,
the fence-race delay, retries, and no reset of a peer never heard since start-up."""

from __future__ import annotations

from hbnode.rm.actions import ActionKind
from hbnode.rm.fencing import FenceResult
from tests.harness.rm_sim import MASTER_KEY, SLAVE_KEY, RmClusterSim

ONE_GROUP = "master 192.168.0.38/24/eth0:0 nginx\n"


def started(**kwargs: object) -> RmClusterSim:
    c = RmClusterSim(stonith=True, haresources=ONE_GROUP, **kwargs)  # type: ignore[arg-type]
    c.boot("master", "slave")
    c.run(12)
    assert c.where() == {"master": {MASTER_KEY}, "slave": set()}
    return c


def results(c: RmClusterSim, sender: str) -> list[tuple[str | None, str | None]]:
    return [(m.get("node"), m.get("result")) for m in c.messages(sender, "stonith")]


def test_a_dead_holder_is_reset_before_its_group_is_taken() -> None:
    c = started()
    c.kill9("master")  # its VIP and nginx keep running
    c.run(10.25)  # deadtime 10 s, the dead check every 0.25 s
    assert c.steps("slave")[-1] == "fence_delay"  # slave holds nothing: it waits 5 s
    assert c.fenced == [] and c.where()["slave"] == set()
    c.run(5)
    assert "Resetting node master with [external/ipmi]" in c.texts("slave")
    assert c.where() == {"master": {MASTER_KEY}, "slave": set()}  # reset not done yet
    c.run(0.5)  # the reset (action_time)
    assert [(by, whom, r) for _, by, whom, r in c.fenced] == [("slave", "master", "OK")]
    assert results(c, "slave") == [("master", "OK")]
    assert "node master now reset." in c.texts("slave")
    c.run(1)
    assert c.where() == {"master": set(), "slave": {MASTER_KEY}}
    assert c.doubles == []  # the group never ran twice
    steps = c.steps("slave")
    assert steps.index("fenced") < steps.index("takeover_started")


def test_a_failed_reset_means_no_takeover_and_is_retried() -> None:
    c = started(stonith_retry=5.0)
    c.bmc_down.add("master")
    c.kill9("master")
    c.run(10.25 + 5 + 0.5)
    assert results(c, "slave") == [("master", "bad")]
    texts = c.texts("slave")
    assert "Host master not reset!" in texts
    assert "STONITH of master failed.  Retrying..." in texts
    c.run(11)  # two more tries, 5 s apart
    assert results(c, "slave") == [("master", "bad")] * 3
    assert c.where() == {"master": {MASTER_KEY}, "slave": set()}  # no takeover meanwhile
    c.bmc_down.clear()  # the BMC's cable is back
    c.run(6)
    assert results(c, "slave")[-1] == ("master", "OK")
    c.run(1)
    assert c.where() == {"master": set(), "slave": {MASTER_KEY}}
    assert c.doubles == []


def test_fence_race_the_holder_resets_first_and_keeps_the_group() -> None:
    c = started()
    c.partition()  # both lose the heartbeat link at once
    c.run(10.25)
    assert c.steps("master")[-1] == "fence_started"  # the holder: at once
    assert c.steps("slave")[-1] == "fence_delay"
    c.run(0.5)
    assert [(by, whom) for _, by, whom, _ in c.fenced] == [("master", "slave")]
    c.run(10)
    assert [(by, whom) for _, by, whom, _ in c.fenced] == [("master", "slave")]  # only one
    assert c.where() == {"master": {MASTER_KEY}, "slave": set()}
    assert c.doubles == []


def test_fence_race_with_a_group_each_the_first_node_goes_first() -> None:
    c = RmClusterSim(stonith=True)
    c.boot("master", "slave")
    c.run(12)
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    c.partition()
    c.run(10.75)
    assert [(by, whom) for _, by, whom, _ in c.fenced] == [("master", "slave")]
    c.run(10)
    assert c.where() == {"master": {MASTER_KEY, SLAVE_KEY}, "slave": set()}
    assert c.doubles == []


def test_a_reset_still_waiting_is_called_off_when_the_peer_speaks() -> None:
    c = started()
    c.bmc_down.update({"master", "slave"})  # master's first reset fails: it waits to retry
    c.partition()
    c.run(11)
    assert results(c, "master") == [("slave", "bad")]
    c.heal()  # the cut ends before either reset could land
    c.run(2)
    assert "STONITH of slave called off: it is alive" in c.texts("master")
    assert "STONITH of master called off: it is alive" in c.texts("slave")
    c.run(20)
    assert len(c.fenced) == 1  # no reset after that
    assert c.where() == {"master": {MASTER_KEY}, "slave": set()}


def test_no_delay_when_zero() -> None:
    c = started(stonith_delay=0.0)
    c.kill9("master")
    c.run(10.25)
    assert c.steps("slave")[-1] == "fence_started"


def test_a_peer_claiming_its_local_set_is_reset_even_with_no_group_in_it() -> None:
    # hb_rsc_recover_dead_resources asks what the peer *claimed*: slave took "local"
    # at start-up (a set with no group in it here), so it may hold something.
    c = started()
    c.kill9("slave")
    c.run(11)
    assert [(by, whom) for _, by, whom, _ in c.fenced] == [("master", "slave")]
    assert results(c, "master") == [("slave", "OK")]


def test_a_peer_that_shut_down_needs_no_reset() -> None:
    c = started()
    c.stop("slave")
    c.run(12)
    assert c.fenced == []
    assert results(c, "master") == [("slave", "unneeded")]


def test_a_peer_never_heard_since_start_up_is_neither_reset_nor_taken_over() -> None:
    c = RmClusterSim(stonith=True, haresources=ONE_GROUP)
    c.boot("slave")  # master is cut off (or off): slave hears nothing by initdead
    c.run(20)
    assert c.fenced == []
    assert c.where() == {"master": set(), "slave": set()}
    assert c.steps("slave")[-1] == "fence_wait"
    c.boot("master")  # master comes: the usual start-up, master takes its group
    c.run(15)
    assert c.where() == {"master": {MASTER_KEY}, "slave": set()}
    assert c.fenced == [] and c.doubles == []


def test_without_stonith_heartbeat_says_so() -> None:
    c = RmClusterSim(haresources=ONE_GROUP)
    c.boot("master", "slave")
    c.run(12)
    c.kill9("master")
    c.run(11)
    assert "No STONITH device configured." in c.texts("slave")
    assert FenceResult.OK not in [r for *_, r in c.fenced]


def test_a_peer_that_restarts_while_its_reset_waits_leaves_our_group_to_us() -> None:
    # CI of 38be7fc: slave held master's group, and a reset queued before master's own
    # reboot reached slave's BMC late. Master, holding nothing, waited its fence-race
    # delay; slave was back, with a new generation, before it ended. The reset was called
    # off, and with it the takeover: nobody took master's group, for good.
    c = started()
    c.call("master", lambda rm: rm.standby("all", c.now))
    c.run(5)
    assert c.where() == {"master": set(), "slave": {MASTER_KEY}}
    c.crash("slave")  # reset: its VIP and nginx are gone with it
    c.run(10.25)
    assert c.steps("master")[-1] == "fence_delay"  # master holds nothing: it waits
    c.boot("slave")  # back before the delay ends
    c.run(1)
    assert "STONITH of slave called off: it is alive" in c.texts("master")
    c.run(20)
    assert c.fenced == []
    assert c.where() == {"master": {MASTER_KEY}, "slave": set()}
    assert c.doubles == []


def test_a_peer_reset_while_acquiring_what_we_gave_leaves_our_group_to_us() -> None:
    # The same, with slave reset in the middle of the standby exchange: master has let
    # go of its group and slave has not yet reported taking it. Its claim at death
    # covers nothing of ours, yet the takeover its death called for would take ours.
    c = started()
    c.call("master", lambda rm: rm.standby("all", c.now))
    for _ in range(100):  # until slave starts master's group
        c.run(0.05)
        if any(a.kind is ActionKind.ACQUIRE for a in c.actions["slave"]):
            break
    assert c.where()["master"] == set()
    c.crash("slave")
    c.run(10.25)
    assert c.steps("master")[-1] == "fence_delay"
    c.boot("slave")
    c.run(21)
    assert "STONITH of slave called off: it is alive" in c.texts("master")
    assert c.fenced == []
    assert c.where() == {"master": {MASTER_KEY}, "slave": set()}
    assert c.doubles == []
