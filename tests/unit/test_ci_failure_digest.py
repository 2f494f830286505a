"""scripts/ci_failure_digest.py: the end of CI's log says what each failed test said."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.scripts_util import load_script

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="0" tests="3">
<testcase classname="tests.integration.test_nemesis"
 name="test_a_fixed_violation_stays_fixed[seed32]">
<failure message="AssertionError: [nemesis] tail&#10;assert [{'kind': 'two_holders'}] == []">
path/test_nemesis.py:57: in test_a_fixed_violation_stays_fixed
E   AssertionError: [nemesis] tail
E   assert [{'kind': 'two_holders'}] == []
E     Left contains one more item: {'kind': 'two_holders', 't': 12.3}
</failure></testcase>
<testcase classname="tests.integration.test_interop" name="test_ok"/>
<testcase classname="tests.integration.test_interop" name="test_setup">
<error message="failed on setup with &quot;LabError: netns exists&quot;">
E   LabError: netns exists</error>
</testcase>
</testsuite></testsuites>
"""


@pytest.fixture(scope="module")
def digest() -> ModuleType:
    return load_script("ci_failure_digest")


def test_each_failure_and_error_is_named_with_its_explanation_once(
    digest: ModuleType, tmp_path: Path
) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(REPORT)
    found = digest.failures(report)
    assert [name for name, _ in found] == [
        "tests.integration.test_nemesis::test_a_fixed_violation_stays_fixed[seed32] (failure)",
        "tests.integration.test_interop::test_setup (error)",
    ]
    gist = found[0][1].splitlines()
    assert gist == [
        "AssertionError: [nemesis] tail",
        "assert [{'kind': 'two_holders'}] == []",
        "Left contains one more item: {'kind': 'two_holders', 't': 12.3}",
    ]


def test_a_missing_report_is_passed_over_and_nothing_fails(
    digest: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(REPORT)
    assert digest.main([str(tmp_path / "absent.xml"), str(report)]) == 0
    out = capsys.readouterr().out
    assert "CI failure digest: 2 failed test(s)" in out
    assert digest.main([str(tmp_path / "absent.xml")]) == 0
    assert capsys.readouterr().out == ""


def test_an_unreadable_report_is_said_so(digest: ModuleType, tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text("<testsuites>")
    [(name, gist)] = digest.failures(report)
    assert name == str(report) and gist.startswith("cannot read the report")
