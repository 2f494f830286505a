""" "Check my lab" notices a skipped step: for each lesson part, the lesson's steps are
done on its lab with one step left out, then ``--observe`` judges the lab; it must
fail, and the first failing line must carry the hint that names the missing step.

(That the check passes when every step was done is shown by each lesson's
automatic run: it ends by judging the same check list; test_scenarios.py.) The
check's logic is the same for every implementation: this runs on hbnode alone.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from lab.backends import make_lab
from lab.scenario import report, runner
from lab.scenario.load import load

from .conftest import backend_name

REPO = Path(__file__).resolve().parents[2]
LESSONS = REPO / "docs" / "lessons"
# file, the steps left out (indexes), words of the hint the first failure must carry
SKIPPED = [
    ("01-start.yaml", {1}, "start heartbeat on slave too"),
    ("02-power-loss.yaml", {0}, "pull master's plug"),
    ("03-auto-failback.yaml", {1}, "power master back on"),
    ("03-auto-failback-off.yaml", {1}, "power master back on"),
    ("04-standby.yaml", {0}, "put master in standby first"),
    ("05-split-brain.yaml", {1}, "plug the cable back"),
    ("05-split-brain-ipfail.yaml", {2, 3}, "make gw stop answering master"),
    ("06-wire.yaml", {2}, "is hblab forge --key '3 md5 Hello!' running?"),
    ("06-wire-wrong-key.yaml", {1}, "is hblab forge --key '3 md5 NotTheKey' running?"),
    ("07-timers.yaml", {0, 1}, "loss"),
    ("07-timers-loose.yaml", {2}, "power master off"),
    ("08-fencing.yaml", {0, 1}, "cut the heartbeat link on both nodes"),
]


def test_every_lesson_part_is_covered() -> None:
    assert {name for name, _, _ in SKIPPED} == {p.name for p in LESSONS.glob("*.yaml")}


@pytest.mark.parametrize(("name", "skip", "hint"), SKIPPED, ids=[s[0] for s in SKIPPED])
def test_check_my_lab_names_the_skipped_step(name: str, skip: set[int], hint: str) -> None:
    scenario = load(LESSONS / name)
    # The other steps keep their own checks: they wait until each step has had its
    # effect, as a student would before checking.
    kept = tuple(step for index, step in enumerate(scenario.steps) if index not in skip)
    partial = dataclasses.replace(scenario, steps=kept, expect=(), check=(), check_at=None)
    lab = make_lab(backend_name())
    if lab.is_up:
        lab.down()
    try:
        # A student's partial lab, not the file's scenario: its ha-log is not judged.
        student = runner.Options(impl="hbnode", backend=backend_name(), keep=True, log_scan=False)
        done = runner.run(partial, student)
        assert not done.failed, f"the student's other steps failed: {done.rows}"
        result = runner.observe(scenario, runner.Options(backend=backend_name()))
        lines = [line for row in result.rows for line in report.row_lines(row, scenario.path)]
        failed = [row for row in result.rows if row.failed]
        assert failed, "the check passed although a step was left out:\n" + "\n".join(lines)
        assert hint in (failed[0].hint or ""), "\n".join(lines)
        if name == "02-power-loss.yaml":  # once, through the command a student types
            _cli_says_it(hint)
    finally:
        make_lab(backend_name()).down()


def _cli_says_it(hint: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lab", "--backend", backend_name(), "lessons", "check", "02"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"hint: {hint}" in done.stdout and "02-power-loss.yaml:" in done.stdout, done.stdout
