"""`hblab nemesis`: random fault schedules from a seed, checked, shrunk when they fail.

    hblab nemesis --impl SPEC --seed S --duration SECONDS [--runs N] [--out DIR]
    hblab nemesis --replay FILE          # a saved schedule, played and checked again

Each run brings up a lab of its own, plays the schedule with the recorder on,
checks the invariants (lab.nemesis.checker), and takes the lab down. A run that
breaks an invariant is shrunk to a minimal schedule, saved as JSON that
``--replay`` plays. Exit 0 only when every run kept every invariant, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lab.errors import LabError
from lab.hafiles import PROFILES, parse_overrides
from lab.nemesis.schedule import Schedule

MAX_DURATION = 420.0  # the recorder's probes stop at 600 s: schedule + settle must fit


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    nem = sub.add_parser("nemesis", help="random faults from a seed, an invariant checker")
    nem.add_argument("--impl", default="hbnode", help="heartbeat | hbnode | master=…,slave=…")
    nem.add_argument("--seed", type=int, help="the schedule's seed (default: the time)")
    nem.add_argument("--duration", type=float, default=120.0, help="seconds of faults")
    nem.add_argument("--runs", type=int, default=1, help="runs, seeds S, S+1, … (default 1)")
    nem.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    nem.add_argument("--set", action="append", default=[], metavar="DIRECTIVE=VALUE")
    nem.add_argument("--replay", type=Path, metavar="FILE", help="play a saved schedule")
    nem.add_argument("--out", type=Path, default=Path("build/nemesis"), help="results here")
    nem.add_argument("--no-shrink", action="store_true", help="do not shrink a failing run")
    nem.add_argument("--shrink-replays", type=int, default=10, help="replays a shrink may use")
    nem.add_argument("--shrink-minutes", type=float, default=30.0)


def say(line: str) -> None:
    print(f"[nemesis {time.strftime('%H:%M:%S')}] {line}", flush=True)


def main(args: argparse.Namespace) -> int:
    if args.replay is not None:
        schedules = [Schedule.load(args.replay)]
    else:
        if not 5 <= args.duration <= MAX_DURATION:
            raise LabError(f"--duration must be 5 to {MAX_DURATION:g} s (use --runs for more)")
        seed = args.seed if args.seed is not None else int(time.time())
        schedules = [_generate(args, seed + n) for n in range(max(1, args.runs))]
    failed = 0
    for schedule in schedules:
        if not _one(args, schedule):
            failed += 1
    say(f"{len(schedules) - failed} of {len(schedules)} runs kept every invariant")
    return 0 if failed == 0 else 1


def _generate(args: argparse.Namespace, seed: int) -> Schedule:
    from lab.hafiles import cluster_timers
    from lab.nemesis.schedule import generate
    from lab.topology import REFERENCE

    overrides = parse_overrides(args.set)
    deadtime = cluster_timers(REFERENCE, args.profile, overrides).deadtime
    return generate(seed, args.duration, deadtime, args.impl, args.profile, overrides)


def _one(args: argparse.Namespace, schedule: Schedule) -> bool:
    from lab.nemesis.checker import Bounds
    from lab.nemesis.runner import run_schedule
    from lab.nemesis.shrink import shrink

    name = f"{_slug(schedule.impl)}-seed{schedule.seed}"
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    schedule.save(out / f"{name}.schedule.json")
    say(
        f"seed {schedule.seed}, {schedule.impl}: {len(schedule.steps)} steps over "
        f"{schedule.duration:g} s ({len(schedule.episodes())} episodes)"
    )
    result = run_schedule(schedule, args.backend, say, out / f"{name}.logs")
    (out / f"{name}.result.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    if result.timeline is not None:
        timeline = result.timeline.to_json()
        (out / f"{name}.timeline.json").write_text(json.dumps(timeline) + "\n")
        bounds = Bounds(result.timeline.deadtime, result.timeline.hbnode_only)
        for what, bound in bounds.table().items():
            say(f"bound: two holders after {what}: {bound}" if what != "settle" else bound)
    for kind, figures in sorted(result.to_json()["overlaps"].items()):
        say(
            f"{kind}: {figures['episodes']:g} episodes, two holders "
            f"{figures['two_holders_s']:.2f} s (longest past the fault's end "
            f"{figures['past_end_s']:.2f} s)"
        )
    for violation in result.violations:
        say(f"VIOLATION {violation.invariant} at {violation.t:.2f} s: {violation.detail}")
    if result.error:
        say(f"error: {result.error}")
    if result.left_after_down:
        say(f"left after down: {result.left_after_down}")
    say(f"seed {schedule.seed}: " + ("every invariant held" if result.ok else "FAILED"))
    if result.ok or args.no_shrink or args.replay is not None or not result.violations:
        return result.ok
    first = result.violations[0]

    def replay(candidate: Schedule) -> set[str]:
        return run_schedule(candidate, args.backend, say).invariants

    small = shrink(
        schedule,
        first.invariant,
        first.t,
        replay,
        args.shrink_replays,
        args.shrink_minutes,
        say,
    )
    path = out / f"{name}.{first.invariant}.min.json"
    small.save(path)
    say(f"minimal schedule ({small.note}) saved: {path} (hblab nemesis --replay {path})")
    return False


def _slug(impl: str) -> str:
    return impl.replace("=", "-").replace(",", "_")
