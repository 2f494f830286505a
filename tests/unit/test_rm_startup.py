"""Start-up negotiation (protocol.md §4.2-4.3): nice_failback and legacy, together and late."""

from __future__ import annotations

import pytest

from hbnode.config.hacf import AutoFailback
from tests.harness.rm_sim import MASTER_KEY, SLAVE_KEY, RmClusterSim, fields

BOTH = {MASTER_KEY, SLAVE_KEY}


def test_two_hbnode_nodes_starting_together_negotiate_at_once() -> None:
    """Each says it is starting too (hbnode_quickstart): no stable answer can come, so
    neither waits Heartbeat's RQSTDELAY; each takes its own group."""
    c = RmClusterSim()
    c.boot("master", "slave")
    c.run(0.5)
    first = c.messages("master", "resource")[0]
    assert first.get("hbnode_quickstart") == "1" and first.get("isstable") == "0"
    c.run(1.0)  # the acquisition (action_time 0.5 s)
    assert c.holdings() == {"master": "local", "slave": "local"}
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    assert "slave is starting too: negotiated at once" in c.texts("master")
    assert "local resource transition completed." in c.texts("master")
    assert c.doubles == []


@pytest.mark.parametrize("gap", [0.0, 0.005, 0.01, 0.3])
def test_starting_within_moments_of_each_other(gap: float) -> None:
    """Both hbnode daemons started together, or nearly: each takes its own group at
    once, nobody takes the other's, whoever's report arrives first."""
    c = RmClusterSim()
    c.boot("master")
    c.run(gap)
    c.boot("slave")
    c.run(1.5)
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    assert c.doubles == []
    c.run(20)  # and it lasts
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}


def test_a_node_that_restarts_during_the_negotiation() -> None:
    """The slave's daemon dies and comes back while both are still negotiating: the
    master's negotiation completes with the new incarnation, nothing is held twice."""
    c = RmClusterSim(heartbeat_like=["master", "slave"])  # a negotiation that lasts
    c.boot("master", "slave")
    c.run(3.0)  # RQSTDELAY is running on both
    c.crash("slave")
    c.run(0.5)
    c.boot("slave")
    c.run(30)
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    assert c.doubles == []


@pytest.mark.parametrize("heartbeat", ["master", "slave"])
def test_a_heartbeat_peer_starting_together_waits_rqstdelay(heartbeat: str) -> None:
    """A real Heartbeat never says hbnode_quickstart: the mixed cluster waits as it does."""
    c = RmClusterSim(heartbeat_like=[heartbeat])
    c.boot("master", "slave")
    c.run(0.5)
    assert c.holdings() == {"master": "none", "slave": "none"}
    c.run(9.0)  # RQSTDELAY (10 s) has not passed: nobody acts
    assert c.where() == {"master": set(), "slave": set()}
    c.run(1.5)
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    assert c.doubles == []


def test_nice_simultaneous_start_waits_rqstdelay_then_each_takes_its_own() -> None:
    c = RmClusterSim(heartbeat_like=["master", "slave"])
    c.boot("master", "slave")
    c.run(0.5)
    assert c.holdings() == {"master": "none", "slave": "none"}
    assert c.rm("master").rscstatus() == "transition"
    assert [fields(m)[:4] for m in c.messages("master", "resource")] == [
        [("t", "resource"), ("rsc_hold", "none"), ("rtype", "full"), ("isstable", "0")]
    ] * 2
    c.run(9.0)  # RQSTDELAY (10 s) has not passed: nobody acts
    assert c.where() == {"master": set(), "slave": set()}
    c.run(1.5)
    assert c.holdings() == {"master": "local", "slave": "local"}
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    assert c.rm("slave").rscstatus() == "local"
    assert "local resource transition completed." in c.texts("master")
    assert "Initial resource acquisition complete (T_RESOURCES(us))" in c.texts("master")
    last = c.messages("master", "resource")[-1]
    assert last.get("info") == "req_our_resources()" and last.get("isstable") == "1"
    assert c.doubles == []


