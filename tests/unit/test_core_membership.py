"""Node and link status over virtual time: exact instants of death, late heartbeats,
initdead, dt, restarts, partitions and ping nodes (protocol.md §3.5, §4.1, §4.2, §4.7).

Timers are ``FAST``: keepalive 0.25 s, deadtime 1.5 s, warntime 0.75 s, initdead 3 s,
deadping 1.5 s. The core runs as the daemon runs it: a node or link is declared dead
at its deadline (exact_dead_check). Heartbeat's 250 ms dead-check tick, from each
node's start, is tested where a test says so (exact_dead_check=False).
"""

from __future__ import annotations

import random

import pytest

from hbnode.core import events as ev
from hbnode.core.membership import NodeTable
from hbnode.core.states import NodeStatus
from hbnode.core.timers import Timers
from hbnode.message import Message
from tests.harness.core_sim import FAST, CoreClusterSim, wire_roundtrip


def up_pair(delay: float = 0.0, **kwargs: object) -> CoreClusterSim:
    cluster = CoreClusterSim(**kwargs)  # type: ignore[arg-type]
    cluster.net.set_all(delay=delay)
    cluster.start_all()
    return cluster


def test_peer_is_dead_at_the_first_check_at_or_after_last_status_plus_deadtime() -> None:
    cluster = up_pair()
    cluster.run_until(6.1)
    cluster.crash("slave")  # its last status went out at 6.0 and arrived at 6.0
    cluster.run_until(10.0)
    master = cluster.cores["master"]
    assert cluster.status_changes("master", "slave")[-1] == (7.5, "active", "dead")
    assert master.node_status("slave") == "dead"
    assert master.link_status("slave", "eth1") == "dead"
    links = [(e.now, e.new) for e in cluster.of_type("master", ev.LinkStatusChanged)]
    assert links[-1] == (7.5, "dead")
    assert master.link_status("master", "eth1") == "up"  # our own links never time out


def test_dead_time_rounds_up_to_the_250ms_check_grid() -> None:
    """Heartbeat's tick, which hbnode's exact dead check replaces (docs/differences.md)."""
    cluster = up_pair(delay=0.001, exact_dead_check=False)
    cluster.run_until(6.1)
    cluster.crash("slave")  # last status arrived at 6.001: deadline 7.501
    cluster.run_until(10.0)
    assert cluster.status_changes("master", "slave")[-1] == (7.75, "active", "dead")


def test_exact_dead_check_declares_death_at_the_deadline_itself() -> None:
    """hbnode's choice: no 250 ms grid, so detection is deadtime, not up to +250 ms."""
    cluster = up_pair(delay=0.001, exact_dead_check=True)
    cluster.run_until(6.1)
    cluster.crash("slave")  # last status arrived at 6.001: deadline 7.501
    master = cluster.cores["master"]
    cluster.run_until(7.4)
    assert master.get_timer() == pytest.approx(7.5)  # the grid tick comes first
    cluster.run_until(7.5)
    assert master.get_timer() == pytest.approx(7.501)  # then the deadline itself
    cluster.run_until(10.0)
    assert cluster.status_changes("master", "slave")[-1] == (pytest.approx(7.501), "active", "dead")
    links = [(e.now, e.new) for e in cluster.of_type("master", ev.LinkStatusChanged)]
    assert links[-1] == (pytest.approx(7.501), "dead")


def test_exact_dead_check_keeps_a_live_peer_alive() -> None:
    cluster = up_pair(delay=0.001, exact_dead_check=True)
    cluster.run_until(30.0)
    assert cluster.status_changes("master", "slave")[-1][2] == "active"
    assert not cluster.of_type("master", ev.LateHeartbeat)


def test_the_dt_a_peer_advertises_is_its_dead_interval() -> None:
    """In its first 5 s a node advertises dt = deadtime + 2 s = 3.5 s."""
    cluster = up_pair()
    cluster.run_until(1.1)
    assert cluster.sent["slave"][-1].get("dt") == "dac"  # 3500 ms
    cluster.crash("slave")  # last status at 1.0
    cluster.run_until(10.0)
    assert cluster.status_changes("master", "slave")[-1] == (4.5, "active", "dead")


