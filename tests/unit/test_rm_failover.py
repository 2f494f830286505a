"""Takeover on death, orderly shutdown, auto_failback, failed starts and stops (§4.3-4.4)."""

from __future__ import annotations

import pytest

from hbnode.config.hacf import AutoFailback
from tests.harness.rm_sim import MASTER_KEY, SLAVE_KEY, RmClusterSim, fields

BOTH = {MASTER_KEY, SLAVE_KEY}


def started(**kwargs: object) -> RmClusterSim:
    c = RmClusterSim(**kwargs)  # type: ignore[arg-type]
    c.boot("master", "slave")
    c.run(12)
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    return c


def test_takeover_after_deadtime() -> None:
    c = started()
    c.crash("master")
    c.run(9.5)  # deadtime is 10 s
    assert c.where() == {"master": set(), "slave": {SLAVE_KEY}}
    c.run(0.5)
    assert c.holdings()["slave"] == "all"
    assert "No STONITH device configured." in c.texts("slave")
    assert [fields(m)[:3] for m in c.messages("slave", "stonith")] == [
        [("t", "stonith"), ("node", "master"), ("result", "n_stnth")]
    ]
    c.run(1)
    assert c.where() == {"master": set(), "slave": BOTH}
    mach_down = c.messages("slave", "resource")[-1]
    assert fields(mach_down) == [
        ("t", "resource"),
        ("rsc_hold", "foreign"),
        ("info", "mach_down"),
        ("src", "slave"),
    ]
    assert c.rm("slave").status()[MASTER_KEY] == {
        "owner": "master",
        "state": "held",
        "holder": "slave",
    }
    steps = c.steps("slave")
    assert steps.index("takeover_started") < steps.index("handover_done")


def test_shutdown_hands_over_without_waiting_for_deadtime() -> None:
    c = started()
    c.stop("master")
    sent = [fields(m)[:5] for m in c.messages("master")][-1:]
    assert sent == [
        [
            ("t", "resource"),
            ("rsc_hold", "none"),
            ("rtype", "full"),
            ("isstable", "0"),
            ("info", "shutdown"),
        ]
    ]
    assert c.holdings()["master"] == "none"
    assert not c.rm("master").shutdown_done()  # still stopping nginx
    c.run(0.6)
    assert c.messages("master", "shutdone")[0].get("st") == "dead"
    c.run(1)
    assert c.holdings() == {"master": "down", "slave": "all"}
    assert c.where() == {"master": set(), "slave": BOTH}
    assert c.doubles == []
    # Later the node is declared dead: it gave up its resources, nothing more to do.
    c.run(10)
    assert c.messages("slave", "stonith")[-1].get("result") == "unneeded"
    assert c.where() == {"master": set(), "slave": BOTH}


def test_shutdown_of_both_nodes_takes_nothing_over() -> None:
    c = started()
    c.stop("master")
    c.stop("slave")
    c.run(3)
    assert c.holdings() == {"master": "down", "slave": "down"}
    assert c.where() == {"master": set(), "slave": set()}


def test_shutdown_while_acquiring_waits_for_the_start_to_finish() -> None:
    c = RmClusterSim()
    c.boot("master")
    c.run(10.1)  # comm up alone; the two starts are running
    c.stop("master")
    assert "Shutdown delayed until current resource activity finishes." in c.texts("master")
    c.run(5)
    assert c.where()["master"] == set()
    assert c.sims["master"].rm is None  # exited after shutdone


@pytest.mark.parametrize("auto_failback", [AutoFailback.ON, AutoFailback.OFF])
def test_owner_returns(auto_failback: AutoFailback) -> None:
    c = started(auto_failback=auto_failback)
    c.crash("master")
    c.run(12)
    assert c.where()["slave"] == BOTH
    c.boot("master")
    c.run(5)
    if auto_failback is AutoFailback.ON:
        assert c.holdings() == {"master": "local", "slave": "local"}
        assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    else:
        assert c.holdings() == {"master": "none", "slave": "all"}
        assert c.where() == {"master": set(), "slave": BOTH}
    assert c.doubles == []


def test_restart_faster_than_deadtime_gets_its_groups_back() -> None:
    c = started()
    c.crash("master")
    c.run(2)
    c.boot("master")  # a new generation before the slave declared it dead
    c.run(5)
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}


def test_failed_start_stops_the_group_and_hands_it_to_the_peer() -> None:
    c = RmClusterSim()
    c.fail_next("master", "acquire", MASTER_KEY)
    c.boot("master", "slave")
    c.run(10.6)
    assert "Giving up resources due to failure of " + MASTER_KEY in c.texts("master")
    kinds = [(a.kind, a.reason) for a in c.actions["master"]]
    assert kinds[:2] == [("acquire", "initial"), ("release", "acquire_failed")]
    c.run(3)
    # Stopped (what started is stopped again), then the standby protocol gives the
    # local set to the slave, which starts it.
    assert c.rm("master").status()[MASTER_KEY]["state"] == "failed"
    assert c.where() == {"master": set(), "slave": BOTH}
    assert c.holdings() == {"master": "none", "slave": "all"}
    asks = [
        (m.get("src"), m.get("rsc_hold"), m.get("info")) for m in c.messages(kind="ask_resources")
    ]
    assert asks[0] == ("master", "local", "me")


def test_failed_start_alone_stays_failed() -> None:
    c = RmClusterSim()
    c.fail_next("master", "acquire", SLAVE_KEY)
    c.boot("master")
    c.run(13)
    assert c.where()["master"] == {MASTER_KEY}
    assert c.rm("master").status()[SLAVE_KEY]["state"] == "failed"
    assert "Resource group " + SLAVE_KEY + " failed and nobody can take it over" in c.texts(
        "master"
    )


def test_failed_stop_is_retried_until_it_works() -> None:
    c = started()
    c.fail_next("master", "release", MASTER_KEY, times=3)
    c.stop("master")
    c.run(0.6)
    assert c.rm("master").status()[MASTER_KEY]["state"] == "releasing"
    assert c.messages("master", "shutdone") == []
    c.run(6)
    releases = [a for a in c.actions["master"] if a.kind == "release"]
    assert len(releases) == 4
    assert c.messages("master", "shutdone") != []
    c.run(2)
    assert c.where() == {"master": set(), "slave": BOTH}
    assert c.doubles == []


def test_a_late_message_from_a_dead_node_changes_nothing() -> None:
    from hbnode.message import Message

    c = started()
    c.crash("master")
    c.run(12)
    assert c.where()["slave"] == BOTH
    stale = Message.of(
        ("t", "resource"),
        ("rsc_hold", "all"),
        ("rtype", "full"),
        ("isstable", "1"),
        ("src", "master"),
    )
    c.call("slave", lambda rm: rm.receive(stale, c.now))
    c.run(2)
    assert c.where()["slave"] == BOTH
    assert not [a for a in c.actions["slave"] if a.reason == "partition"]
