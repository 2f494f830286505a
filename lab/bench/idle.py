"""CPU share and memory (PSS) of each node's daemon while the cluster is idle.

The implementations are measured side by side: on the netns backend each one gets
a lab of its own (prefix ``<prefix>i<N>``, state dir ``<state dir>-i<N>``), all
labs idle at the same time, and every sample reads them all. A busy machine then
slows every implementation alike, instead of whichever happened to run last.

A daemon's processes are found through the node's PID namespace: the pid file
inside the node names the main process, mapped to a host PID, plus its
heartbeat/ipfail/hbnode children (lab.node.daemon_tree). CPU is each process's
on-CPU time from ``/proc/PID/task/*/schedstat`` (nanoseconds: clock ticks are
too coarse for a daemon that runs 3 ms a second) plus cutime + cstime (children
it has reaped, e.g. Heartbeat's status scripts). PSS is ``/proc/PID/smaps_rollup``
Pss, which splits shared pages fairly between the processes that share them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.backends import Lab, default_backend
from lab.bench.metrics import Metric
from lab.bench.model import RunResult
from lab.bench.runner import MASTER, SLAVE, fresh_lab, start_cluster

CLK_TCK = os.sysconf("SC_CLK_TCK")
SETTLE = 3.0  # after startup: let ipfail's first exchange and nginx's start pass
SAMPLE_EVERY = 1.0
NODES = (MASTER, SLAVE)


@dataclass(frozen=True, slots=True)
class ProcSample:
    """One process at one instant."""

    label: str  # what it is: "hbnode", "ipfail", "master control process", …
    cpu_ns: int  # on-CPU time so far (its threads, and children it has reaped)
    pss_kib: int


def cpu_ticks(stat: str) -> int:
    """utime + stime + cutime + cstime from a /proc/PID/stat line (pure)."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14))  # stat fields 14-17


def child_ticks(stat: str) -> int:
    """cutime + cstime: what the process's reaped children used (pure)."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[13]) + int(fields[14])  # stat fields 16-17


def schedstat_ns(text: str) -> int:
    """The first field of /proc/PID/task/TID/schedstat: time on the CPU, in ns (pure)."""
    return int(text.split()[0])


def pss_kib(rollup: str) -> int:
    """The Pss line of /proc/PID/smaps_rollup, in KiB (pure)."""
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def process_label(cmdline: bytes) -> str:
    """A short name for a daemon process, from its /proc/PID/cmdline (pure).

    Heartbeat titles its processes (``heartbeat: write: ucast eth1``); hbnode's
    are Python interpreters told what to run.
    """
    text = " ".join(word.decode(errors="replace") for word in cmdline.split(b"\0") if word)
    if "ipfail" in text:
        return "ipfail"
    if text.startswith("heartbeat: "):
        return text.removeprefix("heartbeat: ").strip()
    if "hbnode" in text:
        return "hbnode"
    return os.path.basename(text.split(" ", 1)[0]) or "?"


def cpu_share(first: dict[int, int], last: dict[int, int], seconds: float) -> float:
    """% of one core used between two {pid: ns} snapshots (a new pid counts from 0)."""
    used = sum(ns - first.get(pid, 0) for pid, ns in last.items())
    return 100.0 * used / 1e9 / seconds if seconds > 0 else 0.0


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def sample(pid: int) -> ProcSample | None:
    """The process now, or None if it is gone."""
    stat, rollup = _read(f"/proc/{pid}/stat"), _read(f"/proc/{pid}/smaps_rollup")
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    if stat is None or rollup is None:
        return None
    on_cpu = child_ticks(stat) * 1_000_000_000 // CLK_TCK
    for tid in tasks:
        text = _read(f"/proc/{pid}/task/{tid}/schedstat")
        on_cpu += schedstat_ns(text) if text else 0
    return ProcSample(process_label(cmdline), on_cpu, pss_kib(rollup))


def side_by_side_lab(index: int) -> Lab:
    """A netns lab beside the bench's own: prefix ``<prefix>i<N>``, its own state dir."""
    from lab.netns_backend import NetnsLab
    from lab.state import STATE_DIR
    from lab.topofile import load_topology
    from lab.topology import REFERENCE, REFERENCE_FILE

    topo = load_topology(REFERENCE_FILE, f"{REFERENCE.prefix}i{index}", validate=False)
    state_dir = STATE_DIR.with_name(f"{STATE_DIR.name}-i{index}")
    lab = NetnsLab(topo, state_dir)
    if lab.is_up:
        lab.down()  # a killed bench left it: remove what it recorded
        lab = NetnsLab(topo, state_dir)
    return lab


