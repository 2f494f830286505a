#!/usr/bin/env python3
"""Where does the soak's survivor grow? Soak cycles with the survivor's daemon sampled.

The 500-cycle soak (RELIABILITY.md) saw the slave's daemon, which lives through
every cycle, grow about 0.5 KiB of RSS a cycle after its first 100 cycles. This
script runs the same cycles (lab.soak.cycle: master powered off and on, auto_failback
on) with the slave's daemon started under a sampler, and at every ``--sample-every``
cycles has it write, from inside the daemon:

- glibc's ``mallinfo2`` (the C heap: bytes in use, bytes free inside it, mmaps);
- pymalloc's own figures (``sys._debugmallocstats``: arenas, used and free blocks);
- VmRSS, Python's allocated block count and the gc's object count;
- with ``--trace``, a tracemalloc snapshot (what Python holds, by the line that
  allocated it). Tracing and snapshots cost memory of their own, so the RSS of a
  traced run is not the soak's: the in-use figures are what to read there. With
  ``--trace-from N`` tracing starts only after cycle N: the snapshots then hold only
  what was allocated since, so a diff of two later ones is the growth alone;
- with ``--census``, the size of every container (dict, list, set, deque) the gc
  knows, by object, and of the dicts and tuples it does not track: the report lists
  those that grew, and what they hold. It also counts every object the tracked ones
  hold, two steps deep, by type, and str and bytes by their first 40 characters,
  and lists what grew most per cycle.

The script adds the daemon's RSS by kind of mapping (/proc/PID/smaps: the brk heap,
anonymous maps, files). A least-squares fit after ``--warm`` cycles says which layer
grows: Python objects, the C heap's in-use bytes, or only free space inside the
allocators (fragmentation). The report is printed and saved as ``DIR/report.txt``;
each sample is ``DIR/sample-<cycle>.json``.

Run as root on the netns backend, with a lab prefix of its own and from a tree you
do not edit meanwhile (the nodes run the tree the lab runs from)::

    HBLAB_PREFIX=hbm HBLAB_STATE_DIR=/var/lib/hbm python3 scripts/soak_memory.py \\
        --cycles 200 --sample-every 10 --out /tmp/soak-memory [--trace] [--census]
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
TRACE_START = "trace-start"  # the sample request that starts tracemalloc (--trace-from)
SAMPLE_PREFIX = "hbnode-memory-"
# Runs inside the node as the daemon's interpreter: on SIGUSR2 it writes one sample
# into /var/log (the lab reads it through lab.log_dir), then it is `hbnode start`.
# The handler runs in the daemon's main thread between two steps of its loop.
TRACER = f"""
import collections, ctypes, gc, json, os, runpy, signal, sys, tracemalloc
if os.environ.get("HBNODE_MEMORY_TRACE") == "1":
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

def _pymalloc():
    # sys._debugmallocstats writes to the C stderr: point fd 2 at a file meanwhile.
    path = "/var/log/{SAMPLE_PREFIX}pymalloc"
    saved = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.dup2(fd, 2)
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
    found = {{}}
    free_lists = 0
    for line in open(path):
        if line.startswith("# ") and "=" in line:
            key, _, value = line[2:].partition("=")
            found[key.strip()] = int(value.strip().replace(",", ""))
        elif " free " in line and "each =" in line:
            # "   7 free 1-sized PyTupleObjects * 32 bytes each = 224": objects kept
            # for reuse (tuples, lists, dicts, floats). Their blocks stay allocated:
            # sys.getallocatedblocks counts them, no object holds them.
            free_lists += int(line.split()[0])
    found["objects in free lists"] = free_lists
    os.unlink(path)
    return found

def _describe(o):
    try:
        if isinstance(o, dict):
            return "keys " + ", ".join(repr(k)[:40] for k in list(o)[:3])
        return "items " + ", ".join(type(i).__name__ for i in list(o)[:3])
    except Exception as exc:  # a container changing under us: say so, sample on
        return f"? {{exc!r}}"[:80]

