"""CTS in CI: every R1 test once on hbnode, and the interop tests once on a mixed pair.

Runs `hblab cts` as a user would (a subprocess, its own lab under this worker's
prefix), random order, fixed seed. On hbnode every R1 test is called once and the
run must pass as CTS judges it: no failed test, no bad-news line, no failed audit;
afterwards nothing of the lab is left. The mixed pair (master Heartbeat, slave
hbnode) runs the tests where the two implementations meet (a split brain, a
standby, a detection, a power loss) once each, to keep CI short: every one must
pass and audit clean. Its bad news may hold only what docs/cts.md records: the real
Heartbeat's own `CRIT: Late heartbeat … (> deadtime)` after Split_brain's heal (a
finding: CTS's ignore list lacks it), and the lines this machine makes Heartbeat log
(no memory locking, no SCHED_RR), as the lab tests' BadNews scan declares them.
`make cts` is the full-size run on any pairing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lab import memlock, rtsched
from lab.cts.runner import R1_TESTS

from .badnews import LATE_AFTER_HEAL, MEMLOCK_LINE, REALTIME_LINE
from .conftest import backend_name
from .leftovers import assert_no_lab_up

SEED = 25
MIXED = "master=heartbeat,slave=hbnode"
INTEROP_TESTS = ("Split_brain", "standby", "DetectionTime", "Stonith")
CHOSEN = {"hbnode": [t.name for t in R1_TESTS], MIXED: list(INTEROP_TESTS)}
TIMEOUT = {"hbnode": 400.0, MIXED: 400.0}


def _recorded(badnews: list[dict[str, str]]) -> list[dict[str, str]]:
    """The bad-news lines docs/cts.md does not record for the real Heartbeat."""
    allowed = [(r"^\S+ +\d+ [\d:]+ master heartbeat: .*" + LATE_AFTER_HEAL, {"Split_brain"})]
    if not memlock.heartbeat_can_lock(memlock.of_process()):  # netns: the nodes' limits
        allowed.append((MEMLOCK_LINE, set()))
    if not rtsched.process_can_realtime("self"):
        allowed.append((REALTIME_LINE, set()))
    return [
        b
        for b in badnews
        if not any(re.search(p, b["line"]) and (not t or b["test"] in t) for p, t in allowed)
    ]


def _tails(logs: Path, lines: int = 60) -> str:
    """The end of every node's ha-log, kept by --keep-logs, for a failure's message."""
    return "\n".join(
        f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        for log in sorted(logs.glob("*.ha-log"))
    )


@pytest.mark.parametrize("impl", ["hbnode", MIXED])
def test_cts_every_r1_test_once(impl: str, tmp_path: Path, measure: Callable[..., None]) -> None:
    assert_no_lab_up(backend_name(), "CTS")
    out = tmp_path / "cts.json"
    argv = [sys.executable, "-m", "lab", "--backend", backend_name(), "cts", "--impl", impl]
    logs = tmp_path / "logs"
    argv += ["--once-each", "--seed", str(SEED), "--json", str(out), "--keep-logs", str(logs)]
    if impl != "hbnode":
        argv += [arg for name in CHOSEN[impl] for arg in ("--choose", name)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=TIMEOUT[impl], stdin=subprocess.DEVNULL
    )
    assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert "error" not in result, result.get("error")
    assert f"Random seed is: {SEED}" in done.stdout
    tests = result["tests"]
    assert sorted(tests) == sorted(CHOSEN[impl])
    for name, stats in tests.items():
        assert stats["calls"] == 1, name
        assert stats["failure"] == 0, (
            f"{name}: {result['reasons'].get(name)}\n{done.stdout[-2000:]}\n{_tails(logs)}"
        )
        assert stats["auditfail"] == 0, f"{name}: {result['audits']}"
    badnews = result["badnews"] if impl == "hbnode" else _recorded(result["badnews"])
    assert badnews == [], badnews
    assert result["audits"] == []
    assert result["left_after_down"] == []
    assert result["replaced_criteria"], "the Split_brain replacement is said"
    verdict = "PASS" if not result["badnews"] else "FAIL"  # CTS's verdict, unchanged
    assert done.returncode == (0 if verdict == "PASS" else 1), done.stdout[-3000:]
    assert f": {verdict}" in done.stdout
    measure(f"cts once-each {impl} (min)", result["seconds"] / 60)
    for seconds in result.get("detection_times", []):
        measure(f"cts detection time {impl} (s)", seconds)
