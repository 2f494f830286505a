"""A run's rows as the human table and as JUnit XML; the lessons' list and pages;
the pure parts of judging (a lasting state, which watchers a file needs)."""

from __future__ import annotations

import itertools
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.scenario import lessons, report, states
from lab.scenario.load import load
from lab.scenario.record import needs_of
from lab.scenario.result import Row, ScenarioResult, Section, Status

REPO = Path(__file__).resolve().parents[2]
LESSONS = REPO / "docs" / "lessons"


def _result() -> ScenarioResult:
    result = ScenarioResult(Path("docs/lessons/02-power-loss.yaml"), "takeover", "hbnode", "netns")
    hint = "pull master's plug: hblab poweroff master"
    result.rows = [
        Row(Status.PASS, Section.STEP, 10, "poweroff master", "took 0.05 s", seconds=0.05),
        Row(Status.FAIL, Section.CHECK, 32, "master: power off", "on", "not so: power on", hint),
        Row(Status.SKIP, Section.EXPECT, 23, "holder (heartbeat only)", detail="cluster is hbnode"),
    ]
    result.seconds = 12.5
    return result


def test_a_failure_names_file_line_and_the_hint() -> None:
    result = _result()
    lines = [line for row in result.rows for line in report.row_lines(row, result.path)]
    assert lines[0].startswith("  ok    step   :10   poweroff master")
    assert "docs/lessons/02-power-loss.yaml:32: not so: power on" in lines[2]
    assert lines[3].strip() == "hint: pull master's plug: hblab poweroff master"
    assert report.verdict(result).startswith("  -> FAILED: 1 of 2 held [hbnode, netns]")


def test_junit_has_one_case_per_row_with_failures_and_skips(tmp_path: Path) -> None:
    out = tmp_path / "j.xml"
    skipped = ScenarioResult(
        Path("x.yaml"), "only on hbnode", "heartbeat", skipped="written for hbnode"
    )
    report.write_junit([_result(), skipped], out)
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "1", "2")
    first, second = root.findall("testsuite")
    cases = first.findall("testcase")
    assert [c.get("line") for c in cases] == ["10", "32", "23"]
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "not so: power on"
    assert "hint: pull master's plug" in (failure.text or "")
    assert second.find("testcase/skipped") is not None


def test_the_lessons_are_listed_with_their_files() -> None:
    found = {lesson.number: lesson for lesson in lessons.lessons(LESSONS)}
    assert sorted(found) == [f"{n:02d}" for n in range(0, 9)]
    # 00 is the tutorial typed on blank nodes: its page is the lesson.
    page_only = {n for n in found if found[n].page_only}
    assert page_only == {"00"}
    assert [p.name for p in found["08"].scenarios] == ["08-fencing.yaml"]
    assert [p.name for p in found["05"].scenarios] == [
        "05-split-brain.yaml",
        "05-split-brain-ipfail.yaml",
    ]


@pytest.mark.parametrize(
    ("ident", "file", "first"),
    [
        ("1", "01-start.yaml", "### 1. Start heartbeat on master"),
        ("05", "05-split-brain.yaml", "### 1. Pull master's heartbeat cable"),
        ("05-split-brain-ipfail", "05-split-brain-ipfail.yaml", "### 1. Pull the same cable"),
        ("06-wire-wrong-key", "06-wire-wrong-key.yaml", "### 1. Forge with a key"),
    ],
)
def test_start_prints_the_first_step_of_the_part(ident: str, file: str, first: str) -> None:
    lesson, path = lessons.find(ident, LESSONS)
    assert path is not None and path.name == file
    assert lessons.first_step(lesson.page, path).startswith(first)


def test_an_unknown_lesson_is_one_line() -> None:
    with pytest.raises(Exception, match="no lesson '42'"):
        lessons.find("42", LESSONS)


def test_a_state_must_last_and_begin_in_time() -> None:
    # True from the first look: it began no later than that, and lasts.
    began, _ = states.lasting(lambda: (True, "held"), time.time(), 0.0, 0.1)
    assert began is not None
    # False, then true too late: refused with what was seen.
    looks = itertools.chain([(False, "nobody")] * 3, itertools.repeat((True, "held")))
    began, seen = states.lasting(lambda: next(looks), time.time(), 0.05, 0.1)
    assert (began, seen) == (None, "nobody")
    # Never true: the last thing seen.
    began, seen = states.lasting(lambda: (False, "held by master"), time.time(), 0.1, 0.1)
    assert (began, seen) == (None, "held by master")


def test_only_the_watchers_a_file_needs() -> None:
    needs = needs_of(e for s in load(LESSONS / "06-wire.yaml").steps for e in s.expect)
    assert needs.heartbeat_taps == {"slave:eth1", "master:eth1"}
    assert not (needs.arp or needs.http or needs.addr)
    needs = needs_of(load(REPO / "tests" / "scenarios" / "isolation.yaml").expect)
    assert needs.arp and needs.addr and not needs.http
