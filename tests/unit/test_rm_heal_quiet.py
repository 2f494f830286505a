"""No standby exchange with a healed peer that restarts on a heal (a real Heartbeat)
until partition.quiet_after_heal has passed; none of that wait for an hbnode peer.

The real Heartbeat slave, on master's first status after the heal, declares master
dead once more ("Late heartbeat") and cancels any standby exchange under way; 2 s
later it restarts. A failback started at the heal was cut by the first and left
``ERROR: Ignored standby message 'done' from slave in state 0`` in its log (CI, the
tutorial's split-brain demo with master=hbnode, slave=heartbeat).
"""

from __future__ import annotations

import pytest

from hbnode.rm.partition import quiet_after_heal
from tests.harness.rm_master import DEADTIME, KEEPALIVE
from tests.harness.rm_master import Master as MasterWithPeer

QUIET = quiet_after_heal(KEEPALIVE, DEADTIME)


class Master(MasterWithPeer):
    """The master, with the partition this file needs."""

    def split_and_heal(self, *, hbnode: bool) -> float:
        """Started together, slave declared dead at 30 s (we take its empty set), healed
        at 35 s with slave holding our group (it took it over while apart)."""
        self.rm.comm_up({"slave"}, self.now)
        self.pump()
        self.report("none", False, hbnode=hbnode)
        self.report("none", True, hbnode=hbnode)
        self.run_until(20.0)
        assert self.rm.holdings() == "local"
        self.rm.node_dead("slave", 30.0)
        self.now = 30.0
        self.pump()
        assert self.rm.holdings() == "all"
        self.asks.clear()
        self.now = 35.0
        self.rm.partition_healed("slave", self.now)
        self.pump()
        self.report("foreign", True, hbnode=hbnode)
        return self.now


def test_no_exchange_with_a_healed_heartbeat_until_the_quiet_is_over() -> None:
    n = Master()
    healed = n.split_and_heal(hbnode=False)
    n.run_until(healed + QUIET - 0.01)
    assert n.asks == []  # neither the failback nor the heal's hb_takeover
    assert n.rm.holdings() == "all"  # the group stays here all along
    n.report("foreign", True)  # it did not restart (say it never saw the split)
    n.run_until(healed + QUIET + 0.5)
    assert n.asks == [(pytest.approx(healed + QUIET), "ask_resources me")]
    # Heartbeat's side of the failback; the heal's ask waits for the exchange to end.
    n.peer(("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "other"))
    n.peer(("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "done"))
    n.run_until(n.now + 1.5)
    assert [what for _, what in n.asks] == [
        "ask_resources me",
        "ask_resources done",
        "hb_takeover ",
    ]


def test_a_heartbeat_that_restarts_in_the_quiet_gets_its_failback_after_its_start() -> None:
    n = Master()
    healed = n.split_and_heal(hbnode=False)
    n.now = healed + 2.3  # its restart: give up everything, shutdone
    n.report("none", False, info="shutdown")
    n.peer(("t", "shutdone"), ("st", "dead"))
    n.run_until(healed + QUIET + 1.0)
    assert n.asks == []  # no one to hand anything to
    assert n.rm.holdings() == "all"
    n.now = healed + 15.0  # back with a new generation
    n.rm.node_restarted("slave", n.now)
    n.peer(("t", "starting"))
    n.report("none", True)
    assert [what for _, what in n.asks] == ["ask_resources me"]


def test_an_hbnode_peer_gets_its_failback_at_the_heal() -> None:
    n = Master()
    healed = n.split_and_heal(hbnode=True)
    assert [what for _, what in n.asks] == ["ask_resources me"]
    assert n.asks[0][0] == healed
