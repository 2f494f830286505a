"""The nemesis in CI: three minutes of random faults from a fixed seed on hbnode, and
the minimal schedules of every violation found and fixed, replayed (regressions).

Each runs `hblab nemesis` as a user would (a subprocess, its own lab under this
worker's prefix) and must exit 0: every invariant held (docs/nemesis.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import KEPT_LOGS, backend_name
from .leftovers import assert_no_lab_up

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nemesis"
SEED = 2511
# Three minutes, as issue 25 asks of CI: 78 steps, 44 episodes, every kind of fault.
# CI's docker stage plays one minute (HBLAB_NEMESIS_SECONDS=60): the same generator
# and seed draw the same faults for that minute, then end every one still open.
SECONDS = int(os.environ.get("HBLAB_NEMESIS_SECONDS", "180"))
TIMEOUT = 420.0


def _nemesis(args: list[str], out: Path) -> subprocess.CompletedProcess[str]:
    assert_no_lab_up(backend_name(), "the nemesis")
    argv = [sys.executable, "-m", "lab", "--backend", backend_name(), "nemesis", *args]
    argv += ["--no-shrink", "--out", str(out)]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )


def _results(out: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.result.json"))]


def _explain(result: dict[str, object], done: subprocess.CompletedProcess[str], out: Path) -> str:
    """The violations first, one a line (CI's failure digest keeps the first lines),
    then the tail of the run's own report and of each node's ha-log."""
    found = result["violations"]
    lines = [str(v) for v in found] if isinstance(found, list) else [str(found)]
    said = ["--- the nemesis said:", done.stdout[-4000:]]
    return "\n".join(["violations:", *lines, *said, *_node_logs(out)])


def _node_logs(out: Path) -> list[str]:
    """The kept ha-log tails (hblab nemesis keeps them when a run fails), and a copy in
    HBLAB_KEEP_LOGS for reading in full, since pytest's tmp_path does not last."""
    lines: list[str] = []
    for log in sorted(out.glob("*.logs/*.ha-log")):
        lines += [f"--- {log.name}, last lines:", *log.read_text().splitlines()[-60:]]
    if KEPT_LOGS:
        for logs in out.glob("*.logs"):
            shutil.copytree(logs, Path(KEPT_LOGS) / logs.name, dirs_exist_ok=True)
    return lines


def test_a_random_schedule_keeps_every_invariant(tmp_path: Path) -> None:
    done = _nemesis(["--impl", "hbnode", "--seed", str(SEED), "--duration", str(SECONDS)], tmp_path)
    results = _results(tmp_path)
    assert len(results) == 1, done.stdout[-3000:] + done.stderr[-3000:]
    result = results[0]
    assert result["error"] is None, result["error"]
    assert result["violations"] == [], _explain(result, done, tmp_path)
    assert result["left_after_down"] == []
    schedule = result["schedule"]
    # A step comes every 2.5 s on average (lab.nemesis.schedule._gap): far fewer is a broken
    # generator, not bad luck.
    assert isinstance(schedule, dict) and len(schedule["steps"]) >= SECONDS // 3  # type: ignore[arg-type]
    assert done.returncode == 0


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_a_fixed_violation_stays_fixed(path: Path, tmp_path: Path) -> None:
    done = _nemesis(["--replay", str(path)], tmp_path)
    results = _results(tmp_path)
    assert len(results) == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert results[0]["violations"] == [], _explain(results[0], done, tmp_path)
    assert done.returncode == 0
