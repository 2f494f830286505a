"""A node declared dead on a status that came later than deadtime (3.0.6's on-the-spot
verdict) was just heard: hbnode takes over from it only if it stays silent.

Found by ``hblab nemesis`` (seed 32, tests/fixtures/nemesis/): master, powered on a
few seconds before, still advertised its start-up dead interval (deadtime + 2 s);
the slave's cable was out for longer than deadtime but shorter than that interval,
so the slave's dead check never fired, and the first status after the heal was
"Late heartbeat … (> deadtime)". Taking over on it put the VIP on both nodes until
the next status healed the partition.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hbnode.message import Message
from tests.harness.node_pair import NodePair

DEADTIME = 1.5


def cut_slave_eth1(pair: NodePair, up: bool) -> None:
    """The slave's cable: the peer and the ping node, both directions."""
    pair.set_cable(up)
    pair.reach_ping["slave"] = up


def boot_master_back(pair: NodePair) -> float:
    """master power-cycled; returns when it booted, once it holds the VIP again."""
    pair.start_both_and_settle()
    pair.poweroff("master")
    pair.run(DEADTIME + 1.0)
    assert pair.holders() == ["slave"]
    booted = pair.now
    pair.poweron("master")
    for _ in range(40):  # bounded: auto_failback gives it back within a few seconds
        if pair.holders() == ["master"]:
            break
        pair.run(0.1)
    assert pair.holders() == ["master"], pair.log("master")[-2000:]
    return booted


@pytest.mark.parametrize("ping_first", [0.0, 0.3], ids=["together", "ping first"])
def test_a_cut_shorter_than_the_peers_startup_interval_takes_nothing(
    tmp_path: Path, ping_first: float
) -> None:
    pair = NodePair(tmp_path)
    booted = boot_master_back(pair)
    assert pair.now - booted < 4.0  # master still advertises deadtime + 2 s
    cut_at = pair.now
    cut_slave_eth1(pair, False)
    pair.run(2.2 - ping_first)  # past deadtime, short of master's start-up interval
    # The ping node's echo may come back before master's next status (as in the
    # nemesis run): the slave is not isolated any more when the late status lands.
    pair.reach_ping["slave"] = True
    pair.run(ping_first)
    cut_slave_eth1(pair, True)
    pair.run(6 * DEADTIME)
    assert pair.two_holders_seconds(since=cut_at) == 0.0, pair.changes_since(cut_at)
    slave_log = pair.log("slave")
    assert "Late heartbeat: Node master" in slave_log  # the verdict this is about
    assert "master was heard just now" in slave_log
    assert pair.holders() == ["master"]


def test_a_peer_that_goes_silent_after_a_late_status_is_taken_over_from(tmp_path: Path) -> None:
    pair = NodePair(tmp_path)
    boot_master_back(pair)
    cut_slave_eth1(pair, False)
    pair.run(2.2)
    cut_slave_eth1(pair, True)
    pair.run(0.2)  # the late status arrives; then master's machine dies
    pair.poweroff("master")
    pair.run(2 * DEADTIME)
    assert pair.holders() == ["slave"], pair.log("slave")[-2000:]


@pytest.mark.parametrize("ping", [True, False], ids=["ping node", "no ping node"])
def test_a_thawed_daemon_takes_nothing_from_the_peer_it_hears_again(
    tmp_path: Path, ping: bool
) -> None:
    """SIGSTOP for longer than deadtime: on SIGCONT the slave reads master's statuses
    (the first one late, > deadtime) before its dead check runs: master is alive.
    With a ping node the silence of everything also reads as isolation (no takeover
    either way); without one, only the late verdict's wait keeps the slave off."""
    pair = NodePair(tmp_path, ping=ping)
    pair.start_both_and_settle()
    frozen_at = pair.now
    pair.freeze("slave")
    pair.run(2 * DEADTIME)
    pair.thaw("slave")
    pair.run(6 * DEADTIME)
    assert pair.two_holders_seconds(since=frozen_at) == 0.0, pair.changes_since(frozen_at)
    assert pair.holders() == ["master"]
    assert "Late heartbeat: Node master" in pair.log("slave")


def test_a_frozen_daemons_executor_still_finishes_what_it_started(tmp_path: Path) -> None:
    """SIGSTOP stops the daemon, not the resource script it forked: the VIP comes up on
    time, and only the daemon's reading of the result waits for SIGCONT."""
    pair = NodePair(tmp_path, action_time=1.0)
    pair.start_both_and_settle()
    pair.poweroff("master")
    for _ in range(200):  # bounded: deadtime is 1.5 s, a step 50 ms
        if "Resources being acquired from master." in pair.log("slave"):
            break
        pair.run(0.05)
    else:
        raise AssertionError("slave never started the takeover: " + pair.log("slave"))
    pair.freeze("slave")
    pair.run(1.5)
    assert pair.holders() == ["slave"]
    assert "mach_down takeover complete" not in pair.log("slave")
    pair.thaw("slave")
    pair.run(0.5)
    assert "mach_down takeover complete for node master." in pair.log("slave")


def test_a_thawed_holder_reads_what_waited_before_it_judges_the_silence(tmp_path: Path) -> None:
    """CI (the split-brain demo, hbnode with a ping node): master stood still for more
    than warntime just after a failback, and the first datagram it read on waking was
    no status. Judged on that one alone, peer and ping node had been silent for
    warntime: master let go of the VIP, and took it back a moment later when the
    status queued behind it was read. Only a timed check may find the silence."""
    pair = NodePair(tmp_path)
    pair.start_both_and_settle()
    pair.run(0.1)  # between two statuses: none in flight when master stops
    frozen_at = pair.now
    pair.freeze("master")
    slave = pair.nodes["slave"]
    slave.core.send(Message.of(("t", "hbnode-note")), pair.now)  # proves no life
    pair.flush("slave")
    pair.run(1.0)  # past warntime (750 ms), short of deadtime
    pair.thaw("master")
    pair.run(3 * DEADTIME)
    assert pair.changes_since(frozen_at) == []
    assert "cut off" not in pair.log("master")


def test_the_silence_is_found_on_time_without_any_input(tmp_path: Path) -> None:
    """The timed check wakes the node at warntime: the cut-off holder lets go then,
    not at the next timer the core happened to set."""
    pair = NodePair(tmp_path)
    pair.start_both_and_settle()
    cut_at = pair.now
    pair.cut_master_eth1()
    pair.run(1.0)  # warntime (750 ms) and a core timer (250 ms) at most
    assert pair.holders() == [], pair.log("master")[-1500:]
    said = [line for line in pair.log("master").splitlines() if "cut off" in line]
    assert len(said) == 1
    released = pair.changes_since(cut_at)[0][0] - cut_at
    assert released <= 0.75 + 0.01 + 0.01, released  # warntime, the release's own time
