"""Scenario files: the shipped ones are valid; a bad one is refused with every problem
as ``file:line: …`` (exit 2 from the CLI); durations resolve against the timers."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbnode.core.timers import Timers
from lab.badnews import PARTITION_RETURN
from lab.cli import main
from lab.scenario import duration
from lab.scenario.load import ScenarioError, load
from lab.scenario.model import CheckKind, StepKind

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "docs" / "lessons").glob("*.yaml")) + sorted(
    (REPO / "tests" / "scenarios").glob("*.yaml")
)
FAST = Timers(
    keepalive=0.25,
    deadtime=1.5,
    warntime=0.75,
    initdead=3.0,
    deadping=1.5,
    max_rexmit_delay=0.25,
    hopfudge=1,
)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_is_valid(path: Path) -> None:
    scenario = load(path)
    assert scenario.steps or scenario.expect or scenario.check


def test_every_lesson_part_has_a_check_my_lab_list() -> None:
    lessons = [p for p in SHIPPED if p.parent.name == "lessons"]
    assert len(lessons) >= 11
    for path in lessons:
        scenario = load(path)
        assert scenario.check, f"{path.name}: no check: list for hblab run --observe"
        assert all(e.hint for e in scenario.check[:1]), f"{path.name}: the first check has no hint"


BASE = """\
name: base
lab:
  set: {auto_failback: "on"}
steps:
  - poweroff: master
    name: cut
    expect:
      - holder: slave
        within: deadtime + 2s
      - outage: {max: 3s}
  - link: {node: master, iface: eth1, state: down}
expect:
  - log: {node: slave, contains: "is dead"}
    after: cut
check:
  - holder: slave
    hint: power master off
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_the_base_example_loads_as_the_model(tmp_path: Path) -> None:
    scenario = load(_write(tmp_path, BASE))
    assert [s.kind for s in scenario.steps] == [StepKind.POWEROFF, StepKind.LINK]
    assert scenario.steps[0].args == {"node": "master"}
    assert scenario.steps[1].args == {"node": "master", "iface": "eth1", "state": "down"}
    holder, outage, log = scenario.steps[0].expect  # `after: cut` joins the step's list
    assert holder.kind is CheckKind.HOLDER and holder.spec["nodes"] == ("slave",)
    assert holder.within is not None and holder.within.resolve(FAST) == 3.5
    assert outage.kind is CheckKind.OUTAGE and outage.spec["max"].resolve(FAST) == 3.0
    assert log.kind is CheckKind.LOG and log.line == 13
    assert scenario.expect == () and scenario.check[0].hint == "power master off"
    assert scenario.lab.overrides == {"auto_failback": "on"}


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("        within: deadtime + 2s", "        withn: deadtime + 2s", 9,
         "unknown key 'withn' (did you mean 'within'?)"),
        ("        within: deadtime + 2s", "        within: 2 sec", 9, "'2 sec': not a duration"),
        ("{max: 3s}", "{max: soon}", 10, "'soon': not a duration"),
        ("  - poweroff: master", "  - poweroff: mastr", 5, "no cluster node 'mastr'"),
        ("iface: eth1, state", "iface: eth7, state", 11, "master has no interface 'eth7'"),
        ("state: down}", "state: sideways}", 11, "'sideways' is not one of"),
        ("    after: cut", "    after: cat", 14, "no step named 'cat'"),
        ("  - poweroff: master", "  - poweroff: master\n    crash: master", 5,
         "a step does one thing"),
        ("      - holder: slave", "      - holder: slave\n        page: slave", 8,
         "one check per item"),
        ("{max: 3s}", "{max: 3s}\n        hold: 2s", 11, "hold: is for"),
        ('contains: "is dead"', 'regex: "(unclosed"', 13, "not a regular expression"),
        ('set: {auto_failback: "on"}', "sett: {}", 3, "unknown key 'sett' (did you mean 'set'?)"),
        ("name: base", "name: [base", 2, "not YAML"),
        # A word-or-mapping choice: a typo inside the mapping is named, not "no choice".
        ("  - poweroff: master", "  - poweron: {nod: master}", 5,
         "steps[0].poweron: unknown key 'nod' (did you mean 'node'?)"),
        ("      - holder: slave", "      - holder: {one_of: [slave], also: master}", 8,
         "unknown key 'also'"),
    ],
)  # fmt: skip
def test_a_bad_file_says_where(tmp_path: Path, old: str, new: str, line: int, words: str) -> None:
    assert old in BASE
    path = _write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    problems = str(caught.value).splitlines()
    assert any(p.startswith(f"{path}:{line}: ") and words in p for p in problems), problems


