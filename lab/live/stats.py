"""The live model's own cost: snapshots per second and the CPU of its threads.

CPU is read per thread from /proc/self/task/TID/stat (utime + stime), so a web
server or a terminal view sharing the process is not counted: only the model's
gatherer, wire reader and probe threads are.
"""

from __future__ import annotations

import collections
import os
import threading
from pathlib import Path

WINDOW = 5.0  # seconds the rate and the CPU are averaged over
_TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(tid: int) -> float:
    """Seconds of CPU the thread ``tid`` of this process has used (0 once it ended)."""
    try:
        fields = Path(f"/proc/self/task/{tid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)


class CpuMeter:
    def __init__(self) -> None:
        self.tids: list[int] = []
        self._samples: collections.deque[tuple[float, float]] = collections.deque()

    def track(self, *threads: threading.Thread | None) -> None:
        self.tids += [t.native_id for t in threads if t is not None and t.native_id]

    def sample(self, mono: float) -> tuple[float, float]:
        """(snapshots per second, CPU percent of one core) over the last WINDOW seconds."""
        cpu = sum(thread_cpu(tid) for tid in self.tids)
        self._samples.append((mono, cpu))
        while len(self._samples) > 2 and mono - self._samples[0][0] > WINDOW:
            self._samples.popleft()
        first_t, first_cpu = self._samples[0]
        span = mono - first_t
        if span <= 0:
            return 0.0, 0.0
        rate = (len(self._samples) - 1) / span
        return round(rate, 2), round(100 * (cpu - first_cpu) / span, 2)