def test_dt_goes_back_to_deadtime_after_five_seconds() -> None:
    cluster = up_pair()
    cluster.run_until(4.9)
    assert cluster.sent["master"][-1].get("dt") == "dac"
    cluster.run_until(5.0)
    assert cluster.sent_of_type("master", "status")[-1].get("dt") == "5dc"  # 1500


def test_a_node_never_heard_is_dead_after_initdead_and_comm_comes_up_alone() -> None:
    cluster = CoreClusterSim()
    cluster.start("master", at=0.1)
    cluster.run_until(3.0)
    master = cluster.cores["master"]
    assert not master.comm_up()
    assert master.node_status("slave") == "init"
    cluster.run_until(10.0)
    assert cluster.status_changes("master", "slave") == [(3.1, "init", "dead")]
    assert [e.now for e in cluster.of_type("master", ev.CommUp)] == [3.1]
    assert not cluster.sent_of_type("master", "reqnodes")  # nobody alive to ask
    assert master.node_status("master") == "active"


def test_before_comm_up_every_node_uses_initdead() -> None:
    """slave is heard, but master waits for a third node: slave's silence is judged
    against initdead (3 s), not deadtime, until comm is up."""
    cluster = CoreClusterSim(["master", "slave", "third"])
    cluster.net.set_all(delay=0.0)
    cluster.start("master")
    cluster.start("slave")
    cluster.run_until(0.6)
    cluster.crash("slave")  # last status at 0.5
    cluster.run_until(5.0)
    assert cluster.status_changes("master", "slave") == [
        (0.0, "init", "up"),
        (3.5, "up", "dead"),
    ]
    assert cluster.status_changes("master", "third") == [(3.0, "init", "dead")]
    # At 3.0 everyone is heard or dead: reqnodes goes to slave, which never answers;
    # the retry a second later finds nobody alive and completes comm-up alone.
    assert [m.get("dest") for m in cluster.sent_of_type("master", "reqnodes")] == ["slave"]
    assert [e.now for e in cluster.of_type("master", ev.CommUp)] == [4.0]


def test_a_late_joiner_comes_up_after_being_declared_dead() -> None:
    cluster = CoreClusterSim()
    cluster.start("master")
    cluster.start("slave", at=5.0)
    cluster.run_until(8.0)
    assert cluster.status_changes("master", "slave") == [
        (3.0, "init", "dead"),
        (5.001, "dead", "init"),  # its st=init, then at once st=up
        (5.001, "init", "up"),
        (5.004, "up", "active"),
    ]
    assert not cluster.of_type("master", ev.PartitionHealed)  # a first contact
    assert not cluster.of_type("master", ev.NodeRestarted)
    assert cluster.cores["slave"].comm_up()
    assert cluster.status_changes("slave", "master") == [(5.001, "init", "active")]


def test_late_heartbeat_beyond_warntime() -> None:
    cluster = up_pair()
    cluster.run_until(6.1)
    # Lose slave's statuses of 6.25, 6.5 and 6.75: the next arrives 1 s after 6.0.
    cluster.drop = lambda src, dst, msg: (
        src == "slave" and msg.get("t") == "status" and 6.2 < cluster.now < 6.8
    )
    cluster.run_until(8.0)
    late = cluster.of_type("master", ev.LateHeartbeat)
    assert late == [ev.LateHeartbeat("slave", 1000, False, now=7.0)]
    assert cluster.cores["master"].node_status("slave") == "active"
    assert cluster.cores["master"].counters()["late_heartbeats"] == 1


def test_two_missed_statuses_are_not_late() -> None:
    """An interval of exactly warntime (0.75 s) is not "beyond" it."""
    cluster = up_pair()
    cluster.run_until(6.1)
    cluster.drop = lambda src, dst, msg: (
        src == "slave" and msg.get("t") == "status" and 6.2 < cluster.now < 6.6
    )
    cluster.run_until(8.0)
    assert not cluster.of_type("master", ev.LateHeartbeat)


def test_late_beyond_deadtime_marks_dead_at_once_and_then_reads_as_a_partition() -> None:
    """During slave's first 5 s its dt is 3.5 s, so the dead check has not fired when a
    status arrives 2 s after the previous one: 3.0.6 declares it dead on the spot."""
    cluster = up_pair()
    cluster.run_until(0.6)
    cluster.drop = lambda src, dst, msg: src == "slave" and 0.6 < cluster.now < 2.4
    cluster.run_until(3.0)
    assert cluster.of_type("master", ev.LateHeartbeat) == [
        ev.LateHeartbeat("slave", 2000, True, now=2.5)
    ]
    assert cluster.status_changes("master", "slave")[-2:] == [
        (2.5, "active", "dead"),
        (2.75, "dead", "active"),
    ]
    assert [e.now for e in cluster.of_type("master", ev.PartitionHealed)] == [2.75]


