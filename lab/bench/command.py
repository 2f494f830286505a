"""`hblab bench`: every scenario, for every implementation, N runs each, then the table.

Runs go implementation by implementation, scenario by scenario, each in a fresh
lab, with one progress line per run on stderr (how long it took, its main figures,
and an estimate of the time left).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lab.backends import default_backend
from lab.bench import markdown, table
from lab.bench.machine import revision, this_machine
from lab.bench.metrics import Metric
from lab.bench.model import BenchResult, RunResult, dump
from lab.bench.parallel import STARTUP_STRIKES
from lab.bench.scenarios import QUICK, SCENARIOS, Scenario, parse_scenarios
from lab.bench.trace import save_trace
from lab.errors import LabError
from lab.hafiles import PROFILES, cluster_timers, parse_overrides
from lab.impls import parse_impl_list
from lab.topology import REFERENCE

REPO = Path(__file__).resolve().parents[2]
DEFAULT_IMPLS = "heartbeat hbnode"
IDLE_SLICE = 10.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser("bench", help="measure failovers of each implementation, side by side")
    bench.add_argument(
        "--impls",
        default=DEFAULT_IMPLS,
        help="space-separated clusters: heartbeat, hbnode, or mixed master=heartbeat,slave=hbnode",
    )
    bench.add_argument(
        "--runs", type=int, default=5, help="runs per scenario (default 5; 0: idle figures only)"
    )
    bench.add_argument(
        "--scenario",
        action="append",
        default=[],
        choices=[s.value for s in SCENARIOS],
        help="only this scenario (repeatable; default all)",
    )
    bench.add_argument("--quick", action="store_true", help="1 run, fewer scenarios, 10 s idle")
    bench.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    bench.add_argument("--set", action="append", default=[], metavar="DIRECTIVE=VALUE")
    bench.add_argument(
        "--idle-seconds", type=float, help="idle window for CPU/PSS (default 60; 0 skips it)"
    )
    bench.add_argument(
        "--json", nargs="?", const="-", metavar="FILE", help="write the results as JSON (- stdout)"
    )
    bench.add_argument(
        "--markdown",
        type=Path,
        help="write this Markdown file (default: build/BENCHMARKS.md, not with --quick; "
        "copy it over BENCHMARKS.md to publish a run)",
    )
    bench.add_argument("--no-markdown", action="store_true")
    bench.add_argument("--record", type=Path, help="save each run's trace here (for report)")
    bench.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="labs side by side (netns; default 1): each implementation's runs of a "
        "scenario at the same time as the others'; the idle window still runs alone",
    )


def progress(line: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def _plan(args: argparse.Namespace) -> tuple[list[str], list[Scenario], int, float]:
    impls = parse_impl_list(args.impls, [h.name for h in REFERENCE.cluster_nodes])
    try:
        names = args.scenario or ([s.value for s in QUICK] if args.quick else [])
        scenarios = parse_scenarios(names)
    except ValueError as exc:
        raise LabError(str(exc)) from None
    runs = 1 if args.quick else args.runs
    if args.jobs < 1:
        raise LabError("--jobs must be at least 1")
    if args.jobs > 1 and (args.backend or default_backend()) != "netns":
        raise LabError("--jobs > 1 needs the netns backend (container labs share subnets)")
    idle = args.idle_seconds if args.idle_seconds is not None else (10.0 if args.quick else 60.0)
    if runs < 1 and not (runs == 0 and idle > 0):
        raise LabError("--runs must be at least 1 (0: only the idle measurement)")
    return impls, scenarios, runs, idle


def _summary(result: RunResult) -> str:
    if not result.ok:
        return f"FAILED: {result.error}"
    shown = []
    for metric in (Metric.OUTAGE, Metric.TWO_HOLDERS, Metric.NO_HOLDER, Metric.DETECTION):
        value = result.metrics.get(metric.value)
        if value is not None:
            shown.append(f"{metric.value.removesuffix('_s')} {value:.3f} s")
    return ", ".join(shown)


def run_bench(args: argparse.Namespace, say: Callable[[str], None] = progress) -> BenchResult:
    # The runner loads scapy (slow): only when a bench actually runs.
    from lab.bench.idle import measure_idle
    from lab.bench.runner import ensure_no_lab

    impls, scenarios, runs, idle = _plan(args)
    ensure_no_lab(args.backend)
    overrides = parse_overrides(args.set)
    # What the nodes run with: the profile, then --set (keepalive=1 for the idle cost
    # at 1 s is the profile's no more).
    timers = cluster_timers(REFERENCE, args.profile, overrides)
    result = BenchResult(
        machine=this_machine(),
        started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        profile=args.profile,
        runs=runs,
        impls=impls,
        scenarios=[s.name.value for s in scenarios],
        timers={
            "keepalive": timers.keepalive,
            "deadtime": timers.deadtime,
            "warntime": timers.warntime,
            "initdead": timers.initdead,
        },
        revision=revision(REPO),
        jobs=args.jobs,
    )
    started = time.monotonic()
    total = len(impls) * len(scenarios) * runs
    say(f"{total} runs: {', '.join(impls)} × {', '.join(result.scenarios)} × {runs}")
    if args.jobs > 1:
        idle_impls = _in_jobs(args, impls, scenarios, runs, result, say, started)
    else:
        idle_impls = _one_by_one(args, impls, scenarios, runs, result, say, started)
    if idle > 0 and idle_impls:
        try:
            result.results += measure_idle(
                idle_impls, args.profile, idle, IDLE_SLICE, overrides, say, args.backend
            )
        except Exception as exc:  # recorded like a failed run, the bench goes on
            for impl in idle_impls:
                failed = RunResult(impl, "idle", 1, error=f"{type(exc).__name__}: {exc}")
                result.results.append(failed)
            say(f"idle measurement failed: {exc}")
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _one_by_one(
    args: argparse.Namespace,
    impls: list[str],
    scenarios: list[Scenario],
    runs: int,
    result: BenchResult,
    say: Callable[[str], None],
    started: float,
) -> list[str]:
    """Every run in this process's lab, one after the other; the implementations that
    started (measured idle afterwards)."""
    from lab.bench.runner import run_once

    overrides = parse_overrides(args.set)
    total, done = len(impls) * len(scenarios) * runs, 0
    idle_impls: list[str] = []
    for impl in impls:
        strikes = 0
        for scenario in scenarios:
            for run in range(1, runs + 1):
                done += 1
                if strikes >= STARTUP_STRIKES:
                    skipped = RunResult(impl, scenario.name.value, run, error="skipped: no startup")
                    result.results.append(skipped)
                    continue
                one, trace = run_once(impl, scenario, run, args.profile, overrides, args.backend)
                result.results.append(one)
                strikes = strikes + 1 if one.error and "at startup" in one.error else 0
                if strikes == STARTUP_STRIKES:
                    say(f"{impl} did not start {strikes} times in a row: skipping its other runs")
                if trace is not None and args.record is not None:
                    path = args.record / f"{impl.replace(',', '+')}-{scenario.name}-{run}.json"
                    save_trace(trace, path)
                    one.notes["trace"] = str(path)
                say(_progress_line(done, total, one, started))
        if strikes < STARTUP_STRIKES:
            idle_impls.append(impl)
    return idle_impls


def _in_jobs(
    args: argparse.Namespace,
    impls: list[str],
    scenarios: list[Scenario],
    runs: int,
    result: BenchResult,
    say: Callable[[str], None],
    started: float,
) -> list[str]:
    """The runs spread over ``--jobs`` labs (lab.bench.parallel), each job a child
    `hblab bench`; the implementations that started at least once."""
    from lab.bench.parallel import Jobs, Task, child_argv, order

    total, done = len(impls) * len(scenarios) * runs, 0
    lock = threading.Lock()

    def argv(task: Task, json_path: Path) -> list[str]:
        return child_argv(task, args.profile, args.set, json_path, args.record)

    def finished(task: Task, results: list[RunResult]) -> None:
        nonlocal done
        with lock:
            result.results.extend(results)
            for one in results:
                done += 1
                say(_progress_line(done, total, one, started))

    jobs = Jobs(args.jobs, REFERENCE.prefix, argv, say)
    jobs.run(order(impls, scenarios, runs), finished)
    # The same order as one by one: implementation, scenario, run.
    rank = {s.name.value: n for n, s in enumerate(scenarios)}
    result.results.sort(key=lambda r: (impls.index(r.impl), rank[r.scenario], r.run))
    return [impl for impl in impls if impl not in jobs.gave_up]


def _progress_line(done: int, total: int, one: RunResult, started: float) -> str:
    elapsed = time.monotonic() - started
    left = elapsed / done * (total - done)
    return (
        f"[{done}/{total}] {one.impl} {one.scenario} run {one.run} ({one.seconds:.1f} s): "
        f"{_summary(one)}  — elapsed {elapsed / 60:.1f} min, ~{left / 60:.1f} min left"
    )


def _command_line() -> str:
    """How this bench was started, for BENCHMARKS.md (``hblab bench …``)."""
    words = sys.argv[sys.argv.index("bench") + 1 :] if "bench" in sys.argv else []
    return " ".join(["hblab", "bench", *words])


def main(args: argparse.Namespace) -> int:
    result = run_bench(args)
    if args.json == "-":
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(table.render_text(result), end="")
        if args.json:
            dump(result, Path(args.json))
            progress(f"wrote {args.json}")
    target = args.markdown or (None if args.quick else Path("build") / "BENCHMARKS.md")
    if target is not None and not args.no_markdown:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(markdown.render(result, _command_line()))
        progress(f"wrote {target}")
    return 0 if all(r.ok for r in result.results) else 1
