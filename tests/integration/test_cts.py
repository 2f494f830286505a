"""CTS in CI: every R1 test once (random order, fixed seed), hbnode and a mixed pairing.

Runs `hblab cts` as a user would (a subprocess, its own lab under this worker's
prefix). Every test is called once, and the run must pass as CTS judges it: no
failed test, no bad-news line, no failed audit; afterwards nothing of the lab is
left. `make cts` is the full-size run (docs/cts.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.backends import make_lab
from lab.cts.runner import R1_TESTS

from .conftest import backend_name

SEED = 25
TIMEOUT = {"hbnode": 400.0, "master=heartbeat,slave=hbnode": 900.0}


@pytest.mark.parametrize("impl", ["hbnode", "master=heartbeat,slave=hbnode"])
def test_cts_every_r1_test_once(impl: str, tmp_path: Path, measure: Callable[..., None]) -> None:
    assert not make_lab(backend_name()).is_up, "a lab is up: CTS needs its own"
    out = tmp_path / "cts.json"
    argv = [sys.executable, "-m", "lab", "--backend", backend_name(), "cts", "--impl", impl]
    argv += ["--once-each", "--seed", str(SEED), "--json", str(out)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=TIMEOUT[impl], stdin=subprocess.DEVNULL
    )
    assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert "error" not in result, result.get("error")
    assert f"Random seed is: {SEED}" in done.stdout
    tests = result["tests"]
    assert sorted(tests) == sorted(t.name for t in R1_TESTS)
    for name, stats in tests.items():
        assert stats["calls"] == 1, name
        assert stats["failure"] == 0, f"{name}: {result['reasons'].get(name)}"
        assert stats["auditfail"] == 0, f"{name}: {result['audits']}"
    assert result["badnews"] == [], result["badnews"]
    assert result["audits"] == []
    assert result["left_after_down"] == []
    if "hbnode" in impl:
        assert result["replaced_criteria"], "the Split_brain replacement is said"
    assert done.returncode == 0, done.stdout[-3000:]
    assert "PASS" in done.stdout
    measure(f"cts once-each {impl} (min)", result["seconds"] / 60)
    for seconds in result.get("detection_times", []):
        measure(f"cts detection time {impl} (s)", seconds)
