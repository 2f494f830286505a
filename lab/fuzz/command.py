"""`hblab fuzz` and `hblab flood`: the argparse side; the work is in lab.fuzz.runner.

Each brings up its own lab (both nodes hbnode by default, fast profile), so it needs
its own HBLAB_PREFIX/HBLAB_STATE_DIR (the make targets set them) and refuses to
run where a lab is already up. Exit 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lab.hafiles import PROFILES, parse_overrides

FLOOD_TIMERS = ("keepalive=200ms", "deadtime=1")  # Heartbeat has no "s" unit


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fuzz = sub.add_parser(
        "fuzz", help="send N generated bad datagrams at a running hbnode; account for each"
    )
    fuzz.add_argument("--count", type=int, default=1_000_000, help="datagrams (default 1e6)")
    fuzz.add_argument("--rate", type=float, default=10_000, help="per second (0: flat out)")
    fuzz.add_argument("--seed", type=int, default=1)
    fuzz.add_argument("--max-seconds", type=float, default=600.0, help="stop sending after")
    flood = sub.add_parser(
        "flood", help="junk and wrong-key packets at UDP 694 at a rate, with short timers"
    )
    flood.add_argument("--rate", type=float, default=20_000, help="per second")
    flood.add_argument("--seconds", type=float, default=60.0)
    flood.add_argument("--mix", choices=("mixed", "junk", "wrongkey"), default="mixed")
    flood.add_argument("--seed", type=int, default=1)
    for parser in (fuzz, flood):
        parser.add_argument("--impl", default="hbnode", help="hbnode | heartbeat (both nodes)")
        parser.add_argument("--profile", choices=sorted(PROFILES), default="fast")
        parser.add_argument("--target", choices=("master", "slave"), default="slave")
        parser.add_argument(
            "--set", action="append", default=[], metavar="DIRECTIVE=VALUE",
            help="an ha.cf override (flood: keepalive=200ms and deadtime=1s unless set)",
        )  # fmt: skip
        parser.add_argument(
            "--json", metavar="FILE", help="write the whole result here ('-': stdout, no table)"
        )


def options_from(args: argparse.Namespace) -> object:
    from lab.fuzz.runner import RunOptions

    overrides = parse_overrides(args.set)
    if args.command == "flood":
        defaults = parse_overrides(list(FLOOD_TIMERS))
        overrides = {**defaults, **overrides}
        count = int(args.rate * args.seconds)
        return RunOptions(
            "flood", count, args.rate, args.seconds, args.seed, args.target,
            args.impl, args.profile, overrides, args.mix, backend=args.backend,
        )  # fmt: skip
    return RunOptions(
        "fuzz", args.count, args.rate, args.max_seconds, args.seed, args.target,
        args.impl, args.profile, overrides, backend=args.backend,
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    from lab.fuzz import report, runner

    result = runner.run(options_from(args))  # type: ignore[arg-type]
    if args.json == "-":
        print(json.dumps(result, indent=2, default=str))
        return 0 if result.get("ok") else 1
    if "checks" in result:
        print(report.render_table(result), end="")
    if result.get("error"):
        print(f"error: {result['error']}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, default=str) + "\n")
        runner.progress(f"wrote {path}")
    return 0 if result.get("ok") else 1
