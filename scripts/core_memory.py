#!/usr/bin/env python3
"""Does hbnode's sans-IO core grow over failover cycles? Measured in virtual time.

Two whole hbnode Nodes (core, resource manager and glue, the real codec and
signatures) run on the fake network of tests/harness/node_pair.py: master is powered
off and on ``--cycles`` times (4 s off, 16 s on, auto_failback on), the slave lives
through all of them, as in the lab's soak. tracemalloc starts after ``--warm``
cycles; two snapshots, after ``--first`` more cycles and at the end, are compared, so
what the run allocated once (start-up, caches filling) is left out and what remains
is growth. The harness's own records (its holder history, the delivered messages,
the logs) are emptied before each snapshot: they are not the daemon's.

No lab, no root, no sleeping: 100 cycles take about a minute here. The lab soak
(scripts/soak_memory.py) adds what this leaves out: the I/O adapter, the
interpreter's allocators and the kernel's view (RSS).

    python3 scripts/core_memory.py --cycles 320
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hbnode.message import Message  # noqa: E402
from hbnode.node import Node  # noqa: E402
from tests.harness.node_pair import NodePair  # noqa: E402


def cycle(pair: NodePair) -> None:
    pair.poweroff("master")
    pair.run(4.0)
    pair.poweron("master")
    pair.run(16.0)


def forget_harness_records(pair: NodePair) -> None:
    pair.history[:] = pair.history[-1:]
    for received in pair.delivered.values():
        received.clear()
    for log in pair.logs.values():
        log.seek(0)
        log.truncate()


def census() -> tuple[int, int]:
    """Live Node and Message objects."""
    gc.collect()
    nodes = messages = 0
    for obj in gc.get_objects():
        if isinstance(obj, Node):
            nodes += 1
        elif isinstance(obj, Message):
            messages += 1
    return nodes, messages


def snapshot(pair: NodePair) -> tracemalloc.Snapshot:
    forget_harness_records(pair)
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=320, help="cycles compared")
    parser.add_argument("--warm", type=int, default=10, help="cycles before tracing")
    parser.add_argument("--first", type=int, default=20, help="traced cycles before snapshot 1")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    if min(args.cycles, args.first) < 1 or args.warm < 0:
        parser.error("--cycles and --first must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        pair = NodePair(Path(tmp))
        pair.start_both_and_settle()
        for _ in range(args.warm):
            cycle(pair)
        tracemalloc.start(10)
        for _ in range(args.first):
            cycle(pair)
        first = snapshot(pair)
        before = census()
        for number in range(1, args.cycles + 1):
            cycle(pair)
            if pair.holder() != "master":
                print(f"cycle {number}: the group did not settle on master: {pair.holders()}")
                return 1
        last = snapshot(pair)
        after = census()
    stats = last.compare_to(first, "lineno")
    size = sum(s.size_diff for s in stats)
    blocks = sum(s.count_diff for s in stats)
    print(f"live Node and Message objects: {before} before, {after} after")
    print(
        f"traced growth over {args.cycles} cycles: {size / 1024:+.1f} KiB, {blocks:+d} blocks"
        f" ({size / args.cycles:+.0f} B and {blocks / args.cycles:+.2f} blocks a cycle)"
    )
    print("largest growth by line:")
    for stat in stats[: args.top]:
        print(f"  {stat}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
