"""The load average every seq'd message carries in ``ld`` (§3.1), read from /proc."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

LOADAVG = Path("/proc/loadavg")
UNKNOWN = "0.00 0.00 0.00 1/1 1"  # what we say when /proc cannot tell
MAX_AGE = 1.0  # seconds a reading is reused


def read_loadavg(path: Path = LOADAVG) -> str:
    try:
        with path.open() as handle:
            return handle.readline().strip()
    except OSError:
        return UNKNOWN


class LoadAvg:
    """``read_loadavg`` for the daemon: at most one read a second, on a file kept open.

    Every status message wants ``ld`` (four a second at keepalive 250 ms). The
    kernel recomputes the averages every 5 s (LOAD_FREQ), so a fresher read says
    nothing new, and opening the file each time was a third of the sending cost
    (open, fstat, ioctl, lseek, read, close; BENCHMARKS.md, "Idle cost"). pread at
    offset 0 makes /proc generate the line again.
    """

    def __init__(
        self,
        path: Path = LOADAVG,
        clock: Callable[[], float] = time.monotonic,
        max_age: float = MAX_AGE,
    ) -> None:
        self.path, self.clock, self.max_age = path, clock, max_age
        self.fd: int | None = None
        self.text = UNKNOWN
        self.read_at: float | None = None

    def __call__(self) -> str:
        now = self.clock()
        if self.read_at is not None and now - self.read_at < self.max_age:
            return self.text
        self.read_at = now
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            line = os.pread(self.fd, 256, 0).decode("ascii", "replace").partition("\n")[0]
            self.text = line.strip() or UNKNOWN
        except OSError:
            self.close()  # tried again at the next reading
            self.text = UNKNOWN
        return self.text

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
