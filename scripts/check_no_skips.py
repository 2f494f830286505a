"""Fail if a junit report shows a skipped (or missing) integration test.

CI runs as root with everything installed: a skipped lab test there is a missing test.
It also names each lab test that ran a second time after one of the real Heartbeat's
own races (a message lost in its FIFO, tests/integration/own_races.py; its hang in a
restart, test_scenarios.run_file), with the reason: counted, never hidden.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

RERUN = "heartbeat_race_rerun"  # tests/integration/own_races.py's JUnit property


def main(path: str, kind: str = "integration") -> int:
    """``kind``: which tests must not skip, by their directory (integration, package)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        print(f"check_no_skips: cannot read {path}: {exc}")
        return 1
    lab_cases = [c for c in root.iter("testcase") if kind in c.get("classname", "").split(".")]
    skipped = [c for c in lab_cases if c.find("skipped") is not None]
    for case in skipped:
        reason = case.find("skipped")
        message = reason.get("message", "") if reason is not None else ""
        print(f"SKIPPED lab test: {case.get('classname')}::{case.get('name')}: {message}")
    if not lab_cases:
        print(f"check_no_skips: no {kind} test ran")
        return 1
    reruns = [(c, p) for c in lab_cases for p in c.iter("property") if p.get("name") == RERUN]
    for case, why in reruns:
        print(f"RERUN lab test: {case.get('classname')}::{case.get('name')}: {why.get('value')}")
    said = f"check_no_skips: {len(lab_cases)} {kind} tests, {len(skipped)} skipped"
    if reruns or kind == "integration":  # the package stage runs no real Heartbeat
        said += f", {len(reruns)} run twice after the real Heartbeat's own races"
    print(said)
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main(*(sys.argv[1:3] or ["build/junit.xml"])))
