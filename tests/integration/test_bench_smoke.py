"""hblab bench and hblab report end to end: one quick poweroff run with Heartbeat.

Runs the CLI as a user would (a subprocess), then draws the recorded trace. The
bench brings its own lab up and down; afterwards nothing of it may be left.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lab.backends import make_lab

from .leftovers import assert_no_lab_up

BENCH_TIMEOUT = 150.0  # one run takes ~20 s; a hang must still end the test


def hblab(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *argv],
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def test_quick_bench_of_a_poweroff_then_its_report(tmp_path: Path) -> None:
    assert_no_lab_up("netns", "the bench")
    record, results = tmp_path / "traces", tmp_path / "bench.json"
    done = hblab(
        "bench",
        "--quick",
        "--impls",
        "heartbeat",
        "--scenario",
        "poweroff",
        "--idle-seconds",
        "0",
        "--record",
        str(record),
        "--json",
        str(results),
    )
    assert done.returncode == 0, done.stderr
    assert "[1/1] heartbeat poweroff run 1" in done.stderr  # a progress line
    assert "poweroff  HTTP outage (s)" in done.stdout  # the table
    assert not make_lab("netns").is_up, "the bench left its lab up"

    data = json.loads(results.read_text())
    assert data["impls"] == ["heartbeat"] and data["runs"] == 1
    [run] = data["results"]
    assert run["error"] is None
    figures = run["metrics"]
    deadtime = data["timers"]["deadtime"]
    # Heartbeat cannot notice a dead peer before deadtime, nor the client its page.
    assert deadtime <= figures["outage_s"] < deadtime + 10
    assert deadtime * 0.9 <= figures["detection_s"] < deadtime + 2
    assert figures["two_holders_s"] == 0.0
    assert 0 < figures["no_holder_s"] <= figures["outage_s"] + 0.5
    assert figures["arp_switch_s"] is not None

    trace = Path(run["notes"]["trace"])
    picture = tmp_path / "timeline.svg"
    drawn = hblab("report", "--read", str(trace), "-o", str(picture))
    assert drawn.returncode == 0, drawn.stderr
    assert picture.read_text().lstrip().startswith("<?xml") and "<svg" in picture.read_text()
    page = picture.with_suffix(".html").read_text()
    assert "data:image/svg+xml;base64," in page and "HTTP outage" in page
