"""hb_standby and hb_takeover: the three-step standby protocol (protocol.md §4.5, §8)."""

from __future__ import annotations

import pytest

from hbnode.config.hacf import AutoFailback
from hbnode.message import Message
from tests.harness.rm_sim import MASTER_KEY, SLAVE_KEY, RmClusterSim, fields

BOTH = {MASTER_KEY, SLAVE_KEY}
HOME = {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}


def started(auto_failback: AutoFailback = AutoFailback.OFF) -> RmClusterSim:
    c = RmClusterSim(auto_failback=auto_failback)
    c.boot("master", "slave")
    c.run(12)
    assert c.where() == HOME
    return c


def asks(c: RmClusterSim) -> list[tuple[str | None, str | None, str | None]]:
    return [
        (m.get("src"), m.get("rsc_hold"), m.get("info")) for m in c.messages(kind="ask_resources")
    ]


@pytest.mark.parametrize(
    ("what", "master", "slave", "holdings"),
    [
        ("all", set(), BOTH, {"master": "none", "slave": "all"}),
        ("local", set(), BOTH, {"master": "none", "slave": "all"}),
        ("foreign", {MASTER_KEY}, {SLAVE_KEY}, {"master": "local", "slave": "local"}),
        ("failback", {MASTER_KEY}, {SLAVE_KEY}, {"master": "local", "slave": "local"}),
    ],
)
def test_hb_standby(what: str, master: set[str], slave: set[str], holdings: dict[str, str]) -> None:
    c = started()
    assert c.call("master", lambda rm: rm.standby(what, c.now)) is None
    assert c.rm("master").rscstatus() == "transition"
    c.run(3)
    assert c.where() == {"master": master, "slave": slave}
    assert c.holdings() == holdings
    sent = "foreign" if what == "failback" else what
    assert asks(c) == [
        ("master", sent, "me"),
        ("slave", sent, "other"),
        ("master", sent, "done"),
        ("slave", sent, "done"),
    ]
    assert "Other node completed standby takeover of " + sent + " resources." in c.texts("master")
    assert f"Standby resource acquisition done [{sent}]." in c.texts("slave")
    assert c.rm("master").rscstatus() == holdings["master"]
    assert c.doubles == []


def test_standby_order_g_releases_before_o_acquires() -> None:
    c = started()
    c.call("master", lambda rm: rm.standby("all", c.now))
    c.run(0.03)  # me → other → G's report and release under way
    report = c.messages("master", "resource")[-1]
    assert fields(report)[:5] == [
        ("t", "resource"),
        ("rsc_hold", "none"),
        ("rtype", "full"),
        ("isstable", "0"),
        ("info", "standby"),
    ]
    assert c.where() == HOME  # the slave has not started anything yet
    c.run(0.6)
    assert c.where() == {"master": set(), "slave": {SLAVE_KEY}}
    c.run(1)
    assert c.where() == {"master": set(), "slave": BOTH}


def test_standby_back_and_forth_with_auto_failback_on_stays_put() -> None:
    c = started(AutoFailback.ON)
    c.call("master", lambda rm: rm.standby("all", c.now))
    c.run(5)
    # The owner went standby on purpose: auto failback must not undo it.
    assert c.where() == {"master": set(), "slave": BOTH}
    c.call("master", lambda rm: rm.takeover("local", c.now))
    c.run(5)
    assert c.where() == HOME


@pytest.mark.parametrize(
    ("what", "peer_goes_standby", "where"),
    [
        ("all", "all", {"master": BOTH, "slave": set()}),
        ("local", "foreign", HOME),
        ("foreign", "local", {"master": BOTH, "slave": set()}),
        ("failback", "all", {"master": BOTH, "slave": set()}),  # Heartbeat's quirk
    ],
)
def test_hb_takeover(what: str, peer_goes_standby: str, where: dict[str, set[str]]) -> None:
    c = started()
    if what == "local":  # give master's group away first, so there is something to take
        c.call("master", lambda rm: rm.standby("local", c.now))
        c.run(3)
        assert c.where() == {"master": set(), "slave": BOTH}
        c.sent.clear()
    assert c.call("master", lambda rm: rm.takeover(what, c.now)) is None
    assert fields(c.messages("master", "hb_takeover")[0]) == [
        ("t", "hb_takeover"),
        ("rsc_hold", what),
        ("src", "master"),
    ]
    c.run(3)
    assert asks(c)[0] == ("slave", peer_goes_standby, "me")
    assert c.where() == where
    assert c.doubles == []


