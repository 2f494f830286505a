"""The bench's command line: what --quick, --runs and --scenario plan (no lab needed)."""

from __future__ import annotations

import pytest

from lab.bench.command import _plan
from lab.bench.scenarios import QUICK, SCENARIOS, ScenarioName, parse_scenarios
from lab.cli import make_parser
from lab.errors import LabError


def plan(*argv: str) -> tuple[list[str], list[str], int, float]:
    impls, scenarios, runs, idle = _plan(make_parser().parse_args(["bench", *argv]))
    return impls, [s.name.value for s in scenarios], runs, idle


def test_defaults_are_both_implementations_every_scenario_five_runs() -> None:
    assert plan() == (["heartbeat", "hbnode"], [s.value for s in SCENARIOS], 5, 60.0)


def test_quick_is_one_run_of_fewer_scenarios_and_a_short_idle() -> None:
    _, scenarios, runs, idle = plan("--quick", "--runs", "7")
    assert scenarios == [s.value for s in QUICK] and len(scenarios) < len(SCENARIOS)
    assert (runs, idle) == (1, 10.0)


def test_scenarios_and_mixed_clusters_are_chosen_on_the_command_line() -> None:
    impls, scenarios, _, idle = plan(
        "--impls",
        "heartbeat master=heartbeat,slave=hbnode",
        "--scenario",
        "heal",
        "--scenario",
        "cut-ping",
        "--idle-seconds",
        "0",
    )
    assert impls == ["heartbeat", "master=heartbeat,slave=hbnode"]
    assert scenarios == ["heal", "cut-ping"] and idle == 0.0


def test_zero_runs_is_the_idle_measurement_alone() -> None:
    assert plan("--runs", "0", "--idle-seconds", "120")[2:] == (0, 120.0)


@pytest.mark.parametrize(
    "argv",
    [
        ["--runs", "0", "--idle-seconds", "0"],
        ["--runs", "-1"],
        ["--impls", ","],
        ["--impls", "nope"],
    ],
)
def test_bad_plans_are_refused(argv: list[str]) -> None:
    with pytest.raises((LabError, ValueError)):
        plan(*argv)


def test_parse_scenarios() -> None:
    assert parse_scenarios(["all"]) == list(SCENARIOS.values())
    assert parse_scenarios(["stop"]) == [SCENARIOS[ScenarioName.STOP]]
    with pytest.raises(ValueError, match="unknown scenario 'nap'"):
        parse_scenarios(["nap"])
