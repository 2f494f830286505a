"""Record the moments the machine itself stalled, for reading beside a CI failure.

A lab test that fails on time alone (a takeover late, a check that gave up) may be
the machine's doing: a paused VM, a host that took the CPU (steal), the disks or the
CPU saturated (Linux's pressure stall information, /proc/pressure). This samples
every 0.1 s and writes one line for each second worth a look: when its own sleep
overran by more than 0.5 s (the whole machine, or this process, was not running),
or when more than half of the second went to steal, full I/O stall or full memory
stall. `.ci/run` starts it first and prints the worst seconds at the end, with
wall-clock times to set against the failures' own.

    python3 scripts/stallwatch.py OUT [--max-seconds N]    # until SIGTERM or N s
    python3 scripts/stallwatch.py --summary OUT            # the worst lines
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

TICK = 0.1
OVERRUN = 0.5  # a 0.1 s sleep that took this much longer: we were not running
BUSY = 0.5  # a second with more than this share lost is worth a line
USER_HZ = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1


def steal_seconds() -> float:
    """CPU time the hypervisor gave to others, summed over CPUs (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / USER_HZ if len(fields) > 8 else 0.0


def pressure_full(kind: str) -> float:
    """Seconds in which every runnable task waited on ``kind`` (io, memory)."""
    try:
        for line in Path(f"/proc/pressure/{kind}").read_text().splitlines():
            if line.startswith("full"):
                return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def sample() -> tuple[float, float, float]:
    return steal_seconds(), pressure_full("io"), pressure_full("memory")


def watch(out: Path, max_seconds: float) -> None:
    stop = False

    def ask_stop(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, ask_stop)
    started = time.monotonic()
    with out.open("a", buffering=1) as log:
        log.write(f"# stallwatch from {time.strftime('%H:%M:%S')}, {CPUS} CPUs\n")
        last_mono, last_second, last = time.monotonic(), time.monotonic(), sample()
        while not stop and time.monotonic() - started < max_seconds:
            time.sleep(TICK)
            now = time.monotonic()
            overran = now - last_mono - TICK
            last_mono = now
            if overran > OVERRUN:
                log.write(f"{time.strftime('%H:%M:%S')} overran {overran:.2f} s\n")
            if now - last_second < 1.0:
                continue
            span, current = now - last_second, sample()
            steal = (current[0] - last[0]) / CPUS / span
            io_full = (current[1] - last[1]) / span
            mem_full = (current[2] - last[2]) / span
            last_second, last = now, current
            if max(steal, io_full, mem_full) > BUSY:
                log.write(
                    f"{time.strftime('%H:%M:%S')} steal {steal:.0%} io_full {io_full:.0%}"
                    f" mem_full {mem_full:.0%}\n"
                )


def summary(out: Path, lines: int = 15) -> None:
    """The longest overruns first, then the worst seconds, and how many of each."""
    if not out.exists():
        print(f"stallwatch: {out} missing")
        return
    rows = [r for r in out.read_text().splitlines() if r and not r.startswith("#")]
    overruns = [r for r in rows if " overran " in r]
    busy = [r for r in rows if " steal " in r]

    def worst_share(row: str) -> float:
        return max(float(p.rstrip("%")) for p in row.split()[2::2])

    overruns.sort(key=lambda r: -float(r.split()[2]))
    busy.sort(key=worst_share, reverse=True)
    print(
        f"stallwatch: {len(overruns)} overruns of its 0.1 s sleep by > {OVERRUN} s,"
        f" {len(busy)} seconds with > {BUSY:.0%} steal or full I/O or memory stall"
    )
    for row in (overruns + busy)[:lines]:
        print(f"  {row}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--max-seconds", type=float, default=3 * 3600.0)
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args()
    if args.summary:
        summary(args.out)
    else:
        watch(args.out, args.max_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