def test_only_status_messages_keep_a_node_alive() -> None:
    cluster = up_pair()
    cluster.run_until(6.1)
    cluster.drop = lambda src, dst, msg: src == "slave" and msg.get("t") == "status"
    for step in range(1, 30):  # slave keeps talking, but sends no status
        cluster.run_until(6.1 + step * 0.1)
        cluster.cores["slave"].send(Message.of(("t", "resource"), ("n", str(step))), cluster.now)
        cluster.flush("slave")
    cluster.run_until(9.0)
    assert cluster.status_changes("master", "slave")[-1] == (7.5, "active", "dead")
    # The link, refreshed by every kept packet, outlives the node.
    assert cluster.cores["master"].link_status("slave", "eth1") == "up"
    delivered = [e.msg.get("n") for e in cluster.of_type("master", ev.Delivered)]
    assert delivered == [str(step) for step in range(1, 30)]


def test_a_node_that_sent_shutdone_goes_dead_after_deadtime() -> None:
    cluster = up_pair()
    cluster.run_until(6.1)
    cluster.cores["slave"].send(Message.of(("t", "shutdone"), ("st", "dead")), 6.1)
    cluster.flush("slave")
    cluster.run_until(6.6)
    cluster.crash("slave")  # final statuses for 0.5 s, then exit; last at 6.5
    cluster.run_until(10.0)
    shutdone = [e for e in cluster.of_type("master", ev.Delivered) if e.msg.type == "shutdone"]
    assert [(e.now, e.link) for e in shutdone] == [(6.1, "eth1")]
    assert cluster.status_changes("master", "slave")[-1] == (8.0, "active", "dead")


def test_one_link_dies_while_the_node_stays_up() -> None:
    cluster = CoreClusterSim(links=("eth1", "eth2"))
    cluster.net.set_all(delay=0.0)
    cluster.start_all()
    cluster.run_until(6.1)
    cluster.net.path("slave", "master", "eth2").up = False  # last on eth2 at 6.0
    cluster.run_until(8.0)
    master = cluster.cores["master"]
    assert master.links("slave") == ["eth1", "eth2"]
    assert (master.link_status("slave", "eth1"), master.link_status("slave", "eth2")) == (
        "up",
        "dead",
    )
    assert cluster.of_type("master", ev.LinkStatusChanged)[-1] == ev.LinkStatusChanged(
        "slave", "eth2", "up", "dead", now=7.5
    )
    assert master.node_status("slave") == "active"
    cluster.net.path("slave", "master", "eth2").up = True
    cluster.run_until(8.3)
    assert master.link_status("slave", "eth2") == "up"
    assert cluster.of_type("master", ev.LinkStatusChanged)[-1].now == 8.25


def test_restart_of_a_peer_is_detected_by_its_generation() -> None:
    cluster = up_pair()
    cluster.run_until(3.1)
    cluster.crash("slave")
    cluster.start("slave", at=3.6)
    cluster.run_until(6.0)
    old, new = 0x6B0638C4, 0x6B0638C5
    assert cluster.of_type("master", ev.NodeRestarted) == [
        ev.NodeRestarted("slave", old, new, now=3.6)
    ]
    # slave hears master's next status at 3.75: comm up, reqnodes answered, active.
    assert cluster.status_changes("master", "slave")[2:] == [
        (3.6, "active", "init"),
        (3.6, "init", "up"),
        (3.75, "up", "active"),
    ]
    assert not cluster.of_type("master", ev.PartitionHealed)
    assert cluster.cores["master"].counters()["restarts"] == 1
    assert cluster.cores["slave"].comm_up()


def test_a_peer_that_restarts_after_its_death_comes_back() -> None:
    cluster = up_pair()
    cluster.run_until(6.1)
    cluster.crash("slave")
    cluster.start("slave", at=9.0)
    cluster.run_until(10.0)
    assert cluster.status_changes("master", "slave")[2:] == [
        (7.5, "active", "dead"),
        (9.0, "dead", "init"),
        (9.0, "init", "up"),
        (9.25, "up", "active"),
    ]
    assert len(cluster.of_type("master", ev.NodeRestarted)) == 1