def _walk():
    # The gc's objects, and what they hold two steps deep that it does not track:
    # strings, numbers, and the dicts and tuples CPython untracks because they hold
    # only such atomic items (a dict of str to int, say).
    tracked = gc.get_objects()
    seen = set(id(o) for o in tracked)
    held, step = [], tracked
    for _ in range(2):
        found = []
        for o in step:
            for r in gc.get_referents(o):
                if id(r) not in seen and not gc.is_tracked(r):
                    seen.add(id(r))
                    found.append(r)
        held += found
        step = found
    return tracked, held

def _census(tracked, held):
    # Every container with a few items: its id, type, size and what it holds. A
    # growing block count with a flat gc count is items added to some container.
    found = []
    for o in tracked:
        if type(o) in (dict, list, set, collections.deque) and len(o) >= 4:
            found.append([id(o), type(o).__name__, len(o), _describe(o)])
    for o in held:
        if type(o) in (dict, tuple) and len(o) >= 4:
            found.append([id(o), type(o).__name__ + " untracked", len(o), _describe(o)])
    return found

def _objects(tracked, held):
    # Every object by type; str and bytes also by their first 40 characters.
    types = collections.Counter(type(o).__name__ for o in tracked)
    types.update(type(o).__name__ for o in held)
    texts = collections.Counter(repr(o[:40]) for o in held if type(o) in (str, bytes))
    return dict(types), dict(texts)

def _sample(signum, frame):
    name = open("/var/log/{SAMPLE_PREFIX}request").read().strip()
    if name == "{TRACE_START}" and not tracemalloc.is_tracing():
        tracemalloc.start({FRAMES})  # --trace-from: only what is allocated from now on
    record = dict(pid=os.getpid(), rss_kib=_rss_kib(), blocks=sys.getallocatedblocks(),
                  gc_objects=len(gc.get_objects()), pymalloc=_pymalloc())
    if os.environ.get("HBNODE_MEMORY_CENSUS") == "1":
        # One walk, before the census's own descriptions exist to be counted.
        tracked, held = _walk()
        record["types"], record["texts"] = _objects(tracked, held)
        record["census"] = _census(tracked, held)
        del tracked, held
    if tracemalloc.is_tracing():
        tracemalloc.take_snapshot().dump(f"/var/log/{SAMPLE_PREFIX}{{name}}.snapshot")
        record["traced"], record["traced_peak"] = tracemalloc.get_traced_memory()
        record["tracemalloc_overhead"] = tracemalloc.get_tracemalloc_memory()
    info = _libc.mallinfo2()
    record["mallinfo2"] = {{n: getattr(info, n) for n, _ in MallInfo2._fields_}}
    path = f"/var/log/{SAMPLE_PREFIX}{{name}}.json"
    with open(path + ".part", "w") as out:
        json.dump(record, out)
    os.rename(path + ".part", path)

