"""`hblab bench --jobs N`: the plan, each job's environment and command line, and the
job runner itself, driven with real child processes that write a bench result the
way `hblab bench --json` does (no lab needed)."""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.bench.command import _plan
from lab.bench.model import RunResult
from lab.bench.parallel import Jobs, Task, _relayed, child_argv, job_env, order
from lab.bench.scenarios import SCENARIOS, ScenarioName
from lab.cli import make_parser
from lab.errors import LabError

POWEROFF = SCENARIOS[ScenarioName.POWEROFF]
FENCE = SCENARIOS[ScenarioName.FENCE_CRASH]
START = SCENARIOS[ScenarioName.START]

# A stand-in job: writes the results a bench of one task would, with the prefix it was
# given; it fails to start the implementation named last, or dies if that is "crash".
CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    out, impl, scenario, runs, failing, times = sys.argv[1:7]
    runs = int(runs)
    began = time.monotonic()
    if scenario == "heal":  # a long job: says whether it was stopped or ran out
        try:
            time.sleep(30)
            end = "ran out"
        except KeyboardInterrupt:
            end = "stopped"
        with open(times, "a") as f:
            f.write(f"{scenario} {end}\\n")
        sys.exit(1)
    print("[bench 00:00:00] 1 runs: x", file=sys.stderr)
    print("[bench 00:00:00] [1/1] x run 1", file=sys.stderr)
    if failing == "crash":
        print("Traceback: it broke", file=sys.stderr)
        sys.exit(1)
    error = "at startup: no VIP" if impl == failing else None
    results = [
        {"impl": impl, "scenario": scenario, "run": n, "metrics": {}, "error": error,
         "seconds": 0.0, "notes": {"prefix": os.environ["HBLAB_PREFIX"]}}
        for n in range(1, runs + 1)
    ]
    data = {"format": "hblab-bench/1", "machine": {"cpu_model": "x", "cores": 2,
            "kernel": "k", "python": "3"}, "started": "now", "profile": "fast",
            "runs": runs, "impls": [impl], "scenarios": [scenario], "timers": {},
            "results": results}
    open(out, "w").write(json.dumps(data))
    with open(times, "a") as f:
        f.write(f"{scenario} {began} {time.monotonic()}\\n")
    """
)


def stand_in(failing: str, times: Path) -> Callable[[Task, Path], list[str]]:
    def argv(task: Task, json_path: Path) -> list[str]:
        words = [task.impl, task.scenario.name.value, str(task.runs), failing, str(times)]
        return [sys.executable, "-c", CHILD, str(json_path), *words]

    return argv


def run_jobs(
    jobs: int, tasks: list[Task], failing: str = "", times: Path = Path("/dev/null")
) -> tuple[Jobs, list[RunResult], list[str]]:
    said: list[str] = []
    results: list[RunResult] = []
    lock = threading.Lock()

    def done(task: Task, got: list[RunResult]) -> None:
        with lock:
            results.extend(got)

    runner = Jobs(jobs, "hbu", stand_in(failing, times), said.append)
    runner.run(tasks, done)
    return runner, results, said


def test_long_scenarios_go_first_and_implementations_run_side_by_side() -> None:
    tasks = order(["heartbeat", "hbnode"], [START, POWEROFF, FENCE], 2)
    assert [(t.scenario.name.value, t.impl) for t in tasks] == [
        ("fence-crash", "heartbeat"),
        ("fence-crash", "hbnode"),
        ("poweroff", "heartbeat"),
        ("poweroff", "hbnode"),
        ("start", "heartbeat"),  # alone, after the rest: its figures are CPU-bound
        ("start", "hbnode"),
    ]
    assert {t.runs for t in tasks} == {2}


def test_a_scenario_that_runs_alone_shares_the_machine_with_no_other_job(
    tmp_path: Path,
) -> None:
    times = tmp_path / "times"
    tasks = order(["heartbeat", "hbnode"], [START, POWEROFF, FENCE], 1)
    run_jobs(2, tasks, times=times)
    spans = [
        (line.split()[0], float(line.split()[1]), float(line.split()[2]))
        for line in times.read_text().splitlines()
    ]
    assert len(spans) == 6
    for name, began, ended in spans:
        if name == "start":
            others = [s for s in spans if (s[1], s[2]) != (began, ended)]
            assert all(e <= began or b >= ended for _, b, e in others)


def test_each_job_has_a_lab_prefix_and_state_dirs_of_its_own() -> None:
    env = job_env(2, "hbb")
    assert env["HBLAB_PREFIX"] == "hbbj2"
    assert env["HBLAB_STATE_DIR"] == "/var/lib/hblab-hbbj2"
    assert env["HBLAB_D_STATE_DIR"] == "/var/lib/hblab-d/hbbj2"
    with pytest.raises(LabError, match="bad prefix"):
        job_env(1, "longname")  # 'longnamej1' names too long an interface


def test_a_job_is_one_bench_of_one_task_without_an_idle_window(tmp_path: Path) -> None:
    task = Task("master=heartbeat,slave=hbnode", POWEROFF, 3)
    argv = child_argv(task, "fast", ["keepalive=1"], tmp_path / "r.json", tmp_path / "rec")
    words = " ".join(argv[1:])
    assert "--backend netns bench --impls master=heartbeat,slave=hbnode" in words
    assert "--scenario poweroff --runs 3 --idle-seconds 0 --profile fast" in words
    assert "--set keepalive=1" in words and f"--record {tmp_path / 'rec'}" in words


def test_jobs_share_their_slots_and_every_run_comes_back() -> None:
    tasks = order(["heartbeat", "hbnode"], [POWEROFF, FENCE], 2)
    runner, results, said = run_jobs(2, tasks)
    assert len(results) == 8 and all(r.ok for r in results)
    assert {r.notes["prefix"] for r in results} <= {"hbuj1", "hbuj2"}
    assert not runner.gave_up
    # a job's start is passed on, its per-run lines are not (the parent prints those)
    assert any("run(s) begin" in line for line in said)
    assert not any("[1/1]" in line for line in said)


def test_a_job_that_dies_without_results_reports_each_of_its_runs_failed() -> None:
    _, results, _ = run_jobs(1, [Task("hbnode", POWEROFF, 2)], failing="crash")
    assert [r.run for r in results] == [1, 2]
    assert all(r.error == "bench job failed (exit 1): Traceback: it broke" for r in results)


def test_an_implementation_that_never_starts_is_skipped_after_two_jobs() -> None:
    scenarios = [POWEROFF, FENCE, SCENARIOS[ScenarioName.CRASH]]
    tasks = [Task("heartbeat", s, 1) for s in scenarios] + [Task("hbnode", POWEROFF, 1)]
    runner, results, said = run_jobs(1, tasks, failing="heartbeat")
    errors = [r.error for r in results if r.impl == "heartbeat"]
    assert errors == ["at startup: no VIP", "at startup: no VIP", "skipped: no startup"]
    assert runner.gave_up == {"heartbeat"} and any("did not start" in s for s in said)
    assert [r.ok for r in results if r.impl == "hbnode"] == [True]


def test_relayed_lines() -> None:
    task = Task("hbnode", POWEROFF, 2)
    assert _relayed("[bench 10:00:00] 2 runs: hbnode × poweroff × 2", task) == (
        "hbnode poweroff: 2 run(s) begin"
    )
    assert _relayed("[bench 10:00:00] [1/2] hbnode poweroff run 1 (9 s)", task) is None
    assert _relayed("[bench 10:00:00] wrote /tmp/x.json", task) is None
    assert _relayed("hbnode did not start 2 times", task) == "hbnode did not start 2 times"


def test_more_than_one_job_needs_the_netns_backend() -> None:
    args = make_parser().parse_args(["bench", "--backend", "docker", "--jobs", "2"])
    with pytest.raises(LabError, match="netns"):
        _plan(args)
    with pytest.raises(LabError, match="at least 1"):
        _plan(make_parser().parse_args(["bench", "--jobs", "0"]))


def test_a_bench_stopped_starts_no_new_job_and_stops_the_running_ones(
    tmp_path: Path,
) -> None:
    """Ctrl-C (here: an error in the bench itself) must not leave the jobs running:
    each running one gets SIGINT (it takes its lab down), the queued ones never start."""
    times = tmp_path / "times"
    heal = SCENARIOS[ScenarioName.HEAL]
    tasks = [Task("hbnode", heal, 1), Task("hbnode", POWEROFF, 1), Task("hbnode", FENCE, 1)]

    def done(task: Task, got: list[RunResult]) -> None:
        raise RuntimeError(f"the bench broke after {task.label}")

    runner = Jobs(2, "hbu", stand_in("", times), lambda line: None)
    with pytest.raises(RuntimeError, match="after hbnode poweroff"):
        runner.run(tasks, done)
    ended = times.read_text().splitlines()
    # interrupted, not left to run its 30 s (a SIGINT that lands while the child's
    # Python still starts ends it before it can say so: nothing written is fine too)
    assert "heal ran out" not in ended
    assert not any(line.startswith("fence-crash") for line in ended)  # never started
