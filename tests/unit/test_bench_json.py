"""Bench results and scenario traces survive a JSON round trip (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.bench.model import BenchResult, Machine, RunResult, dump, load
from lab.bench.trace import Trace, load_trace, save_trace


def make_result() -> BenchResult:
    result = BenchResult(
        Machine("cpu", 2, "6.1", "3.11"),
        "2026-01-01 00:00 UTC",
        "fast",
        2,
        ["heartbeat", "master=heartbeat,slave=hbnode"],
        ["poweroff"],
        {"deadtime": 1.5},
        seconds=12.5,
    )
    result.results = [
        RunResult("heartbeat", "poweroff", 1, {"outage_s": 1.8, "detection_events_s": None}),
        RunResult("heartbeat", "poweroff", 2, {}, "not within 60 s: startup", 61.0),
        RunResult(
            "heartbeat",
            "idle",
            1,
            {"cpu_pct": 0.2, "pss_kib": 12000.0},
            notes={"node": "master", "pids": 3},
        ),
    ]
    return result


def test_bench_result_round_trip(tmp_path: Path) -> None:
    original = make_result()
    dump(original, tmp_path / "bench.json")
    assert load(tmp_path / "bench.json") == original


def test_bench_json_is_tagged_and_refuses_other_files(tmp_path: Path) -> None:
    data = make_result().to_json()
    assert data["format"] == "hblab-bench/1"
    with pytest.raises(ValueError, match="not a bench result"):
        BenchResult.from_json({**data, "format": "something-else"})


def make_trace() -> Trace:
    trace = Trace(
        "hbnode",
        "poweroff",
        1,
        "poweroff master",
        "slave",
        "master",
        "slave",
        1.5,
        {"02:4c:61:62:00:12": "master"},
        start=-1.0,
        end=4.0,
    )
    trace.http = [(-0.5, True, "master"), (0.1, False, None)]
    trace.arp = [(-0.5, ["02:4c:61:62:00:12"]), (0.1, [])]
    trace.neigh = [(0.1, None), (0.2, "02:4c:61:62:00:1c")]
    trace.packets = [(-0.2, "master", "eth1")]
    trace.log_lines = [(1.6, "slave", "WARN: node master: is dead")]
    trace.events = [{"ts": 1.0, "t": 1.5, "step": "peer_dead", "node": "master"}]
    trace.actions = [(0.0, "poweroff master")]
    return trace


def test_trace_round_trip_restores_tuples(tmp_path: Path) -> None:
    original = make_trace()
    save_trace(original, tmp_path / "t.json")
    loaded = load_trace(tmp_path / "t.json")
    assert loaded == original
    assert isinstance(loaded.http[0], tuple)


def test_trace_refuses_a_bench_file(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(make_result().to_json()))
    with pytest.raises(ValueError, match="not a scenario trace"):
        load_trace(path)
