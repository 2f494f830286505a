"""CPU share and memory (PSS) of each node's daemon while the cluster is idle.

The daemon's processes are found through the node's PID namespace: the pid file
inside the node names the main process, mapped to a host PID, plus its
heartbeat/ipfail/hbnode children (lab.node.daemon_tree). CPU is utime + stime of
those processes plus cutime + cstime (children they have reaped, e.g. Heartbeat's
status scripts), over the window; PSS is the sum of /proc/PID/smaps_rollup's Pss,
which splits shared pages fairly between the processes that share them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from lab.backends import Lab
from lab.bench.metrics import Metric
from lab.bench.model import RunResult
from lab.bench.runner import MASTER, SLAVE, fresh_lab, start_cluster

CLK_TCK = os.sysconf("SC_CLK_TCK")
SETTLE = 3.0  # after startup: let ipfail's first exchange and nginx's start pass
SAMPLE_EVERY = 1.0


def cpu_ticks(stat: str) -> int:
    """utime + stime + cutime + cstime from a /proc/PID/stat line (pure)."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14))  # stat fields 14-17


def pss_kib(rollup: str) -> int:
    """The Pss line of /proc/PID/smaps_rollup, in KiB (pure)."""
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _read(pid: int, name: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return None


def cpu_share(first: dict[int, int], last: dict[int, int], seconds: float) -> float:
    """% of one core used between two {pid: ticks} snapshots (a new pid counts from 0)."""
    used = sum(ticks - first.get(pid, 0) for pid, ticks in last.items())
    return 100.0 * used / CLK_TCK / seconds if seconds > 0 else 0.0


def _snapshot(pids: list[int]) -> tuple[dict[int, int], int]:
    ticks: dict[int, int] = {}
    pss = 0
    for pid in pids:
        stat, rollup = _read(pid, "stat"), _read(pid, "smaps_rollup")
        if stat is None or rollup is None:
            continue
        ticks[pid] = cpu_ticks(stat)
        pss += pss_kib(rollup)
    return ticks, pss


def measure_idle(
    impl_spec: str,
    profile: str,
    seconds: float,
    slice_seconds: float,
    overrides: dict[str, str],
    progress: Callable[[str], None],
    backend: str | None = None,
) -> list[RunResult]:
    """One lab, idle for ``seconds``; one result per node and slice of ``slice_seconds``."""
    lab = fresh_lab(backend)
    results: list[RunResult] = []
    try:
        start_cluster(lab, impl_spec, profile, overrides)
        time.sleep(SETTLE)
        slices = max(1, round(seconds / slice_seconds))
        progress(f"{impl_spec}: idle for {slices * slice_seconds:.0f} s")
        for index in range(slices):
            results += _one_slice(lab, impl_spec, index + 1, slice_seconds)
    finally:
        lab.down()
    return results


def _one_slice(lab: Lab, impl_spec: str, index: int, seconds: float) -> list[RunResult]:
    first: dict[str, dict[int, int]] = {}
    pss: dict[str, list[int]] = {MASTER: [], SLAVE: []}
    last: dict[str, dict[int, int]] = {}
    started = time.monotonic()
    deadline = started + seconds
    while True:
        for node in (MASTER, SLAVE):
            ticks, kib = _snapshot(lab.daemon_tree(node))
            first.setdefault(node, ticks)
            last[node] = ticks
            pss[node].append(kib)
        if time.monotonic() >= deadline:
            break
        time.sleep(min(SAMPLE_EVERY, max(0.0, deadline - time.monotonic())))
    elapsed = time.monotonic() - started
    results = []
    for node in (MASTER, SLAVE):
        metrics: dict[str, float | None] = {
            Metric.CPU.value: round(cpu_share(first[node], last[node], elapsed), 4),
            Metric.PSS.value: float(sorted(pss[node])[len(pss[node]) // 2]),
        }
        error = None if last[node] else f"no {node} daemon processes found"
        results.append(RunResult(impl_spec, "idle", index, metrics, error, round(elapsed, 2)))
        results[-1].notes["node"] = node
        results[-1].notes["pids"] = len(last[node])
    return results