signal.signal(signal.SIGUSR2, _sample)
sys.argv = ["hbnode", "start"]
runpy.run_module("hbnode", run_name="__main__", alter_sys=True)
"""


def restart_traced(lab: Any, trace: bool, census: bool = False) -> None:
    """Stop the slave's daemon and start it again with the sampler (and tracemalloc
    when ``trace``, the container census when ``census``); wait until both daemons
    have heard each other again."""
    offsets = {n: log_size(lab, n) for n in (MASTER, SLAVE)}
    lab.run(SLAVE, ["service", "heartbeat", "stop"], timeout=60, check=True)
    flags = [f"HBNODE_MEMORY_TRACE={int(trace)}", f"HBNODE_MEMORY_CENSUS={int(census)}"]
    lab.run(SLAVE, ["env", *flags, sys.executable, "-c", TRACER], timeout=60, check=True)
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
    record["smaps"] = smaps_rss(pid)
    (out / f"sample-{name}.json").write_text(json.dumps(record))
    done.unlink()
    snapshot = log_dir / f"{SAMPLE_PREFIX}{name}.snapshot"
    if snapshot.exists():
        shutil.move(str(snapshot), out / f"sample-{name}.snapshot")
    return record


def smaps_rss(pid: int) -> dict[str, int]:
    """The process's resident KiB by kind of mapping: the brk heap (glibc's main
    arena), anonymous mappings (pymalloc's arenas, other malloc arenas, big blocks,
    thread stacks), the main stack, and files (the interpreter, libraries)."""
    kinds: dict[str, int] = {"heap": 0, "anon": 0, "stack": 0, "file": 0, "other": 0}
    kind = "other"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and len(fields) >= 5 and ":" not in fields[0]:
            name = fields[5] if len(fields) > 5 else ""
            if name == "[heap]":
                kind = "heap"
            elif name == "[stack]":
                kind = "stack"
            elif name == "" or name.startswith("[anon"):
                kind = "anon"
            elif name.startswith("/"):
                kind = "file"
            else:
                kind = "other"
        elif fields and fields[0] == "Rss:":
            kinds[kind] += int(fields[1])
    return kinds


def metrics(sample: dict[str, Any]) -> dict[str, float]:
    """One sample's figures, in KiB (counts as they are)."""
    m, py, maps = sample["mallinfo2"], sample["pymalloc"], sample["smaps"]
    found = {
        "RSS": float(sample["rss_kib"]),
        "RSS of the brk heap": float(maps["heap"]),
        "RSS of anonymous maps": float(maps["anon"]),
        "RSS of files": float(maps["file"]),
        "C heap in use (mallinfo2 uordblks)": m["uordblks"] / 1024,
        "C heap free (fordblks)": m["fordblks"] / 1024,
        "C heap arenas (arena)": m["arena"] / 1024,
        "C heap mmapped blocks (hblkhd)": m["hblkhd"] / 1024,
        "pymalloc arenas allocated (count)": float(py.get("arenas allocated current", 0)),
        "pymalloc bytes in allocated blocks": py.get("bytes in allocated blocks", 0) / 1024,
        "pymalloc bytes in available blocks": py.get("bytes in available blocks", 0) / 1024,
        "Python blocks (count)": float(sample["blocks"]),
        "objects in free lists (count)": float(py.get("objects in free lists", 0)),
        "gc objects (count)": float(sample["gc_objects"]),
    }
    if "traced" in sample:
        found["traced by tracemalloc"] = sample["traced"] / 1024
    return found


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares growth per cycle."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


def report(samples: dict[int, dict[str, Any]], out: Path, top: int, warm: int) -> str:
    cycles = sorted(samples)
    table = {c: metrics(samples[c]) for c in cycles}
    names = list(table[cycles[0]])
    lines = [
        "per sample (KiB unless a count):",
        "cycle  " + "  ".join(f"{i}:{n}" for i, n in enumerate(names)),
    ]
    lines += [f"{c:5d}  " + "  ".join(f"{table[c][n]:.0f}" for n in names) for c in cycles]
    fit = [c for c in cycles if c >= warm]
    if len(fit) >= 2:
        lines += ["", f"growth per cycle, least squares over cycles {fit[0]}–{fit[-1]}:"]
        for n in names:
            lines.append(f"  {n}: {slope([(c, table[c][n]) for c in fit]):+.3f}")
        traced = [c for c in fit if (out / f"sample-{c}.snapshot").exists()]
        if len(traced) >= 2:
            lines += _snapshot_diff(out, traced[0], traced[-1], top)
        counted = [c for c in fit if "census" in samples[c]]
        if len(counted) >= 2:
            lines += _census_diff(samples, counted, top)
            lines += _counter_fit(samples, counted, "types", "objects by type", top)
            lines += _counter_fit(samples, counted, "texts", "str and bytes by start", top)
    text = "\n".join(lines) + "\n"
    (out / "report.txt").write_text(text)
    return text


