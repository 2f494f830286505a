"""``hblab run``, ``hblab lessons`` and ``hblab forge``.

Exit codes of ``run``: 0 when every expectation holds, 1 when any fails, 2 for a
bad file (every problem as ``file:line:``) or a lab that cannot be used.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.errors import LabError
from lab.scenario import lessons as course
from lab.scenario import report
from lab.scenario.load import ScenarioError, ScenarioErrors, load
from lab.scenario.model import Scenario
from lab.scenario.result import Row, ScenarioResult

if TYPE_CHECKING:
    from lab.scenario import runner

EXIT_FAILED = 1
EXIT_USAGE = 2


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    run = sub.add_parser("run", help="run scenario files on a lab; exit 1 if any check fails")
    run.add_argument("files", nargs="+", type=Path, metavar="FILE")
    run.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML")
    run.add_argument(
        "--observe",
        action="store_true",
        help="judge each file's check: list on the lab that is up, changing nothing",
    )
    run.add_argument("--impl", help="the cluster to run, whatever the files say")
    run.add_argument("--keep", action="store_true", help="leave the lab up after (one file)")
    run.add_argument(
        "--validate", action="store_true", help="only check the files (no lab, no root)"
    )
    lessons = sub.add_parser("lessons", help="the course in docs/lessons: list, start, check")
    lesson_sub = lessons.add_subparsers(dest="lesson_command")
    lesson_sub.add_parser("list", help="list the lessons (the default)")
    start = lesson_sub.add_parser("start", help="bring up a lesson's lab, print its first step")
    start.add_argument("lesson", help="a number (05) or a scenario's name (05-split-brain-ipfail)")
    start.add_argument("--impl", help="hbnode (default), heartbeat, master=heartbeat,slave=hbnode")
    check = lesson_sub.add_parser("check", help="check my lab: hblab run --observe for a lesson")
    check.add_argument("lesson")
    forge = sub.add_parser(
        "forge", help="speak in a node's name: status messages continuing its sequence"
    )
    forge.add_argument("--from", dest="sender", default="gw", help="the host sending (gw)")
    forge.add_argument("--as", dest="victim", default="master", help="the node spoken for")
    forge.add_argument("--to", dest="target", default="slave", help="the node that listens")
    forge.add_argument("--key", help="a key line, e.g. '3 md5 Hello!' (default: the lab's key)")
    forge.add_argument("--every", type=float, help="seconds between messages (default keepalive)")
    forge.add_argument("--seconds", type=float, default=60.0, help="forge this long (60)")
    forge.add_argument(
        "--now", action="store_true", help="start at once, not when the node falls silent"
    )


def main(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "forge":
        from lab.scenario import forgecmd

        _need_root()
        return forgecmd.main(args)
    return _cmd_lessons(args)


def _need_root() -> None:
    if os.geteuid() != 0:
        raise LabError("hblab needs root (namespaces, mounts, netlink): run it with sudo")


def load_all(paths: list[Path]) -> list[Scenario]:
    """Every file, or ScenarioError with every problem of every bad file."""
    scenarios, bad = [], []
    for path in paths:
        try:
            scenarios.append(load(path))
        except ScenarioError as exc:
            bad.append(exc)
    if len(bad) == 1:
        raise bad[0]
    if bad:
        raise ScenarioErrors(bad)
    return scenarios


def _cmd_run(args: argparse.Namespace) -> int:
    scenarios = load_all(args.files)
    if args.validate:
        for scn in scenarios:
            checks = sum(len(s.expect) for s in scn.steps) + len(scn.expect)
            counts = f"{len(scn.steps)} steps, {checks} checks, {len(scn.check)} for --observe"
            print(f"{scn.path}: ok ({counts})")
        return 0
    _need_root()
    from lab.scenario import runner  # the watchers load scapy: not for --validate

    if args.keep and len(scenarios) > 1:
        raise LabError("--keep leaves one lab up: give one file")
    options = runner.Options(impl=args.impl, backend=args.backend, keep=args.keep)
    results = run_all(scenarios, options, args.observe)
    if args.junit is not None:
        report.write_junit(results, args.junit)
    return EXIT_FAILED if any(r.failed for r in results) else 0


def run_all(
    scenarios: list[Scenario], options: runner.Options, observe: bool, hint: str = ""
) -> list[ScenarioResult]:
    from lab.scenario import runner

    results = []
    started = time.monotonic()
    for scn in scenarios:
        if observe:
            runner.observable(scn, options)  # a one-line error before any heading
        print(report.heading(scn.path, scn.name, observe), flush=True)

        def show(row: Row, path: Path = scn.path) -> None:
            print("\n".join(report.row_lines(row, path)), flush=True)

        chosen = dataclasses.replace(options, on_row=show)
        result = runner.observe(scn, chosen, hint) if observe else runner.run(scn, chosen)
        print(report.verdict(result), flush=True)
        results.append(result)
    if len(results) > 1:
        print(report.summary(results) + f" in {time.monotonic() - started:.1f} s")
    return results


# -- lessons ---------------------------------------------------------------------------------
def _cmd_lessons(args: argparse.Namespace) -> int:
    what = args.lesson_command or "list"
    if what == "list":
        for lesson in course.lessons():
            files = ", ".join(p.name for p in lesson.scenarios) or "no scenario file: the page"
            print(f"{lesson.number}  {lesson.title:<52} {files}")
        print("hblab lessons start NN brings up a lesson's lab; hblab lessons check NN checks it")
        return 0
    lesson, scenario_path = course.find(args.lesson)
    if scenario_path is None:
        raise LabError(
            f"lesson {lesson.number} ({lesson.title}) has no scenario file: follow {lesson.page}"
        )
    scenario = load(scenario_path)
    _need_root()
    if what == "check":
        from lab.scenario import runner

        hint = f"bring this lesson's lab up with: hblab lessons start {scenario_path.stem}"
        options = runner.Options(backend=args.backend)
        results = run_all([scenario], options, observe=True, hint=hint)
        return EXIT_FAILED if any(r.failed for r in results) else 0
    from lab.scenario import start as lesson_start

    return lesson_start.main(lesson, scenario, args)