def test_every_problem_at_once(tmp_path: Path) -> None:
    text = BASE.replace("within: deadtime + 2s", "within: 2 sec").replace("{max: 3s}", "{mx: 3s}")
    with pytest.raises(ScenarioError) as caught:
        load(_write(tmp_path, text))
    assert [line for line, _ in caught.value.problems] == [9, 10]


def test_the_cli_refuses_a_bad_file_with_file_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, BASE.replace("within: deadtime + 2s", "withn: 2s"))
    assert main(["run", "--validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:9: steps[0].expect[0]: unknown key 'withn'")
    good = _write(tmp_path, BASE)
    assert main(["run", "--validate", str(good)]) == 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("1.5", 1.5),
        (3, 3.0),
        ("deadtime + 2s", 3.5),
        ("3 * keepalive", 0.75),
        ("2*deadtime+500ms", 3.5),
        ("deadtime - 1s", 0.5),
        ("keepalive - 1s", 0.0),  # never below zero
        ("initdead + warntime", 3.75),
    ],
)
def test_durations_resolve_against_the_timers(text: str | int, seconds: float) -> None:
    assert duration.parse(text).resolve(FAST) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["2 sec", "deadtim", "-1", "", "1h", "deadtime * 2", True])
def test_bad_durations_are_refused(text: str | bool) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        duration.parse(text)  # type: ignore[arg-type]


LOG_AND_FENCE = """\
name: fenced
lab:
  fencing: true
steps:
  - link: {node: master, iface: eth1, state: down}
    expect:
      - fenced: {any_of: [master, slave]}
      - fenced: slave
expect_log:
  - {line: partition-return, why: the cut is healed}
  - pattern: "CRIT: Giving up"
    why: a failed start
    nodes: [slave]
"""


def test_expect_log_and_fenced_load_as_the_model(tmp_path: Path) -> None:
    scenario = load(_write(tmp_path, LOG_AND_FENCE))
    assert scenario.lab.fencing
    any_of, exact = scenario.steps[0].expect
    assert any_of.kind is CheckKind.FENCED
    assert any_of.spec == {"nodes": ("master", "slave"), "any_of": True}
    assert exact.spec == {"nodes": ("slave",), "any_of": False}
    named, pattern = scenario.expect_log
    assert named.pattern == PARTITION_RETURN and named.nodes is None and named.line == 10
    assert (pattern.pattern, pattern.why, pattern.nodes) == (
        "CRIT: Giving up",
        "a failed start",
        ("slave",),
    )


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("line: partition-return, why", "line: partition-returns, why", 10, "is not one of"),
        ("{line: partition-return, why: the cut is healed}", "{line: partition-return}", 10,
         "'why' is a required property"),
        ('pattern: "CRIT: Giving up"', 'pattern: "(unclosed"', 11, "not a regular expression"),
        ("nodes: [slave]", "nodes: [slaev]", 13, "no cluster node 'slaev'"),
        ("fenced: slave", "fenced: slaev", 8, "no cluster node 'slaev'"),
    ],
)  # fmt: skip
def test_a_bad_expect_log_or_fenced_says_where(
    tmp_path: Path, old: str, new: str, line: int, words: str
) -> None:
    assert old in LOG_AND_FENCE
    path = _write(tmp_path, LOG_AND_FENCE.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    problems = str(caught.value).splitlines()
    assert any(p.startswith(f"{path}:{line}: ") and words in p for p in problems), problems