def measure_idle(
    impls: list[str],
    profile: str,
    seconds: float,
    slice_seconds: float,
    overrides: dict[str, str],
    progress: Callable[[str], None],
    backend: str | None = None,
) -> list[RunResult]:
    """Every implementation idle for ``seconds``: one result per implementation, node and
    slice of ``slice_seconds``. Side by side on netns; one lab after the other on docker
    (two container labs would ask the engine for the same subnets)."""
    if (backend or default_backend()) != "netns" or len(impls) == 1:
        results: list[RunResult] = []
        for impl in impls:
            lab = {impl: fresh_lab(backend)}
            results += _idle(lab, profile, seconds, slice_seconds, overrides, progress)
        return results
    labs = {impl: side_by_side_lab(index) for index, impl in enumerate(impls, 1)}
    return _idle(labs, profile, seconds, slice_seconds, overrides, progress)


def _idle(
    labs: dict[str, Lab],
    profile: str,
    seconds: float,
    slice_seconds: float,
    overrides: dict[str, str],
    progress: Callable[[str], None],
) -> list[RunResult]:
    results: list[RunResult] = []
    try:
        for impl, lab in labs.items():
            start_cluster(lab, impl, profile, overrides)
        time.sleep(SETTLE)
        slices = max(1, round(seconds / slice_seconds))
        progress(f"{', '.join(labs)}: idle for {slices * slice_seconds:.0f} s, side by side")
        for index in range(slices):
            results += _one_slice(labs, index + 1, slice_seconds)
    finally:
        for lab in labs.values():
            lab.down()
    return results


Snapshot = dict[int, ProcSample]


def _one_slice(labs: dict[str, Lab], index: int, seconds: float) -> list[RunResult]:
    """One slice: every lab's nodes sampled each second, first and last kept for CPU."""
    keys = [(impl, node) for impl in labs for node in NODES]
    first: dict[tuple[str, str], Snapshot] = {}
    last: dict[tuple[str, str], Snapshot] = {}
    pss: dict[tuple[str, str], list[int]] = {key: [] for key in keys}
    started = time.monotonic()
    deadline = started + seconds
    for _ in range(int(seconds / SAMPLE_EVERY) + 2):  # bounded: one sample a second
        for impl, node in keys:
            pids = labs[impl].daemon_tree(node)
            snap = {pid: s for pid in pids if (s := sample(pid)) is not None}
            first.setdefault((impl, node), snap)
            last[(impl, node)] = snap
            pss[(impl, node)].append(sum(s.pss_kib for s in snap.values()))
        if time.monotonic() >= deadline:
            break
        time.sleep(min(SAMPLE_EVERY, max(0.0, deadline - time.monotonic())))
    elapsed = time.monotonic() - started
    results = []
    for key in keys:
        impl, node = key
        results.append(slice_result(impl, node, index, first[key], last[key], pss[key], elapsed))
    return results


def slice_result(
    impl: str,
    node: str,
    index: int,
    first: Snapshot,
    last: Snapshot,
    pss_samples: list[int],
    elapsed: float,
) -> RunResult:
    """The figures of one node over one slice, with each process's share (pure)."""
    start = {pid: s.cpu_ns for pid, s in first.items()}
    end = {pid: s.cpu_ns for pid, s in last.items()}
    metrics: dict[str, float | None] = {
        Metric.CPU.value: round(cpu_share(start, end, elapsed), 4),
        Metric.PSS.value: float(sorted(pss_samples)[len(pss_samples) // 2]),
        Metric.PROCESSES.value: float(len(last)),
    }
    error = None if last else f"no {node} daemon processes found"
    result = RunResult(impl, "idle", index, metrics, error, round(elapsed, 2))
    result.notes["node"] = node
    result.notes["pids"] = len(last)
    result.notes["processes"] = [
        {
            "label": s.label,
            "cpu_pct": round(cpu_share({pid: start.get(pid, 0)}, {pid: s.cpu_ns}, elapsed), 4),
            "pss_kib": s.pss_kib,
        }
        for pid, s in sorted(last.items())
    ]
    return result
