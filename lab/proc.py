"""Processes the lab started, identified safely, and the processes inside a node.

A PID alone is not an identity: after a reboot of the machine or a long run it
may name someone else's process. The lab records (pid, start time) and only ever
signals a process whose start time still matches.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcessId:
    pid: int
    start_ticks: int  # field 22 of /proc/PID/stat: start time since boot, in clock ticks

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        ticks = start_ticks(pid)
        return cls(pid, ticks) if ticks is not None else None

    def alive(self) -> bool:
        return start_ticks(self.pid) == self.start_ticks

    def kill(self, sig: int = signal.SIGKILL) -> bool:
        """Signal the process if it is still the one we recorded."""
        if not self.alive():
            return False
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def to_json(self) -> list[int]:
        return [self.pid, self.start_ticks]

    @classmethod
    def from_json(cls, data: list[int]) -> ProcessId:
        return cls(int(data[0]), int(data[1]))


def start_ticks(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    state = fields[0]
    if state in ("Z", "X"):
        return None  # a zombie is dead for our purposes
    return int(fields[19])


def children(pid: int) -> list[int]:
    result: list[int] = []
    task_dir = PROC / str(pid) / "task"
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return result
    for task in tasks:
        try:
            result += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return result


def pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(PROC / str(pid) / "ns" / "pid")
    except OSError:
        return None


def ns_pid_map(pid_ns: str) -> dict[int, int]:
    """{pid inside the namespace: host pid} for every process in ``pid_ns``."""
    result: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns" / "pid") != pid_ns:
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:"):
                ids = line.split()[1:]
                result[int(ids[-1])] = int(entry.name)
    return result


def descendants(host_pid: int, limit: int = 4096) -> list[int]:
    """host_pid's whole subtree (bounded), children before grandchildren."""
    found: list[int] = []
    frontier = [host_pid]
    while frontier and len(found) < limit:
        current = frontier.pop(0)
        kids = children(current)
        found += kids
        frontier += kids
    return found


def wait_gone(ids: list[ProcessId], timeout: float) -> bool:
    """Poll until none of ``ids`` is alive, or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(p.alive() for p in ids):
            return True
        time.sleep(0.01)
    return not any(p.alive() for p in ids)