def test_nice_start_alone_takes_everything_without_waiting() -> None:
    c = RmClusterSim()
    c.boot("master")
    c.run(9.9)  # initdead: the slave is not declared dead yet, comm is not up
    assert c.holdings() == {"master": "none", "slave": "down"}
    c.run(1.5)
    assert c.holdings() == {"master": "all", "slave": "down"}
    assert c.where()["master"] == BOTH
    assert "mach_down takeover complete for node slave." in c.texts("master")
    assert c.rm("master").status() == {
        MASTER_KEY: {"owner": "master", "state": "held", "holder": "master"},
        SLAVE_KEY: {"owner": "slave", "state": "held", "holder": "master"},
    }


@pytest.mark.parametrize("auto_failback", [AutoFailback.ON, AutoFailback.OFF])
def test_late_peer_asks_and_the_stable_side_answers(auto_failback: AutoFailback) -> None:
    c = RmClusterSim(auto_failback=auto_failback)
    c.boot("master")
    c.run(20)
    assert c.where() == {"master": BOTH, "slave": set()}
    c.boot("slave")
    c.run(0.05)
    # The stable side answers `starting` at once: the slave need not wait RQSTDELAY.
    assert "remote resource transition completed." in c.texts("slave")
    assert "Local Resource acquisition completed. (none)" in c.texts("slave")
    c.run(5)
    if auto_failback is AutoFailback.ON:
        # The holder gives the returning owner its group back: standby foreign (§4.4).
        assert c.holdings() == {"master": "local", "slave": "local"}
        assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
        asks = [(m.get("src"), m.get("info")) for m in c.messages(kind="ask_resources")]
        assert asks == [("master", "me"), ("slave", "other"), ("master", "done"), ("slave", "done")]
    else:
        assert c.holdings() == {"master": "all", "slave": "none"}
        assert c.where() == {"master": BOTH, "slave": set()}
        assert c.messages(kind="ask_resources") == []
    assert c.doubles == []


def test_slave_late_with_groups_only_on_master() -> None:
    c = RmClusterSim(haresources=f"master {MASTER_KEY}\n")
    c.boot("master", "slave")
    c.run(11)
    # A node without local groups still claims its (empty) local set, as in the capture.
    assert c.holdings() == {"master": "local", "slave": "local"}
    assert c.where() == {"master": {MASTER_KEY}, "slave": set()}


def test_legacy_simultaneous_start_asks_with_ip_request() -> None:
    c = RmClusterSim(auto_failback=AutoFailback.LEGACY)
    c.boot("master", "slave")
    c.run(0.1)
    requests = [(m.get("src"), m.get("ipaddr")) for m in c.messages(kind="ip-request")]
    assert sorted(requests) == [("master", MASTER_KEY), ("slave", SLAVE_KEY)]
    answers = c.messages(kind="ip-request-resp")
    assert {(m.get("src"), m.get("dest"), m.get("weown")) for m in answers} == {
        ("master", "slave", "no"),
        ("slave", "master", "no"),
    }
    c.run(1)
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    assert c.messages(kind="starting") == [] and c.messages(kind="resource") == []


def test_legacy_alone_answers_itself_then_fails_back_on_request() -> None:
    c = RmClusterSim(auto_failback=AutoFailback.LEGACY)
    c.boot("slave")
    c.run(11)
    own = c.messages("slave", "ip-request-resp")
    assert [fields(m) for m in own] == [
        [
            ("t", "ip-request-resp"),
            ("dest", "slave"),
            ("ipaddr", SLAVE_KEY),
            ("weown", "yes"),
            ("ok", "OK"),
            ("src", "slave"),
        ]
    ]
    assert c.where() == {"master": set(), "slave": BOTH}
    c.boot("master")
    c.run(0.05)
    # The returning owner asks; the holder releases first, then answers weown=yes.
    assert [m.get("ipaddr") for m in c.messages("master", "ip-request")] == [MASTER_KEY]
    assert c.messages("slave", "ip-request-resp")[-1].get("dest") == "slave"
    c.run(0.6)
    answer = c.messages("slave", "ip-request-resp")[-1]
    assert (answer.get("dest"), answer.get("weown")) == ("master", "yes")
    c.run(1)
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    assert c.doubles == []


def test_legacy_refuses_standby_and_takeover() -> None:
    c = RmClusterSim(auto_failback=AutoFailback.LEGACY)
    c.boot("master", "slave")
    c.run(2)
    expected = "Standby mode only implemented when nice_failback on"
    assert c.call("master", lambda rm: rm.standby("all", c.now)) == expected
    assert c.call("master", lambda rm: rm.takeover("all", c.now)) == expected
