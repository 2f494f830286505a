"""Drops a peer can provoke at will (unknown node, old generation) are counted every time
and logged at most once per interval (hbnode.lograte)."""

from __future__ import annotations

from pathlib import Path

from hbnode.control_commands import snapshot
from hbnode.lograte import LOG_INTERVAL, LogLimiter
from hbnode.message import Message
from tests.harness.stepped_pair import SteppedPair

BAD_NODE = "process_status_message: bad node [intruder] in message"


def status(src: str, seq: int, hg: int = 1) -> Message:
    return Message.of(
        ("t", "status"), ("st", "active"), ("src", src),
        ("seq", f"{seq:x}"), ("hg", f"{hg:x}"), ("ts", "6b0638c3"),
    )  # fmt: skip


def intruder_status(seq: int) -> Message:
    return status("intruder", seq)


def running_pair(tmp_path: Path) -> SteppedPair:
    pair = SteppedPair(tmp_path)
    pair.start("master")
    pair.start("slave")
    pair.step(5.0)
    return pair


def test_limiter_says_once_per_interval_and_counts_the_rest() -> None:
    limiter = LogLimiter(interval=10.0)
    said = [limiter.allow("unknown_node", t) for t in (0.0, 1.0, 2.0, 9.9, 10.0, 10.5)]
    assert said == [(True, 0), (False, 0), (False, 0), (False, 0), (True, 3), (False, 0)]
    assert limiter.allow("replay", 10.5) == (True, 0)  # each reason has its own budget


def test_unknown_node_flood_is_counted_and_logged_rate_limited(tmp_path: Path) -> None:
    pair = running_pair(tmp_path)
    slave = pair.nodes["slave"]
    before = slave.core.counters()["unknown_node"]
    for seq in range(1, 51):  # 50 in 5 s: one line
        slave.receive(intruder_status(seq), "eth1", pair.clock.now)
        pair.step(0.1)
    assert slave.core.counters()["unknown_node"] - before == 50
    assert pair.log("slave").count(BAD_NODE) == 1
    pair.step(LOG_INTERVAL)
    slave.receive(intruder_status(51), "eth1", pair.clock.now)
    assert pair.log("slave").count(BAD_NODE) == 2
    assert "49 more message(s) dropped (unknown node) were not logged" in pair.log("slave")
    nodes = snapshot(slave, pair.clock.now, pid=1)["nodes"]
    assert [node["name"] for node in nodes] == ["master", "slave"]  # never became a node


def test_a_replayed_status_is_no_proof_of_life_for_the_isolation_check(tmp_path: Path) -> None:
    pair = running_pair(tmp_path)
    slave = pair.nodes["slave"]
    old = status("master", 1, hg=100)  # master's generation in SteppedPair
    watch = slave.rm.liveness.silence
    assert watch is not None
    heard = watch.heard["master"]
    pair.up["master"] = False  # master is silent from now on
    pair.step(0.5)
    slave.receive(old, "eth1", pair.clock.now)  # an old seq of master's generation
    assert watch.heard["master"] == heard
    assert slave.core.counters()["out_of_window"] >= 1


def test_a_node_name_with_control_characters_is_logged_escaped(tmp_path: Path) -> None:
    pair = running_pair(tmp_path)
    slave = pair.nodes["slave"]
    forged = status("x\nERROR: forged", 1)
    slave.receive(forged, "eth1", pair.clock.now)
    assert "bad node [x\\nERROR: forged]" in pair.log("slave")
    assert "\nERROR: forged" not in pair.log("slave")