def test_partition_heal_is_seen_on_both_sides() -> None:
    cluster = up_pair()
    cluster.run_until(6.1)
    cluster.net.set_all(up=False)
    cluster.run_until(9.0)
    for name, peer in (("master", "slave"), ("slave", "master")):
        assert cluster.status_changes(name, peer)[-1] == (7.5, "active", "dead")
    cluster.net.set_all(up=True)
    cluster.run_until(9.6)
    for name, peer in (("master", "slave"), ("slave", "master")):
        assert [e.now for e in cluster.of_type(name, ev.PartitionHealed)] == [9.25]
        assert cluster.status_changes(name, peer)[-1] == (9.25, "dead", "active")
        lost = cluster.of_type(name, ev.PacketsLost)
        assert lost and lost[0].node == peer and lost[0].count >= 12  # 3 s of statuses
        assert not cluster.of_type(name, ev.NodeRestarted)


def test_first_contact_after_initdead_through_a_non_status_is_no_partition() -> None:
    """A node booted through a cut declares its never-heard peer dead at initdead. When
    the cable is back, the peer's first message may be a non-status (CI of d5539f2: the
    slave logged CRIT "returning after partition" for a master it had never heard)."""
    table = NodeTable(
        me="slave", nodes=["master", "slave"], ping_nodes=[], media=["eth1"],
        timers=FAST, rng=random.Random(1), now=0.0,
    )  # fmt: skip
    master = table.peers["master"]
    table.set_status(master, NodeStatus.DEAD, 3.0)  # initdead passed, never heard
    keep, events = table.judge_generation(master, is_status=False, seq=40, hg=7, now=5.0)
    assert keep and not events
    master.window.track(40, 5.0)
    keep, events = table.judge_generation(master, is_status=True, seq=41, hg=7, now=5.01)
    assert keep and not events  # first contact: no PartitionHealed


def test_ping_node_goes_ping_then_dead_after_deadping() -> None:
    timers = Timers(
        keepalive=0.25, deadtime=1.5, warntime=0.75, initdead=3.0, deadping=1.0,
        max_rexmit_delay=0.25, hopfudge=1,
    )  # fmt: skip
    cluster = CoreClusterSim(["master"], ping_nodes=["10.0.0.254"], timers=timers)
    cluster.ping_rtt = 0.0
    cluster.start("master")
    master = cluster.cores["master"]
    assert master.node_type("10.0.0.254") == "ping"
    assert master.links("10.0.0.254") == ["10.0.0.254"]
    cluster.run_until(3.1)
    assert master.node_status("10.0.0.254") == "ping"
    assert master.comm_up()
    cluster.ping_reachable[("master", "10.0.0.254")] = False  # last reply at 3.0
    cluster.run_until(6.0)
    assert cluster.status_changes("master", "10.0.0.254") == [
        (0.0, "init", "ping"),
        (4.0, "ping", "dead"),
    ]
    assert master.link_status("10.0.0.254", "10.0.0.254") == "dead"
    cluster.ping_reachable[("master", "10.0.0.254")] = True
    cluster.run_until(6.3)
    assert cluster.status_changes("master", "10.0.0.254")[-1] == (6.25, "dead", "ping")


def test_ping_probes_go_with_each_keepalive_status() -> None:
    timers = Timers(
        keepalive=1.0, deadtime=3.0, warntime=1.5, initdead=6.0, deadping=3.0,
        max_rexmit_delay=0.25, hopfudge=1,
    )  # fmt: skip
    cluster = CoreClusterSim(["master"], ping_nodes=["10.0.0.254", "gw"], timers=timers)
    cluster.start("master")
    master = cluster.cores["master"]
    probes = cluster.probes["master"]
    assert [(name, [(f.name, f.value) for f in msg]) for _, name, msg in probes] == [
        (
            "10.0.0.254",
            [("t", "NS_st"), ("st", "ping"), ("info", "ping"), ("src", "10.0.0.254"),
             ("ts", "6b0638c3")],
        ),
        (
            "gw",
            [("t", "NS_st"), ("st", "ping"), ("info", "ping_group"), ("src", "gw"),
             ("ts", "6b0638c3")],
        ),
    ]  # fmt: skip
    master.handle_timer(0.25)  # a dead check only
    assert master.take_ping_probes() == []
    master.set_status("active", 0.3)  # an out-of-turn status carries no probe
    assert master.take_ping_probes() == []
    master.handle_timer(1.0)
    assert [name for name, _ in master.take_ping_probes()] == ["10.0.0.254", "gw"]


