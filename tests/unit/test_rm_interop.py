"""hbnode's resource manager beside a scripted real Heartbeat 3.0.6 peer.

The peer's messages are the ones the capture shows a real node sending (same
fields, same order); we check what hbnode answers and does. The peer follows
Heartbeat's rules, not hbnode's: on a partition heal it restarts itself, and it
never resolves a double claim, so hbnode must not fight it.
"""

from __future__ import annotations

import pytest

from hbnode.config.hacf import AutoFailback
from hbnode.config.haresources import parse_haresources_text
from hbnode.message import Message
from hbnode.rm import ResourceManager
from hbnode.rm import messages as m

KEY = "192.168.0.38/24/eth0:0"
GROUPS = parse_haresources_text(f"master {KEY}\n")


class Alone:
    """One hbnode ResourceManager ('slave'); actions succeed when we say so."""

    def __init__(
        self, auto_failback: AutoFailback = AutoFailback.ON, ping_nodes: tuple[str, ...] = ()
    ) -> None:
        self.rm = ResourceManager(
            me="slave",
            nodes=["master", "slave"],
            groups=GROUPS,
            auto_failback=auto_failback,
            keepalive=1.0,
            deadtime=10.0,
            deadping=10.0,
            ping_nodes=list(ping_nodes),
            isolation=bool(ping_nodes),
        )
        self.now = 0.0
        self.running: set[str] = set()

    def hb(self, *pairs: tuple[str, str]) -> list[list[tuple[str, str]]]:
        """Deliver a message from the Heartbeat master; return what we send back."""
        msg = Message.of(*pairs)
        msg.set("src", "master")
        self.rm.receive(msg, self.now)
        return self.sent()

    def sent(self) -> list[list[tuple[str, str]]]:
        out = []
        pending = self.rm.take_outgoing()
        while pending:
            msg = pending.pop(0)
            # hbnode's heal field, which Heartbeat ignores, is left out of what we compare.
            out.append([(f.name, str(f.value)) for f in msg if f.name != m.HEAL_FIELD])
            mine = msg.copy()
            mine.set("src", "slave")
            if mine.get("dest") in (None, "slave"):
                self.rm.receive(mine, self.now)  # Heartbeat's loopback
            pending += self.rm.take_outgoing()
        return out

    def finish_actions(self) -> list[tuple[str, str]]:
        done = []
        for _ in range(10):
            actions = self.rm.take_actions()
            if not actions:
                break
            for action in actions:
                if action.kind == "acquire":
                    self.running.add(action.group)
                elif action.kind == "release":
                    self.running.discard(action.group)
                done.append((action.kind, action.group))
                self.rm.action_done(action.id, True, self.now)
        return done

    def holding_all_after_master_died(self) -> None:
        self.rm.comm_up({"master"}, self.now)
        assert self.sent() == [[("t", "starting")], RES_STARTING]
        self.hb(("t", "resource"), ("rsc_hold", "local"), ("rtype", "full"), ("isstable", "1"))
        self.sent()
        self.now = 30.0
        self.rm.node_dead("master", self.now)
        self.sent()
        assert self.finish_actions() == [("acquire", KEY)]
        self.sent()
        assert self.rm.holdings() == "all" and self.running == {KEY}


RES_NONE_0 = [("t", "resource"), ("rsc_hold", "none"), ("rtype", "full"), ("isstable", "0")]
# A starting hbnode adds its own field (Heartbeat ignores it): "negotiate at once".
RES_STARTING = [*RES_NONE_0, ("hbnode_quickstart", "1")]
RES_ALL_1 = [("t", "resource"), ("rsc_hold", "all"), ("rtype", "full"), ("isstable", "1")]


