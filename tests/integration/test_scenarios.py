"""Scenario files on a lab each: the integration suite's scenarios (tests/scenarios)
and every lesson's automatic run (docs/lessons).

A file runs for each cluster of HBLAB_IMPLS that its ``lab.impls`` allows (the
lessons are written for hbnode and for the real Heartbeat), or, if that leaves
none, on the first cluster it names; the cases are made at collection, so none is
skipped. A file's ``tags`` become pytest markers
(``failover``: make test-failover, and CI's docker stage).

What ``make test`` runs is chosen here, at collection (CI's time; nothing is
skipped, the rest is simply not collected):

* every lesson on every cluster it allows (hbnode and the real Heartbeat: the
  lessons are written for either); ``HBLAB_LESSONS=turn`` takes each lesson once,
  its clusters in turn (01 on hbnode, 02 on the real Heartbeat, …), for a quicker
  local run;
* not a scenario file whose Python twin reads the wire of the same scenario
  (``PYTHON_TWINS``): the twin checks all the file does and more.
  ``HBLAB_SCENARIOS=all`` runs them too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.backends import make_lab
from lab.scenario import report, runner
from lab.scenario.load import load
from lab.scenario.result import ScenarioResult

from .conftest import _impl_specs, backend_name, print_logs
from .own_races import RERUN_PROPERTY, own_failures

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests" / "scenarios"
LESSONS = REPO / "docs" / "lessons"
# Scenario files that a Python test also runs, with wire checks (the ``wire_trace``
# fixture) a scenario file cannot say: file stem -> that test.
PYTHON_TWINS: dict[str, str] = {
    "startup": "test_failover.py::test_startup_master_takes_vip_and_nginx",
    "takeover-poweroff": "test_failover.py::test_takeover_on_poweroff",
    "auto-failback-on": "test_failover.py::test_auto_failback",
    "auto-failback-off": "test_failover.py::test_auto_failback",
    "split-brain-heal": "test_failover.py::test_split_brain_and_heal",
    "standby": "test_handover.py::test_planned_handover_without_two_holders",
    "takeover-tool": "test_handover.py::test_planned_handover_without_two_holders",
    "orderly-stop": "test_handover.py::test_orderly_stop_hands_over_before_deadtime",
    "isolation": "test_handover.py::test_isolated_node_never_holds_with_the_other",
}


def _everything(variable: str) -> bool:
    return os.environ.get(variable, "") == "all"


def _cases(directory: Path, in_turn: bool = False) -> Iterator[Any]:
    """Each file on each cluster it may run on; ``in_turn``: each file on one of them,
    the n-th file on its n-th cluster (wrapping)."""
    for n, path in enumerate(sorted(directory.glob("*.yaml"))):
        if path.stem in PYTHON_TWINS and not _everything("HBLAB_SCENARIOS"):
            continue
        scenario = load(path)
        marks = [getattr(pytest.mark, tag) for tag in scenario.tags]
        allowed = scenario.lab.impls
        specs = [spec for spec in _impl_specs() if allowed is None or spec in allowed]
        if not specs and allowed:
            # Written for clusters HBLAB_IMPLS leaves out (hbnode's own policies): run
            # it on the first it names, whatever HBLAB_IMPLS says, as before.
            specs = [allowed[0]]
        if in_turn:
            specs = [specs[n % len(specs)]]
        for spec in specs:
            yield pytest.param(path, spec, id=f"{path.stem}[{spec}]", marks=marks)


def run_file(
    path: Path,
    spec: str,
    measure: Callable[..., None],
    request: pytest.FixtureRequest,
) -> None:
    """Run one file on a fresh lab; fail with the run's table if any check failed.

    One exception, named and counted: a failed run whose lab shows one of the real
    Heartbeat's own failures (tests/integration/own_races.py: its restart hang, in a
    cluster of two real Heartbeat nodes, or a message lost in its FIFO, in any
    pairing) runs once more on a fresh lab, and that run must pass. The second run is
    named in the JUnit report as own_races' are (``RERUN_PROPERTY``), in the test's own
    properties: pytest's record_property fixture warns under the xunit2 family this
    project's reports use.
    """
    result, own = _run_once(path, spec)
    if result.failed and own:
        why = "; ".join(own)
        print("\n".join(result_lines(result, path)))
        print(f"{path.stem}: {why}: the first run's table is above; running it once more")
        measure(f"{path.stem} second run: {why}", 1, impl=spec)
        request.node.user_properties.append(
            (RERUN_PROPERTY, f"{why}: this is its second run, on a fresh lab")
        )
        result, _ = _run_once(path, spec)
    for row in result.rows:
        if row.measured and not row.failed:
            measure(f"{path.stem}:{row.line}", row.measured, impl=spec)
    measure(f"{path.stem} run", round(result.seconds, 1), impl=spec)
    assert not result.failed, "\n" + "\n".join(result_lines(result, path))


def result_lines(result: ScenarioResult, path: Path) -> list[str]:
    return [line for row in result.rows for line in report.row_lines(row, path)]


def _run_once(path: Path, spec: str) -> tuple[ScenarioResult, list[str]]:
    """The run's result, and what in its lab, if it failed, was the real Heartbeat's own
    failure (own_races.own_failures)."""
    lab = make_lab(backend_name())
    if lab.is_up:
        lab.down()  # a killed run left its lab: clean what it recorded
    options = runner.Options(
        impl=spec,
        backend=backend_name(),
        keep=True,  # taken down here, once a failed run's logs are printed
    )
    result: ScenarioResult | None = None
    own: list[str] = []
    try:
        result = runner.run(load(path), options)
    finally:
        kept = make_lab(backend_name())  # read afresh: the runner brought it up
        if kept.is_up:
            try:
                if result is None or result.failed:
                    print_logs(kept)  # the table says what failed; the logs say why
                    own = own_failures(kept)
            finally:
                kept.down()
    assert result is not None
    return result, own


@pytest.mark.parametrize(("path", "spec"), list(_cases(SCENARIOS)))
def test_scenario(
    path: Path,
    spec: str,
    measure: Callable[..., None],
    request: pytest.FixtureRequest,
) -> None:
    run_file(path, spec, measure, request)


@pytest.mark.parametrize(
    ("path", "spec"),
    list(_cases(LESSONS, in_turn=os.environ.get("HBLAB_LESSONS", "") == "turn")),
)
def test_lesson(
    path: Path,
    spec: str,
    measure: Callable[..., None],
    request: pytest.FixtureRequest,
) -> None:
    run_file(path, spec, measure, request)


def test_every_python_twin_is_a_test_here() -> None:
    """A file left out of make test for its twin: the twin must exist (no lab needed)."""
    for stem, twin in PYTHON_TWINS.items():
        assert (SCENARIOS / f"{stem}.yaml").exists(), stem
        module, _, name = twin.partition("::")
        source = (Path(__file__).parent / module).read_text()
        assert f"def {name.partition('[')[0]}(" in source, f"{stem}: no {twin}"