def test_comm_up_waits_for_the_ping_nodes() -> None:
    cluster = CoreClusterSim(ping_nodes=["10.0.0.254"])
    cluster.ping_reachable[("master", "10.0.0.254")] = False
    cluster.ping_reachable[("slave", "10.0.0.254")] = False
    cluster.start_all()
    cluster.run_until(2.9)
    assert not cluster.cores["master"].comm_up()
    cluster.run_until(3.1)
    assert cluster.status_changes("master", "10.0.0.254") == [(3.0, "init", "dead")]
    assert cluster.cores["master"].comm_up()


def test_ping_reply_from_an_unknown_target_is_dropped() -> None:
    cluster = CoreClusterSim(["master"])
    cluster.start("master")
    cluster.cores["master"].ping_reply("10.9.9.9", 0.1)
    cluster.flush("master")
    assert cluster.of_type("master", ev.Dropped)[-1].reason is ev.DropReason.UNKNOWN_NODE


def test_views_reject_unknown_nodes() -> None:
    cluster = CoreClusterSim()
    cluster.start("master")
    with pytest.raises(KeyError):
        cluster.cores["master"].node_status("nobody")
    assert cluster.cores["master"].node_type("slave") == "normal"
    assert cluster.cores["master"].link_status("slave", "eth9") == "dead"


def test_status_with_unknown_st_keeps_the_node_alive_but_changes_nothing() -> None:
    cluster = up_pair()
    cluster.run_until(1.0)
    slave = cluster.cores["slave"]
    bogus = Message.of(("t", "status"), ("st", "weird"), ("dt", "5dc"))
    slave.send(bogus, 1.0)
    cluster.flush("slave")
    cluster.run_until(1.1)
    assert cluster.cores["master"].node_status("slave") == "active"
    assert wire_roundtrip(cluster.sent["slave"][-1]).get("st") == "weird"


def test_fast_timers_are_what_the_tests_assume() -> None:
    assert (FAST.keepalive, FAST.deadtime, FAST.warntime, FAST.initdead) == (0.25, 1.5, 0.75, 3.0)


def test_statuses_filling_a_gap_keep_the_peer_alive() -> None:
    """A message that jumps ahead of a peer's sequence (one forged with the key, say)
    leaves a gap its next statuses fill as missing ones. They are newer than any
    status seen, so they count as its keepalive, as 3.0.6 counts them (its status
    check compares with the last status's seq, heartbeat.c HBDoMsg_T_STATUS): no late
    heartbeat, no death. They used to be taken as stale: declared dead at the end."""
    cluster = up_pair()
    cluster.run_until(6.1)
    master = cluster.cores["master"]
    ahead = cluster.sent_of_type("slave", "status")[-1].copy()
    ahead.set("t", "hb_takeover")
    ahead.set("seq", f"{int(ahead.get('seq') or '0', 16) + 20:x}")
    master.receive(ahead, "eth1", cluster.now)
    cluster.run_until(15.0)
    assert cluster.of_type("master", ev.LateHeartbeat) == []
    assert cluster.status_changes("master", "slave")[-1][2] == "active"
    assert master.counters()["lost"] >= 19


def test_a_probe_is_the_same_message_while_its_second_lasts() -> None:
    timers = Timers(
        keepalive=0.25, deadtime=1.5, warntime=0.75, initdead=3.0, deadping=1.5,
        max_rexmit_delay=0.25, hopfudge=1,
    )  # fmt: skip
    cluster = CoreClusterSim(["master"], ping_nodes=["10.0.0.254"], timers=timers)
    cluster.start("master")
    cluster.run_until(1.3)
    sent = [(at, msg) for at, _, msg in cluster.probes["master"]]
    assert [at for at, _ in sent] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
    assert sent[0][1] is sent[1][1] is sent[2][1] is sent[3][1]  # wall clock second 0
    assert sent[4][1] is not sent[3][1] and sent[4][1].get("ts") != sent[3][1].get("ts")
    assert sent[5][1] is sent[4][1]
