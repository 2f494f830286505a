"""Rate-limited log lines for things a peer (or an attacker) can make us say often.

A flood of signed packets from a name not in ha.cf, or of replays of an old
generation, must be counted every time but must not fill the disk: each kind is
logged at most once per interval, with how many were left unsaid since.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

LOG_INTERVAL = 10.0  # seconds; also for link_io's rejected datagrams


@dataclass
class LogLimiter:
    """At most one line per ``key`` per ``interval`` seconds of the clock passed in."""

    interval: float = LOG_INTERVAL
    last_logged: dict[str, float] = field(default_factory=dict)
    suppressed: Counter[str] = field(default_factory=Counter)

    def allow(self, key: str, now: float) -> tuple[bool, int]:
        """(log now?, how many lines of this key were suppressed since the last one)."""
        last = self.last_logged.get(key)
        if last is not None and now - last < self.interval:
            self.suppressed[key] += 1
            return False, 0
        self.last_logged[key] = now
        return True, self.suppressed.pop(key, 0)
