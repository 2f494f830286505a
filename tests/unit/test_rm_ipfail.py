"""The built-in ipfail policy (protocol.md §4.6): fewer ping nodes → hand over."""

from __future__ import annotations

from hbnode.config.hacf import AutoFailback
from hbnode.message import Message
from hbnode.rm import messages as m
from tests.harness.rm_sim import MASTER_KEY, SLAVE_KEY, RmClusterSim, fields

BOTH = {MASTER_KEY, SLAVE_KEY}
HOME = {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
PING = "10.0.0.254"


def started(**kwargs: object) -> RmClusterSim:
    c = RmClusterSim(ping_nodes=[PING], **kwargs)  # type: ignore[arg-type]
    c.boot("master", "slave")
    c.run(12)
    assert c.where() == HOME
    return c


def test_signon_and_count_exchange_at_start() -> None:
    c = started()
    joins = c.messages(kind="hbapi-clstat")
    assert [fields(m) for m in joins if m.get("src") == "master"] == [
        [
            ("t", "hbapi-clstat"),
            ("st", "join"),
            ("from_id", "ipfail"),
            ("to_id", "ipfail"),
            ("src", "master"),
            ("info", "signon"),
            ("client_gen", "0"),
        ]
    ]
    counts = c.messages("master", "num_ping_nodes")
    assert [fields(m) for m in counts] == [
        [
            ("t", "num_ping_nodes"),
            ("src", "master"),
            ("num_ping", "1"),
            ("dest", "slave"),
            ("from_id", "ipfail"),
            ("to_id", "ipfail"),
            ("client_gen", "0"),
        ]
    ]
    assert [m.get("dest") for m in c.messages("slave", "abort_giveup")] == ["master"]


def test_the_side_that_loses_its_ping_node_gives_everything_up() -> None:
    c = started()
    c.ping_cut.add("master")
    c.run(10.05)  # deadping = deadtime = 10 s, and the messages' way there and back
    assert c.messages("master", "num_ping_nodes")[-1].get("num_ping") == "0"
    assert [m.get("dest") for m in c.messages("slave", "you_are_dead")] == ["master"]
    assert c.where() == HOME  # 2×keepalive before giving up
    c.run(5)
    asks = [
        (m.get("src"), m.get("rsc_hold"), m.get("info"), m.get("from_id"))
        for m in c.messages(kind="ask_resources")
    ]
    assert asks[0] == ("master", "all", "me", "ipfail")
    assert c.where() == {"master": set(), "slave": BOTH}
    assert c.holdings() == {"master": "none", "slave": "all"}
    # The ping node comes back: equal counts, and with auto_failback on the holder
    # gives the owner's group back after 2×keepalive.
    c.ping_cut.clear()
    c.run(0.3)
    assert c.messages("slave", "abort_giveup")[-1].get("dest") == "master"
    c.run(5)
    assert c.where() == HOME
    assert c.doubles == []


def test_receiver_seeing_fewer_gives_up_after_two_keepalives() -> None:
    c = started(auto_failback=AutoFailback.OFF)
    c.ping_cut.add("slave")
    c.run(10.3)
    # The slave told the master 0; the master sees 1 and says so.
    assert [m.get("dest") for m in c.messages("master", "you_are_dead")] == ["slave"]
    c.run(5)
    assert c.where() == {"master": BOTH, "slave": set()}
    c.ping_cut.clear()
    c.run(5)
    # auto_failback off: nothing moves back.
    assert c.where() == {"master": BOTH, "slave": set()}


def test_abort_giveup_cancels_a_pending_give_up() -> None:
    c = started()
    master = c.rm("master")
    # A peer claims 2 ping nodes: we see fewer and plan to give up …
    claim = m.num_ping_nodes("slave", "master", 2)
    master.receive(claim, c.now)
    assert master.get_timer() == c.now + 2.0
    # … until it aborts.
    master.receive(m.ipfail_verdict(m.T.ABORT_GIVEUP, "slave", "master"), c.now)
    assert master.get_timer() is None
    c.run(5)
    assert c.where() == HOME


def test_policy_off_sends_nothing_and_legacy_never_runs_it() -> None:
    c = started()
    c.call("master", lambda rm: rm.set_ipfail(False, c.now))
    assert fields(c.messages("master", "hbapi-clstat")[-1])[1] == ("st", "leave")
    before = len(c.messages("master", "num_ping_nodes"))
    c.ping_cut.add("master")
    c.run(15)
    assert len(c.messages("master", "num_ping_nodes")) == before
    assert c.where() == HOME
    legacy = RmClusterSim(ping_nodes=[PING], auto_failback=AutoFailback.LEGACY)
    legacy.boot("master", "slave")
    legacy.run(12)
    assert legacy.messages(kind="num_ping_nodes") == []
    assert legacy.messages(kind="hbapi-clstat") == []


def test_bad_count_from_a_peer_is_ignored() -> None:
    c = started()
    bad = Message.of(
        ("t", "num_ping_nodes"), ("src", "slave"), ("num_ping", "many"), ("dest", "master")
    )
    c.rm("master").receive(bad, c.now)
    assert c.rm("master").get_timer() is None


def test_a_verdict_on_an_old_count_is_dropped_when_the_peer_told_no_more() -> None:
    """The heal race (lesson 05, partition-heal.yaml): master's ping node is down at the
    heal, so it tells 0 and hears slave's 1; its ping node is back a moment later and it
    tells 1. Slave's ``you_are_dead`` answering the 0 arrives after that: it must not
    make master give everything away, since slave told it sees no more than master."""
    c = started()
    master = c.rm("master")
    master.ping_status(PING, False, c.now)  # master tells 0
    master.receive(m.num_ping_nodes("slave", "master", 1), c.now)  # slave sees 1
    master.ping_status(PING, True, c.now + 0.1)  # back: master tells 1
    late = m.ipfail_verdict(m.T.YOU_ARE_DEAD, "slave", "master")  # the answer to the 0
    master.receive(late, c.now + 0.2)
    c.run(5)
    assert c.where() == HOME
    assert c.messages("master", "ask_resources") == []
