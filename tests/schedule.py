"""The order `make test` hands its tests to the xdist workers: the longest lab tests first.

xdist's loadgroup scheduler gives out tests in collection order. The lab tests take
from 10 s to nearly two minutes, and in file order the longest (CTS on hbnode, the
nemesis) came late: the last of them then ran on one worker while the others had
finished. Started first, they overlap the many short tests instead (longest
processing time first, the classic rule for filling parallel machines).

The durations are measured ones, from a CI run's JUnit report
(scripts/lab_durations.py writes tests/lab-durations.json). A test the file does not
name keeps its place after the named ones; a stale figure costs a little balance,
never a test. Every worker reads the same file, so every worker collects the same
order, as xdist requires.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DURATIONS = Path(__file__).resolve().parent / "lab-durations.json"
# xdist's loadgroup appends "@<group>" to a grouped test's nodeid, and the report keeps it.
GROUP_SUFFIX = re.compile(r"@[\w.-]+$")


def ungrouped(name: str) -> str:
    return GROUP_SUFFIX.sub("", name)


def junit_key(nodeid: str) -> str:
    """A test's name as a JUnit report spells it: ``tests.integration.test_x::test_y[p]``
    for ``tests/integration/test_x.py::test_y[p]`` (a class joins the module, dotted)."""
    path, *rest = ungrouped(nodeid).split("::")
    module = path.removesuffix(".py").replace("/", ".")
    *classes, name = rest or [""]
    return ".".join([module, *classes]) + "::" + name


def measured(path: Path = DURATIONS) -> dict[str, float]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in loaded.get("seconds", {}).items()}


def longest_first(items: list[pytest.Item], seconds: dict[str, float]) -> list[pytest.Item]:
    """``items`` with those ``seconds`` names moved to the front, longest first; the
    rest after them in their own order (a stable sort)."""
    return sorted(items, key=lambda item: -seconds.get(junit_key(item.nodeid), 0.0))


# What an unmeasured test counts for in a shard's share: the durations file names only
# the longest, and a typical lab test takes about this long (CI of e2c223f: 238 lab
# tests, 70 worker-minutes).
TYPICAL_SECONDS = 18.0


def shard(
    items: list[pytest.Item], seconds: dict[str, float], index: int, count: int
) -> list[pytest.Item]:
    """The ``index``-th (1-based) of ``count`` shares of ``items`` with about equal
    measured time, for labs that each run one share on an engine of their own.

    Longest first, each test goes to the share with the least time so far (ties to the
    lower share), so every share is computed alike from the same items and figures,
    and the shares together are ``items``, each once. Kept in collection order."""
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: the index must be 1..{count}")
    loads = [0.0] * count
    chosen: set[int] = set()
    weights = [seconds.get(junit_key(item.nodeid), TYPICAL_SECONDS) for item in items]
    for position in sorted(range(len(items)), key=lambda p: -weights[p]):
        share = min(range(count), key=lambda s: loads[s])
        loads[share] += weights[position]
        if share == index - 1:
            chosen.add(position)
    return [item for position, item in enumerate(items) if position in chosen]


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` (HBLAB_SHARD) as (K, N)."""
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not 1 <= int(index) <= int(count):
        raise ValueError(f"HBLAB_SHARD={text!r}: expected K/N with 1 <= K <= N, as 1/2")
    return int(index), int(count)