def _census_diff(samples: dict[int, dict[str, Any]], cycles: list[int], top: int) -> list[str]:
    """The containers that grew between the first and last census (same object:
    same id and type in both), with their size at every census between."""
    first, last = cycles[0], cycles[-1]
    by_id = [{(c[0], c[1]): c for c in samples[n]["census"]} for n in cycles]
    grew = []
    for key, newer in by_id[-1].items():
        older = by_id[0].get(key)
        if older is not None and newer[2] > older[2]:
            sizes = [str(census[key][2]) if key in census else "-" for census in by_id]
            grew.append((newer[2] - older[2], newer[1], newer[3], sizes))
    grew.sort(key=lambda g: -g[0])
    lines = ["", f"containers grown from cycle {first} to {last} (sizes at each census):"]
    for added, kind, what, sizes in grew[:top]:
        lines.append(f"  +{added} {kind} ({what}): {' '.join(sizes)}")
    totals = {n: sum(c[2] for c in samples[n]["census"]) for n in (first, last)}
    lines.append(f"  all counted containers: {totals[first]} → {totals[last]} items")
    return lines


def _counter_fit(
    samples: dict[int, dict[str, Any]], cycles: list[int], field: str, what: str, top: int
) -> list[str]:
    """The keys of a per-sample count that grew most per cycle (least squares), with
    their count at every sample."""
    keys = set().union(*(samples[n].get(field, {}) for n in cycles))
    grew = []
    for key in keys:
        counts = [samples[n].get(field, {}).get(key, 0) for n in cycles]
        grew.append((slope(list(zip(cycles, counts, strict=True))), key, counts))
    grew.sort(key=lambda g: -g[0])
    lines = ["", f"{what}, growth per cycle over cycles {cycles[0]}–{cycles[-1]}:"]
    for per_cycle, key, counts in grew[:top]:
        lines.append(f"  {per_cycle:+.2f} {key}: {' '.join(map(str, counts))}")
    return lines


def _snapshot_diff(out: Path, first: int, last: int, top: int) -> list[str]:
    older = tracemalloc.Snapshot.load(str(out / f"sample-{first}.snapshot"))
    newer = tracemalloc.Snapshot.load(str(out / f"sample-{last}.snapshot"))
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    older, newer = older.filter_traces(ignore), newer.filter_traces(ignore)
    lines = ["", f"largest growth by line, cycles {first} → {last}:"]
    lines += [f"  {stat}" for stat in newer.compare_to(older, "lineno")[:top]]
    lines += ["", f"largest growth by traceback, cycles {first} → {last}:"]
    for stat in newer.compare_to(older, "traceback")[: max(3, top // 3)]:
        lines.append(f"  {stat.size_diff / 1024:+.1f} KiB, {stat.count_diff:+d} blocks:")
        # The innermost frames: the outer ones are the daemon's start-up.
        lines.extend(f"      {frame}" for frame in stat.traceback.format()[-12:])
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--sample-every", type=int, default=40)
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--warm", type=int, default=50, help="fit from this cycle on")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="tracemalloc in the daemon, a snapshot at each sample (it costs memory itself)",
    )
    parser.add_argument(
        "--trace-from",
        type=int,
        default=0,
        metavar="CYCLE",
        help="start tracemalloc only after this cycle: what the daemon allocated once at"
        " start-up and in its first cycles is left out, and the RSS before it is the soak's",
    )
    parser.add_argument(
        "--census",
        action="store_true",
        help="at each sample, the size of every container in the daemon: which ones grow",
    )
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
        restart_traced(lab, args.trace, args.census)
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
            if args.trace_from and number == args.trace_from:
                take_sample(lab, TRACE_START, args.out)
                print(f"  tracemalloc started after cycle {number}", flush=True)
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
