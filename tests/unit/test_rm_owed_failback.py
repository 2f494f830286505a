"""The failback a holder owes us after our start, asked for if it does not come
(hbnode.rm.owed), in virtual time.

The case is from CI (master=hbnode, slave=heartbeat, fencing): the real Heartbeat
slave reset master, and master booted while the slave's takeover still ran. Our
``starting`` reached it mid-takeover, it answered that it held our group
(``foreign``, stable), and we ended our start with ``T_RESOURCES(them)``. Its
takeover's completion then marked us stable before our stable report came, so its
auto failback never started, and the group stayed on the slave.
"""

from __future__ import annotations

import pytest

from hbnode.rm.owed import MAX_ASKS
from tests.harness.rm_master import DEADTIME, KEEPALIVE, Master

GRACE = 2 * KEEPALIVE + DEADTIME


def started_while_peer_holds_ours(n: Master) -> float:
    """Our start meets a peer that holds our group: we take nothing."""
    n.rm.comm_up({"slave"}, n.now)
    n.pump()
    n.report("foreign", True)  # its answer to our `starting`
    assert n.rm.holdings() == "none"
    assert "Initial resource acquisition complete (T_RESOURCES(them))" in texts(n)
    return n.now


def texts(n: Master) -> list[str]:
    return [e.text for e in n.events]


def takeovers(n: Master) -> list[str]:
    return [what for _, what in n.asks if what.startswith("hb_takeover")]


def heartbeat_goes_standby(n: Master) -> None:
    """What the Heartbeat slave does on ``hb_takeover local``: hb_standby foreign."""
    n.peer(("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "me"))
    n.report("none", False, info="standby")
    n.peer(("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "done"))
    n.report("none", True)


def test_a_holder_that_gives_no_failback_is_asked_for_it() -> None:
    n = Master()
    start = started_while_peer_holds_ours(n)
    n.run_until(start + GRACE - 0.01)
    assert n.asks == []  # its failback has the grace to come
    n.run_until(start + GRACE + 0.01)
    assert n.asks == [(pytest.approx(start + GRACE), "hb_takeover ")]
    assert any("gave them no failback" in t for t in texts(n))
    heartbeat_goes_standby(n)
    assert n.rm.holdings() == "local"
    n.run_until(n.now + 5 * GRACE)
    assert takeovers(n) == ["hb_takeover "]  # asked once: it gave them back


def test_a_holder_that_fails_back_is_not_asked() -> None:
    n = Master()
    start = started_while_peer_holds_ours(n)
    n.now = start + 0.2  # Heartbeat's PerformAutoFailback, on our stable report
    heartbeat_goes_standby(n)
    assert n.rm.holdings() == "local"
    n.run_until(start + 5 * GRACE)
    assert takeovers(n) == []


def test_the_asks_are_bounded() -> None:
    n = Master()
    start = started_while_peer_holds_ours(n)
    n.run_until(start + (MAX_ASKS + 3) * GRACE)
    assert takeovers(n) == ["hb_takeover "] * MAX_ASKS
    assert any(f"after {MAX_ASKS} asks" in t for t in texts(n))
    assert n.rm.holdings() == "none"  # the admin decides now


def test_a_peer_that_sees_more_ping_nodes_keeps_our_group() -> None:
    n = Master(ping_nodes=("172.16.254.1",))
    n.rm.comm_up({"slave"}, n.now)
    n.pump()
    n.report("foreign", True)
    n.peer(("t", "num_ping_nodes"), ("num_ping", "1"), ("dest", "master"))
    start = n.now
    n.run_until(start + 3 * GRACE)
    assert takeovers(n) == []


def test_a_peer_restart_ends_the_watch() -> None:
    n = Master()
    start = started_while_peer_holds_ours(n)
    n.now = start + 1.0
    n.rm.node_restarted("slave", n.now)
    n.peer(("t", "starting"))
    n.run_until(start + 3 * GRACE)
    assert takeovers(n) == []