def test_standby_request_times_out_without_an_answer() -> None:
    c = started()
    slave = c.rm("slave")
    real = slave.receive

    def deaf(msg: Message, now: float) -> None:
        if msg.get("t") != "ask_resources":
            real(msg, now)

    slave.receive = deaf  # type: ignore[method-assign]
    assert c.call("master", lambda rm: rm.standby("all", c.now)) is None
    c.run(9.9)
    assert c.rm("master").rscstatus() == "transition"
    c.run(0.2)
    assert "No reply to standby request.  Standby request cancelled." in c.texts("master")
    assert c.rm("master").rscstatus() == "local"
    assert c.where() == HOME


def test_standby_is_refused_while_in_flux_and_without_a_peer() -> None:
    c = started()
    assert c.call("master", lambda rm: rm.standby("all", c.now)) is None
    error = c.call("master", lambda rm: rm.standby("all", c.now))
    assert isinstance(error, str) and "transition" in error
    c.run(3)
    c.crash("slave")
    c.run(12)
    error = c.call("master", lambda rm: rm.standby("all", c.now))
    assert isinstance(error, str) and "no other node" in error
    assert c.call("master", lambda rm: rm.standby("bogus", c.now)) == (
        "usage: hb_standby [all|local|foreign|failback]"
    )


def test_peer_in_flux_ignores_the_request() -> None:
    c = started()
    c.call("master", lambda rm: rm.standby("foreign", c.now))
    c.call("slave", lambda rm: rm.standby("foreign", c.now))
    c.run(0.05)
    assert "standby message [me] from slave ignored. Other side is in flux." in c.texts("master")
    c.run(11)
    assert c.where() == HOME
    assert c.rm("master").stable() and c.rm("slave").stable()


def test_peer_death_mid_standby_cancels_and_takes_over() -> None:
    c = started()
    c.call("master", lambda rm: rm.standby("all", c.now))
    c.run(0.7)  # master released, waiting for the slave's done
    c.crash("slave")
    c.run(11)
    assert "Cancelling pending standby operation" in c.texts("master")
    assert c.where() == {"master": BOTH, "slave": set()}


def test_an_orderly_stop_waits_for_the_standby_exchange_to_end() -> None:
    """Heartbeat's hb_rsc_isstable: the giver stops only after the taker's ``done``.

    Stopping at once sent the taker our shutdown notice while it was acquiring; a
    real Heartbeat taker then started a second acquisition and logged ``ERROR:
    Ignored standby message 'done'`` (found by the lab's BadNews scan)."""
    c = started()
    c.call("master", lambda rm: rm.standby("all", c.now))
    c.run(0.7)  # master released and said done; the slave is acquiring
    c.stop("master")
    assert "Shutdown delayed until current resource activity finishes." in c.texts("master")
    assert c.messages("master", "shutdone") == []
    c.run(3)
    kinds = [(m.get("t"), m.get("info")) for m in c.messages("master")]
    assert kinds.index(("shutdone", None)) > 0
    assert c.messages("slave", "ask_resources")[-1].get("info") == "done"
    texts = c.texts("master")
    assert texts.index("Other node completed standby takeover of all resources.") < texts.index(
        "Giving up all HA resources."
    )
    assert c.where() == {"master": set(), "slave": BOTH}
    assert c.doubles == []


def test_the_wait_for_a_standby_exchange_is_bounded() -> None:
    c = started()
    slave = c.rm("slave")
    real = slave.receive

    def no_done(msg: Message, now: float) -> None:
        if not (msg.get("t") == "ask_resources" and msg.get("info") == "done"):
            real(msg, now)

    slave.receive = no_done  # type: ignore[method-assign]  # the taker never finishes
    c.call("master", lambda rm: rm.standby("all", c.now))
    c.run(1)
    c.stop("master")
    c.run(29)
    assert c.messages("master", "shutdone") == []
    c.run(2)
    assert "Standby operation abandoned: shutting down" in c.texts("master")
    assert len(c.messages("master", "shutdone")) == 1
