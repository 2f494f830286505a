"""Write tests/lab-durations.json from JUnit reports: each lab test's measured seconds.

`make test` starts the longest lab tests first (tests/schedule.py). Refresh the file
from a CI run's report when tests are added or get faster:

    python3 scripts/lab_durations.py build/junit.xml

Only lab tests (integration, package) of at least ``--over`` seconds are kept: the
rest keep their collection order, which is as good for short tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.schedule import DURATIONS, ungrouped

LAB_KINDS = {"integration", "package"}


def lab_seconds(paths: list[str], over: float) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for path in paths:
        for case in ET.parse(path).getroot().iter("testcase"):
            classname = case.get("classname", "")
            if not LAB_KINDS & set(classname.split(".")):
                continue
            if case.find("skipped") is not None:
                continue
            took = float(case.get("time", "0"))
            if took >= over:
                key = f"{classname}::{ungrouped(case.get('name', ''))}"
                seconds[key] = max(took, seconds.get(key, 0.0))
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", help="JUnit reports (make test's build/junit.xml)")
    parser.add_argument("--over", type=float, default=30.0, help="shorter tests are left out")
    parser.add_argument("--out", type=Path, default=DURATIONS)
    args = parser.parse_args(argv)
    seconds = lab_seconds(args.reports, args.over)
    ordered = dict(sorted(seconds.items(), key=lambda kv: (-kv[1], kv[0])))
    data = {
        "about": "measured seconds of the longest lab tests, from CI's JUnit report "
        "(scripts/lab_durations.py); make test starts them first (tests/schedule.py)",
        "seconds": {k: round(v, 1) for k, v in ordered.items()},
    }
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{args.out}: {len(ordered)} lab tests of {args.over:g} s or more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
