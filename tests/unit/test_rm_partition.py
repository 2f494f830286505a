"""Split brain, hbnode's isolation policy, and the partition heal (protocol.md §4.7)."""

from __future__ import annotations

import pytest

from hbnode.config.hacf import AutoFailback
from tests.harness.rm_sim import MASTER_KEY, SLAVE_KEY, RmClusterSim

BOTH = {MASTER_KEY, SLAVE_KEY}
HOME = {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
PING = "10.0.0.254"


def started(**kwargs: object) -> RmClusterSim:
    c = RmClusterSim(**kwargs)  # type: ignore[arg-type]
    c.boot("master", "slave")
    c.run(12)
    assert c.where() == HOME
    return c


def cut_master_off(c: RmClusterSim) -> None:
    """Pull the master's only cable: no peer, no ping node."""
    c.partition()
    c.ping_cut.add("master")


def test_without_isolation_both_take_over_like_heartbeat() -> None:
    c = started(ping_nodes=[PING], isolation=False)
    cut_master_off(c)
    c.run(12)
    assert c.where() == {"master": BOTH, "slave": BOTH}
    assert c.holdings() == {"master": "all", "slave": "all"}
    assert c.doubles != []


def test_isolated_side_releases_and_the_other_takes_over() -> None:
    c = started(ping_nodes=[PING], isolation=True)
    cut_master_off(c)
    c.run(10.1)  # both declared dead; the master is waiting to see its ping node die
    assert (
        "Isolation check: taking over from slave in 1.25 s unless every ping node is"
        " dead by then" in c.texts("master")
    )
    c.run(0.5)
    assert c.where()["master"] == set()  # isolated: it let go of its own group too
    assert "isolation_release" in c.steps("master")
    c.run(3)
    assert c.where() == {"master": set(), "slave": BOTH}
    assert c.holdings() == {"master": "none", "slave": "all"}
    assert c.doubles == []
    c.run(30)  # stays so while the cut lasts
    assert c.where() == {"master": set(), "slave": BOTH}


@pytest.mark.parametrize("auto_failback", [AutoFailback.ON, AutoFailback.OFF])
def test_isolated_side_gets_its_group_back_on_heal(auto_failback: AutoFailback) -> None:
    c = started(ping_nodes=[PING], isolation=True, auto_failback=auto_failback)
    cut_master_off(c)
    c.run(15)
    c.heal()
    c.ping_cut.clear()
    c.run(6)
    if auto_failback is AutoFailback.ON:
        assert c.where() == HOME
    else:
        assert c.where() == {"master": set(), "slave": BOTH}
    assert c.doubles == []


def test_ping_nodes_die_first_then_the_peer() -> None:
    """The router dies, then the peer: we cannot tell that from our own cut; keep out."""
    c = started(ping_nodes=[PING], isolation=True)
    c.ping_cut.add("master")
    c.ping_cut.add("slave")
    c.run(11)
    assert c.where() == HOME  # ping nodes dead but the peer alive: not isolated
    c.crash("slave")
    c.run(12)
    assert c.where()["master"] == set()
    # The router comes back: the master is no longer isolated and, once the peer has
    # had two keepalives to speak up, takes everything.
    c.ping_cut.clear()
    c.run(4)
    assert c.where()["master"] == BOTH


def test_isolated_at_start_takes_nothing() -> None:
    c = RmClusterSim(ping_nodes=[PING], isolation=True)
    c.partition()
    c.ping_cut.add("master")
    c.boot("master", "slave")
    c.run(12)
    assert c.where() == {"master": set(), "slave": BOTH}
    assert c.doubles == []
    # The cable is back: with auto_failback on the master gets its group back.
    c.heal()
    c.ping_cut.clear()
    c.run(5)
    assert c.where() == HOME
    assert c.doubles == []


def test_short_deadping_needs_no_grace() -> None:
    c = started(ping_nodes=[PING], isolation=True, deadping=5.0)
    c.crash("master")
    c.run(10.1)
    # Ping nodes would have died 5 s before the peer: no waiting, take over at once.
    assert not any("Isolation check" in t for t in c.texts("slave"))
    assert "takeover_started" in c.steps("slave")


def test_peer_shutdown_is_not_isolation() -> None:
    c = started(ping_nodes=[PING], isolation=True)
    c.ping_cut.add("master")
    c.ping_cut.add("slave")
    c.run(11)
    c.stop("slave")
    c.run(15)
    assert c.where() == {"master": BOTH, "slave": set()}


@pytest.mark.parametrize("auto_failback", [AutoFailback.ON, AutoFailback.OFF])
def test_heal_after_split_brain_keeps_each_group_on_one_node(
    auto_failback: AutoFailback,
) -> None:
    c = started(auto_failback=auto_failback)
    c.partition()
    c.run(12)
    assert c.where() == {"master": BOTH, "slave": BOTH}
    c.doubles.clear()
    c.heal()
    c.run(0.3)
    # Each keeps the group it held before the split and re-announces it; the other
    # stops its copy at once. No restart, no moment without a holder.
    announces = {(n, a.group) for n in c.actions for a in c.actions[n] if a.kind == "announce"}
    assert announces == {("master", MASTER_KEY), ("slave", SLAVE_KEY)}
    c.run(3)
    assert c.where() == HOME
    assert c.holdings() == {"master": "local", "slave": "local"}
    assert all(when < c.now - 2 for when, _, _ in c.doubles)
    partition_releases = [
        (n, a.group) for n in c.actions for a in c.actions[n] if a.kind == "release"
    ]
    assert sorted(partition_releases) == [("master", SLAVE_KEY), ("slave", MASTER_KEY)]


@pytest.mark.parametrize(
    ("auto_failback", "where"),
    [
        (AutoFailback.ON, HOME),  # the haresources owner keeps it
        (AutoFailback.OFF, {"master": set(), "slave": BOTH}),  # the longest holder keeps it
    ],
)
def test_heal_picks_the_keeper_by_policy(
    auto_failback: AutoFailback, where: dict[str, set[str]]
) -> None:
    c = started(auto_failback=auto_failback)
    c.call("master", lambda rm: rm.standby("all", c.now))
    c.run(3)
    assert c.where() == {"master": set(), "slave": BOTH}
    c.partition()
    c.run(12)
    assert c.where() == {"master": BOTH, "slave": BOTH}
    c.heal()
    c.run(5)
    assert c.where() == where
    assert c.rm("master").stable() and c.rm("slave").stable()


def test_one_sided_fault_is_settled_by_the_side_that_still_hears() -> None:
    """Only the slave stops hearing the master: it takes over, the master objects."""
    c = started()
    c.deaf.add(("slave", "master"))
    c.run(11)
    # The slave's takeover report reaches the master, which keeps its own group
    # (it never lost it) and re-announces it; the slave cannot hear the answer yet.
    assert c.where() == {"master": {MASTER_KEY}, "slave": BOTH}
    assert [a.group for a in c.actions["master"] if a.kind == "announce"] == [MASTER_KEY]
    c.deaf.clear()
    c.run(3)
    # Healed: the slave hears the master again and lets go of the master's group.
    assert c.where() == HOME
    assert [a.group for a in c.actions["slave"] if a.reason == "partition"] == [MASTER_KEY]
    assert c.rm("master").stable() and c.rm("slave").stable()


def test_legacy_heal_uses_ip_request() -> None:
    c = started(auto_failback=AutoFailback.LEGACY)
    c.partition()
    c.run(12)
    assert c.where() == {"master": BOTH, "slave": BOTH}
    c.heal()
    c.run(3)
    assert c.where() == HOME
    requests = {(m.get("src"), m.get("ipaddr")) for m in c.messages(kind="ip-request")}
    assert requests >= {("master", MASTER_KEY), ("slave", SLAVE_KEY)}
    announces = {(n, a.group) for n in c.actions for a in c.actions[n] if a.kind == "announce"}
    assert announces == {("master", MASTER_KEY), ("slave", SLAVE_KEY)}


def test_we_keep_rules() -> None:
    from hbnode.rm.hold import Hold
    from hbnode.rm.partition import we_keep

    on, off = AutoFailback.ON, AutoFailback.OFF
    # auto_failback on: the owner keeps (my local set is mine, my foreign set is not).
    assert we_keep(Hold.LOCAL, on, Hold.NONE, Hold.ALL)
    assert not we_keep(Hold.FOREIGN, on, Hold.ALL, Hold.NONE)
    # off: whoever claimed the set before the split …
    assert we_keep(Hold.FOREIGN, off, Hold.ALL, Hold.NONE)
    assert not we_keep(Hold.LOCAL, off, Hold.NONE, Hold.ALL)
    # … else the owner; and the owner when the conflict is stuck.
    assert we_keep(Hold.LOCAL, off, Hold.NONE, Hold.NONE)
    assert not we_keep(Hold.FOREIGN, off, Hold.ALL, Hold.ALL)
    assert not we_keep(Hold.FOREIGN, off, Hold.ALL, Hold.NONE, stuck=True)


def test_a_conflict_that_does_not_settle_falls_back_to_the_owner() -> None:
    from hbnode.message import Message

    c = started(auto_failback=AutoFailback.OFF)
    c.call("master", lambda rm: rm.standby("all", c.now))
    c.run(3)
    c.crash("master")
    slave = c.rm("slave")
    # A peer that keeps claiming its local set (as if its memory disagreed with ours).
    claim = Message.of(
        ("t", "resource"),
        ("rsc_hold", "local"),
        ("rtype", "full"),
        ("isstable", "1"),
        ("src", "master"),
    )
    slave.receive(claim, c.now)
    c.call("slave", lambda rm: None)
    assert [a.kind for a in c.actions["slave"]][-1] == "announce"  # it held it longer
    c.run(5.1)
    slave.receive(claim, c.now)
    c.call("slave", lambda rm: None)
    c.run(1)
    assert c.where()["slave"] == {SLAVE_KEY}


def test_a_conflict_we_keep_is_claimed_again_until_the_peer_lets_go() -> None:
    """A verdict may not hang on one message: while the slave, deaf to the master, still
    claims the master's group, the master claims it again every second, and from
    ASK_AFTER on asks the slave to go standby for it (hb_takeover local: what a real Heartbeat
    that never applies our rules needs). Once the slave hears again, it lets go, and the
    reminders stop."""
    c = started()
    c.deaf.add(("slave", "master"))
    c.run(11)
    assert c.where() == {"master": {MASTER_KEY}, "slave": BOTH}
    reports, asks = len(c.messages("master", "resource")), c.messages("master", "hb_takeover")
    assert asks == []
    c.run(12)
    assert len(c.messages("master", "resource")) - reports >= 10
    asks = c.messages("master", "hb_takeover")
    assert [m.get("rsc_hold") for m in asks] == ["local"] * 3  # every STUCK seconds
    c.deaf.clear()
    c.run(3)
    assert c.where() == HOME
    settled = len(c.messages("master", "resource")), len(c.messages("master", "hb_takeover"))
    c.run(10)
    now = len(c.messages("master", "resource")), len(c.messages("master", "hb_takeover"))
    assert now == settled
