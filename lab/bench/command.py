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
import time
from collections.abc import Callable
from pathlib import Path

from lab.bench import markdown, table
from lab.bench.machine import revision, this_machine
from lab.bench.metrics import Metric
from lab.bench.model import BenchResult, RunResult, dump
from lab.bench.scenarios import QUICK, SCENARIOS, Scenario, parse_scenarios
from lab.bench.trace import save_trace
from lab.errors import LabError
from lab.hafiles import PROFILES, cluster_timers, parse_overrides
from lab.impls import parse_impl_list
from lab.topology import REFERENCE

REPO = Path(__file__).resolve().parents[2]
DEFAULT_IMPLS = "heartbeat hbnode"
STARTUP_STRIKES = 2  # an implementation that fails to start this often in a row is skipped
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
    from lab.bench.runner import ensure_no_lab, run_once

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
    )
    started = time.monotonic()
    total, done = len(impls) * len(scenarios) * runs, 0
    say(f"{total} runs: {', '.join(impls)} × {', '.join(result.scenarios)} × {runs}")
    idle_impls: list[str] = []  # measured idle together, after the failover runs
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
