"""scripts/check_no_skips.py: CI fails on a skipped lab test and names every rerun."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.scripts_util import load_script

CASE = '<testcase classname="tests.{kind}.test_x" name="{name}">{body}</testcase>'
RERUN = (
    '<properties><property name="heartbeat_race_rerun" '
    'value="the real Heartbeat on slave lost a message in its FIFO"/></properties>'
)


def _script() -> ModuleType:
    return load_script("check_no_skips")


def _report(tmp_path: Path, *cases: str) -> str:
    path = tmp_path / "junit.xml"
    body = "".join(cases)
    path.write_text(f'<testsuites><testsuite name="pytest">{body}</testsuite></testsuites>')
    return str(path)


def test_a_rerun_is_named_with_its_reason_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _report(
        tmp_path,
        CASE.format(kind="integration", name="test_a", body=RERUN),
        CASE.format(kind="integration", name="test_b", body=""),
        CASE.format(kind="unit", name="test_c", body="<skipped/>"),
    )
    assert _script().main(report) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "RERUN lab test: tests.integration.test_x::test_a: "
        "the real Heartbeat on slave lost a message in its FIFO",
        "check_no_skips: 2 integration tests, 0 skipped, "
        "1 run twice after the real Heartbeat's own races",
    ]


def test_a_skipped_lab_test_fails_ci(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    skipped = '<skipped message="needs root"/>'
    report = _report(tmp_path, CASE.format(kind="integration", name="test_a", body=skipped))
    assert _script().main(report) == 1
    said = capsys.readouterr().out
    assert "SKIPPED lab test: tests.integration.test_x::test_a: needs root" in said


def test_the_package_stage_says_nothing_of_reruns_it_cannot_have(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _report(tmp_path, CASE.format(kind="package", name="test_a", body=""))
    assert _script().main(report, "package") == 0
    assert capsys.readouterr().out == "check_no_skips: 1 package tests, 0 skipped\n"


def test_no_lab_test_at_all_fails(tmp_path: Path) -> None:
    assert _script().main(_report(tmp_path)) == 1
