#!/usr/bin/env python3
"""Where does the soak's survivor grow? Soak cycles with the survivor's daemon traced.

The 500-cycle soak (RELIABILITY.md) saw the slave's daemon, which lives through
every cycle, grow about 0.5 KiB of RSS a cycle after its first 100 cycles. This
script runs the same cycles (lab.soak.cycle: master powered off and on, auto_failback
on) with the slave's daemon started under tracemalloc, and at chosen cycles has it
write, from inside the daemon:

- a tracemalloc snapshot (what Python holds, by the line that allocated it);
- glibc's ``mallinfo2`` (the C heap: bytes in use, bytes free inside the heap, mmaps);
- the process's VmRSS, Python's allocated block count and the gc's object count.

Comparing these between a warm cycle and the last one says which layer grows:
Python objects (and where they come from), the C heap's free space (fragmentation),
or neither (pages the heap touched once and keeps). The report is printed and saved
as ``DIR/report.txt``; each sample is ``DIR/sample-<cycle>.json``.

Run as root on the netns backend, with a lab prefix of its own::

    HBLAB_PREFIX=hbm HBLAB_STATE_DIR=/var/lib/hbm python3 scripts/soak_memory.py \\
        --cycles 200 --sample-every 40 --out /tmp/soak-memory

The tracer costs the daemon time and memory of its own (the snapshot's frames are
excluded from the comparison); the RSS figures here are not the soak's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab.backends import make_lab  # noqa: E402
from lab.bench.runner import MASTER, SLAVE, sees_active, serves, start_cluster, wait  # noqa: E402
from lab.soak.cycle import cycle_line, log_size, run_cycle, sees_active_since  # noqa: E402

FRAMES = 12  # traceback depth kept per allocation
SAMPLE_PREFIX = "hbnode-memory-"
# Runs inside the node as the daemon's interpreter: on SIGUSR2 it writes one sample
# into /var/log (the lab reads it through lab.log_dir), then it is `hbnode start`.
# The handler runs in the daemon's main thread between two steps of its loop.
TRACER = f"""
import ctypes, gc, json, os, runpy, signal, sys, tracemalloc
tracemalloc.start({FRAMES})

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

_libc = ctypes.CDLL("libc.so.6")
_libc.mallinfo2.restype = MallInfo2

def _rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1

def _sample(signum, frame):
    name = open("/var/log/{SAMPLE_PREFIX}request").read().strip()
    snap = tracemalloc.take_snapshot()
    snap.dump(f"/var/log/{SAMPLE_PREFIX}{{name}}.snapshot")
    info = _libc.mallinfo2()
    current, peak = tracemalloc.get_traced_memory()
    fields = {{n: getattr(info, n) for n, _ in MallInfo2._fields_}}
    record = dict(pid=os.getpid(), rss_kib=_rss_kib(), traced=current, traced_peak=peak,
                  tracemalloc_overhead=tracemalloc.get_tracemalloc_memory(),
                  blocks=sys.getallocatedblocks(), gc_objects=len(gc.get_objects()),
                  mallinfo2=fields)
    path = f"/var/log/{SAMPLE_PREFIX}{{name}}.json"
    with open(path + ".part", "w") as out:
        json.dump(record, out)
    os.rename(path + ".part", path)

signal.signal(signal.SIGUSR2, _sample)
sys.argv = ["hbnode", "start"]
runpy.run_module("hbnode", run_name="__main__", alter_sys=True)
"""


def restart_traced(lab: Any) -> None:
    """Stop the slave's daemon and start it again under the tracer; wait until both
    daemons have heard each other again."""
    offsets = {n: log_size(lab, n) for n in (MASTER, SLAVE)}
    lab.run(SLAVE, ["service", "heartbeat", "stop"], timeout=60, check=True)
    lab.run(SLAVE, [sys.executable, "-c", TRACER], timeout=60, check=True)
    wait(sees_active_since(lab, SLAVE, MASTER, offsets[SLAVE]), 60, "slave sees master")
    wait(sees_active(lab, MASTER, SLAVE), 60, "master sees slave")


def take_sample(lab: Any, name: str, out: Path) -> dict[str, Any]:
    """Have the slave's daemon write sample ``name``; copy it into ``out``."""
    log_dir = lab.log_dir(SLAVE)
    (log_dir / f"{SAMPLE_PREFIX}request").write_text(name)
    pid = lab.daemon_pid(SLAVE)
    if pid is None:
        raise RuntimeError("the slave's daemon is not running")
    os.kill(pid, signal.SIGUSR2)  # the daemon's recorded PID, nothing found by name
    done = log_dir / f"{SAMPLE_PREFIX}{name}.json"
    wait(done.exists, 60, f"sample {name} written")
    record: dict[str, Any] = json.loads(done.read_text())
    shutil.move(str(done), out / f"sample-{name}.json")
    shutil.move(str(log_dir / f"{SAMPLE_PREFIX}{name}.snapshot"), out / f"sample-{name}.snapshot")
    return record


