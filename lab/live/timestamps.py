"""When a log line was written, from its own timestamp (for lines read as backlog).

Lines seen live are stamped when seen (within one tick); lines already in the file
when the view starts carry only their own time: Heartbeat's syslog form
``Nov 30 14:57:06`` (no year: this year is assumed) or harc's ``2026/11/30_14:57:17``.
"""

from __future__ import annotations

import time

_FORMS = (("%Y %b %d %H:%M:%S", 15, True), ("%Y/%m/%d_%H:%M:%S", 19, False))


def line_time(line: str, now: float | None = None) -> float:
    """Seconds since the epoch of the line's timestamp (local time), else ``now``."""
    current = time.time() if now is None else now
    for form, width, needs_year in _FORMS:
        head = line[:width]
        text = f"{time.localtime(current).tm_year} {head}" if needs_year else head
        try:
            return time.mktime(time.strptime(text, form))
        except ValueError:
            continue
    return current
