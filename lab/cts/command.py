"""`hblab cts`: CTS's R1 tests against a lab of its own, in a seeded random order.

    hblab cts --impl SPEC [--iterations N | --once-each] [--seed S] [--choose TEST]…

The lab comes up with heartbeat stopped (CTS starts it itself), the run prints
CTS's lines as it goes and its summary at the end (overall and per-test counts,
the detection-time statistics), then the lab goes down and nothing of it may be
left. Exit 0 only when every test passed, no bad news was found and every audit
passed; 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.hafiles import PROFILES, parse_overrides

FORMAT = "hblab-cts/1"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cts = sub.add_parser(
        "cts", help="Heartbeat's Cluster Test Suite (R1 tests), random order from a seed"
    )
    cts.add_argument("--impl", default="hbnode", help="heartbeat | hbnode | master=…,slave=…")
    cts.add_argument("--iterations", type=int, default=20, help="tests to run (default 20)")
    cts.add_argument(
        "--once-each", action="store_true", help="every applicable test once, in a random order"
    )
    cts.add_argument("--seed", type=int, help="the random order's seed (default: the time)")
    cts.add_argument(
        "--choose", action="append", default=[], metavar="TEST", help="only this test (repeatable)"
    )
    cts.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    cts.add_argument("--set", action="append", default=[], metavar="DIRECTIVE=VALUE")
    cts.add_argument("--minutes", type=float, default=0.0, help="start no test after this long")
    cts.add_argument("--json", metavar="FILE", help="write the results here")
    cts.add_argument(
        "--keep-logs",
        metavar="DIR",
        help="before the lab goes down, copy every node's ha-log and ha-debug here",
    )
    cts.add_argument("--list", action="store_true", help="list the applicable tests and stop")


def say(line: str) -> None:
    print(f"{time.strftime('%b %d %H:%M:%S')} CTS: {line}", flush=True)


def main(args: argparse.Namespace) -> int:
    from lab.cts.runner import R1_TESTS

    if args.list:
        for test in R1_TESTS:
            print(test.name)
        return 0
    if args.iterations < 1 and not args.once_each:
        raise LabError("--iterations must be at least 1")
    unknown = set(args.choose) - {t.name for t in R1_TESTS}
    if unknown:
        raise LabError(f"unknown test {sorted(unknown)[0]!r} (hblab cts --list)")
    seed = args.seed if args.seed is not None else int(time.time())
    result = run_cts(args, seed)
    print(render(result), end="")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


def run_cts(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    from lab.backends import make_lab
    from lab.bench.machine import revision
    from lab.bench.runner import impls_of

    overrides = parse_overrides(args.set)
    lab = make_lab(args.backend)
    if lab.is_up:
        raise LabError(
            "a lab is up with this HBLAB_PREFIX/HBLAB_STATE_DIR: CTS needs its own "
            "(hblab down first, or run with HBLAB_PREFIX=hbc HBLAB_STATE_DIR=/var/lib/hbc)"
        )
    result: dict[str, Any] = {
        "format": FORMAT,
        "impl": args.impl,
        "backend": lab.backend,
        "profile": args.profile,
        "overrides": overrides,
        "seed": seed,
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": revision(Path(__file__).resolve().parents[2]),
        "ok": False,
    }
    began = time.monotonic()
    say(f"Random seed is: {seed}")
    try:
        lab.up(impls_of(args.impl), args.profile, overrides, start_daemons=False)
        _run(lab, args, seed, result)
    except KeyboardInterrupt:
        result["error"] = "interrupted"
    except Exception as exc:  # the lab still goes down, and what was seen is kept
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if args.keep_logs:
            from lab.nodelogs import keep_logs

            keep_logs(lab, Path(args.keep_logs))
        lab.down()
        result["left_after_down"] = lab.leftovers()
        result["seconds"] = round(time.monotonic() - began, 1)
    stats = result.get("overall", {})
    result["ok"] = (
        "error" not in result
        and not result.get("stopped_early")
        and stats.get("failure", 0) == 0
        and stats.get("BadNews", 0) == 0
        and stats.get("auditfail", 0) == 0
        and stats.get("success", 0) > 0
        and not result["left_after_down"]
    )
    return result


def _run(lab: Any, args: argparse.Namespace, seed: int, result: dict[str, Any]) -> None:
    from lab.cts.cm import LabCM
    from lab.cts.patterns import Timing
    from lab.cts.probe import lab_prober
    from lab.cts.runner import R1_TESTS, RandomTests
    from lab.cts.special import DetectionTimeTest

    timing = Timing(lab.timers().deadtime)
    result["timing"] = [
        {"what": what, "cts": cts, "lab_s": round(ours, 3)} for what, cts, ours in timing.table()
    ]
    cm = LabCM(lab, timing, say)
    tests = [cls(cm) for cls in R1_TESTS if not args.choose or cls.name in args.choose]
    tests = [t for t in tests if t.is_applicable()]
    say(f"times scaled by deadtime/30 = {timing.scale:.3f}: DeadTime {timing.dead_time:g} s")
    in_place = [n for n in cm.nodes if cm.impls[n] == "hbnode"]
    replaced = (
        [
            f"Split_brain: 'both nodes restart' replaced for {', '.join(in_place)} (hbnode) by "
            "'no restart, the owner alone holds the VIP and keeps it' (docs/differences.md)"
        ]
        if in_place
        else []
    )
    for note in replaced:
        say(note)
    runner = RandomTests(cm, tests, random.Random(seed), lab_prober(lab), say)
    plan = runner.schedule(args.iterations, args.once_each)
    say(f">>>>>>>>>>>>>>>> BEGINNING {len(plan)} TESTS ({args.impl}, {lab.backend})")
    stats = runner.run(plan, args.minutes)
    result["overall"] = dict(stats.overall)
    result["tests"] = {t.name: t.to_json() for t in tests}
    result["reasons"] = {t.name: t.reasons for t in tests if t.reasons}
    result["badnews"] = stats.badnews
    result["audits"] = stats.audits
    result["iterations"] = stats.log
    result["stopped_early"] = stats.stopped_early
    result["warnings"] = cm.warnings
    for test in tests:
        if isinstance(test, DetectionTimeTest):
            result["detection_times"] = [round(x, 4) for x in test.times]
    result["replaced_criteria"] = replaced


def render(result: dict[str, Any]) -> str:
    """CTS's summary: overall results, then each test's statistics."""
    lines = ["****************", f"Overall Results:{result.get('overall', {})}"]
    lines += ["****************", "Detailed Results"]
    for name, stats in result.get("tests", {}).items():
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in stats.items()}
        lines.append(f"Test {name}: \t{shown}")
    times = result.get("detection_times") or []
    if times:
        ordered = sorted(times)
        mean = sum(times) / len(times)
        lines.append(
            f"DetectionTime: {len(times)} measured: min {ordered[0] * 1000:.0f} ms, "
            f"mean {mean * 1000:.0f} ms, median {ordered[len(times) // 2] * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms"
        )
    for note in result.get("replaced_criteria", []):
        lines.append(f"replaced criterion (hbnode, stronger): {note}")
    for entry in result.get("badnews", []):
        lines.append(f"BadNews after {entry['test']}: {entry['line']}")
    for entry in result.get("audits", []):
        lines.append(f"Audit {entry['audit']} failed after {entry['test']}: {entry['problems']}")
    for name, reasons in result.get("reasons", {}).items():
        lines += [f"Test {name} failed: {reason}" for reason in reasons]
    if result.get("stopped_early"):
        lines.append(f"stopped early: {result['stopped_early']}")
    if result.get("error"):
        lines.append(f"error: {result['error']}")
    if result.get("left_after_down"):
        lines.append(f"left after hblab down: {result['left_after_down']}")
    lines.append(
        f"seed {result['seed']}, {result['impl']} on {result['backend']}, "
        f"{result.get('seconds', 0) / 60:.1f} min: " + ("PASS" if result["ok"] else "FAIL")
    )
    lines.append("<<<<<<<<<<<<<<<< TESTS COMPLETED")
    return "\n".join(lines) + "\n"
