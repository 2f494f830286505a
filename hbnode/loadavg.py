"""The load average every seq'd message carries in ``ld`` (§3.1), read from /proc."""

from __future__ import annotations

from pathlib import Path

LOADAVG = Path("/proc/loadavg")
UNKNOWN = "0.00 0.00 0.00 1/1 1"  # what we say when /proc cannot tell


def read_loadavg(path: Path = LOADAVG) -> str:
    try:
        with path.open() as handle:
            return handle.readline().strip()
    except OSError:
        return UNKNOWN