def report(samples: dict[int, dict[str, Any]], out: Path, top: int, warm: int) -> str:
    lines = [
        "cycle  rss_kib  traced_kib  blocks  gc_objects  heap_in_use_kib  heap_free_kib"
        "  arena_kib  mmap_kib"
    ]
    for cycle, s in sorted(samples.items()):
        m = s["mallinfo2"]
        lines.append(
            f"{cycle:5d}  {s['rss_kib']:7d}  {s['traced'] / 1024:10.1f}  {s['blocks']:6d}  "
            f"{s['gc_objects']:10d}  {m['uordblks'] / 1024:15.1f}  {m['fordblks'] / 1024:13.1f}  "
            f"{m['arena'] / 1024:9.1f}  {m['hblkhd'] / 1024:8.1f}"
        )
    cycles = sorted(samples)
    if len(cycles) >= 2:
        # From the first sample after the warm-up (the retransmission history and the
        # caches fill in the first cycles) to the last.
        first = next((c for c in cycles if c >= warm and c != cycles[-1]), cycles[0])
        last = cycles[-1]
        span = last - first
        a, b = samples[first], samples[last]
        lines.append("")
        lines.append(f"cycles {first} → {last} ({span} cycles), per cycle:")
        for label, key in (("RSS", "rss_kib"),):
            lines.append(f"  {label}: {(b[key] - a[key]) / span:+.2f} KiB")
        lines.append(
            f"  traced by tracemalloc: {(b['traced'] - a['traced']) / 1024 / span:+.2f} KiB"
        )
        ma, mb = a["mallinfo2"], b["mallinfo2"]
        for label, key in (
            ("C heap in use", "uordblks"),
            ("C heap free", "fordblks"),
            ("C heap arena", "arena"),
            ("mmapped", "hblkhd"),
        ):
            lines.append(f"  {label}: {(mb[key] - ma[key]) / 1024 / span:+.2f} KiB")
        lines.append(f"  Python blocks: {(b['blocks'] - a['blocks']) / span:+.2f}")
        lines.append(f"  gc objects: {(b['gc_objects'] - a['gc_objects']) / span:+.2f}")
        older = tracemalloc.Snapshot.load(str(out / f"sample-{first}.snapshot"))
        newer = tracemalloc.Snapshot.load(str(out / f"sample-{last}.snapshot"))
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
        older, newer = older.filter_traces(ignore), newer.filter_traces(ignore)
        lines.append("")
        lines.append(f"largest growth by line, cycles {first} → {last}:")
        for stat in newer.compare_to(older, "lineno")[:top]:
            lines.append(f"  {stat}")
        lines.append("")
        lines.append(f"largest growth by traceback, cycles {first} → {last}:")
        for stat in newer.compare_to(older, "traceback")[: max(3, top // 3)]:
            lines.append(f"  {stat.size_diff / 1024:+.1f} KiB, {stat.count_diff:+d} blocks:")
            # The innermost frames: the outer ones are the daemon's start-up.
            lines.extend(f"      {frame}" for frame in stat.traceback.format()[-12:])
    text = "\n".join(lines) + "\n"
    (out / "report.txt").write_text(text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--sample-every", type=int, default=40)
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--warm", type=int, default=50, help="compare from this cycle on")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.cycles < 1 or args.sample_every < 1:
        parser.error("--cycles and --sample-every must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    lab = make_lab("netns")
    if lab.is_up:
        parser.error("a lab is up with this HBLAB_PREFIX: give the script its own")
    samples: dict[int, dict[str, Any]] = {}
    failed = 0
    try:
        start_cluster(lab, "hbnode", args.profile, {})
        restart_traced(lab)
        wait(serves(lab, MASTER), 60, "the client gets master's page")
        samples[0] = take_sample(lab, "0", args.out)
        began = time.monotonic()
        for number in range(1, args.cycles + 1):
            cycle = run_cycle(lab, number, MASTER)
            failed += 0 if cycle.ok else 1
            print(
                f"[{number}/{args.cycles}] {cycle_line(cycle)} "
                f"({(time.monotonic() - began) / 60:.1f} min)",
                flush=True,
            )
            if number % args.sample_every == 0 or number == args.cycles:
                samples[number] = take_sample(lab, str(number), args.out)
                print(
                    f"  sample at cycle {number}: RSS {samples[number]['rss_kib']} KiB", flush=True
                )
    finally:
        lab.down()
    print(report(samples, args.out, args.top, args.warm))
    print(f"{failed} cycle(s) failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