def test_heartbeat_master_returns_and_gets_its_group_back() -> None:
    """The capture at t=43-46 s, with hbnode in the slave's place."""
    n = Alone()
    n.holding_all_after_master_died()
    n.rm.node_restarted("master", n.now)
    n.rm.node_alive("master", "active", n.now)
    n.sent()
    assert n.hb(("t", "starting")) == [RES_ALL_1]
    n.hb(("t", "resource"), ("rsc_hold", "none"), ("rtype", "full"), ("isstable", "0"))
    replies = n.hb(("t", "resource"), ("rsc_hold", "none"), ("rtype", "full"), ("isstable", "1"))
    assert replies == [[("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "me")]]
    replies = n.hb(("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "other"))
    # What remains is our local set (empty here), as the real slave said at t=45 s.
    assert replies == [
        [
            ("t", "resource"),
            ("rsc_hold", "local"),
            ("rtype", "full"),
            ("isstable", "0"),
            ("info", "standby"),
        ]
    ]
    assert n.finish_actions() == [("release", KEY)]
    assert n.sent() == [[("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "done")]]
    n.hb(("t", "resource"), ("rsc_hold", "local"), ("rtype", "full"), ("isstable", "1"))
    replies = n.hb(("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "done"))
    assert replies == [
        [("t", "resource"), ("rsc_hold", "local"), ("rtype", "full"), ("isstable", "1")]
    ]
    assert n.running == set() and n.rm.rscstatus() == "local"


def test_heartbeat_peer_restarting_after_a_partition_is_not_fought() -> None:
    """Both held the group; the Heartbeat peer gives up and restarts (§4.7)."""
    n = Alone()
    n.holding_all_after_master_died()
    n.rm.partition_healed("master", n.now)
    assert n.sent() == [RES_ALL_1]  # our claim; Heartbeat ignores it
    assert n.finish_actions() == []
    # Heartbeat's restart: resource none … shutdown, givegroup, shutdone.
    n.hb(
        ("t", "resource"),
        ("rsc_hold", "none"),
        ("rtype", "full"),
        ("isstable", "0"),
        ("info", "shutdown"),
    )
    n.hb(("t", "shutdone"), ("st", "dead"))
    n.finish_actions()
    assert n.running == {KEY}  # never released: no moment without a holder
    n.sent()
    # It comes back with a new generation and starts: we answer, then fail back.
    n.now += 12
    n.rm.node_restarted("master", n.now)
    assert n.hb(("t", "starting")) == [RES_ALL_1]
    replies = n.hb(("t", "resource"), ("rsc_hold", "none"), ("rtype", "full"), ("isstable", "1"))
    assert replies[0][:3] == [("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "me")]


@pytest.mark.parametrize("auto_failback", [AutoFailback.ON, AutoFailback.OFF])
def test_heartbeat_peer_claiming_its_group_after_a_heal_gets_it(
    auto_failback: AutoFailback,
) -> None:
    n = Alone(auto_failback)
    n.holding_all_after_master_died()
    n.rm.partition_healed("master", n.now)
    n.sent()
    # Its own (local) group: it held it before the split, so it keeps it either way.
    n.hb(("t", "resource"), ("rsc_hold", "local"), ("rtype", "full"), ("isstable", "1"))
    assert n.finish_actions() == [("release", KEY)]
    assert n.running == set()
    assert n.rm.holdings() == "local"
    assert n.sent()[-1] == [
        ("t", "resource"),
        ("rsc_hold", "local"),
        ("rtype", "full"),
        ("isstable", "1"),
    ]


def test_cut_off_slave_back_settles_its_claim_for_a_heartbeat_master() -> None:
    """CTS's Split_brain with the slave cut off (hblab cts, master=heartbeat): back from
    the cut, the slave claims unsettled to hear what the master holds. Heartbeat does
    not answer that: it marks us "in flux" and then cannot restart after the heal
    (``Shutdown delayed until current resource activity finishes``, for good). A
    second later the slave says its claim again, settled; Heartbeat answers that one,
    and nothing more is said."""
    ping = "172.16.254.1"
    n = Alone(ping_nodes=(ping,))
    n.rm.ping_status(ping, True, n.now)
    n.rm.comm_up({"master"}, n.now)
    n.sent()
    n.hb(("t", "resource"), ("rsc_hold", "local"), ("rtype", "full"), ("isstable", "1"))
    n.sent()
    n.now = 30.0
    n.rm.ping_status(ping, False, n.now)
    n.rm.node_dead("master", n.now)
    n.sent()
    assert n.finish_actions() == []  # isolated: no takeover
    n.now = 32.0
    n.rm.ping_status(ping, True, n.now)
    n.rm.partition_healed("master", n.now)
    assert n.sent()[-1] == [*RES_LOCAL[:3], ("isstable", "0")]
    n.now += 0.5
    n.rm.handle_timer(n.now)
    assert n.sent() == []  # Heartbeat has not answered yet
    n.now = n.rm.get_timer() or n.now
    assert n.now == pytest.approx(33.0)
    n.rm.handle_timer(n.now)
    assert n.sent() == [RES_LOCAL]
    n.hb(("t", "resource"), ("rsc_hold", "all"), ("rtype", "full"), ("isstable", "1"))
    n.sent()
    n.now += 5
    n.rm.handle_timer(n.now)
    assert n.sent() == []
    assert n.finish_actions() == [] and n.running == set()


RES_LOCAL = [("t", "resource"), ("rsc_hold", "local"), ("rtype", "full"), ("isstable", "1")]


def test_heartbeat_ipfail_messages_are_understood() -> None:
    rm = ResourceManager(
        me="slave",
        nodes=["master", "slave"],
        groups=GROUPS,
        auto_failback=AutoFailback.ON,
        keepalive=1.0,
        deadtime=10.0,
        deadping=10.0,
        ping_nodes=["10.0.0.254"],
        isolation=False,
    )
    rm.ping_status("10.0.0.254", True, 0.0)
    rm.comm_up({"master"}, 0.0)
    rm.take_outgoing()
    # As captured at t=7.51 s: ipfail on the master tells us its count.
    count = Message.of(
        ("t", "num_ping_nodes"),
        ("src", "master"),
        ("num_ping", "1"),
        ("dest", "slave"),
        ("from_id", "ipfail"),
        ("to_id", "ipfail"),
        ("client_gen", "0"),
    )
    rm.receive(count, 1.0)
    assert [[(f.name, f.value) for f in msg] for msg in rm.take_outgoing()] == [
        [
            ("t", "abort_giveup"),
            ("src", "slave"),
            ("dest", "master"),
            ("from_id", "ipfail"),
            ("to_id", "ipfail"),
            ("client_gen", "0"),
        ]
    ]
