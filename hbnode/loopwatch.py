"""The daemon's own lateness: timers that ran well after they were due.

A node that was not scheduled for seconds (a paused VM, a host stealing the CPU,
a process blocked on a disk) misses its own keepalives and checks its peers' deaths
late, and what its peers and clients then see makes no sense without this line.
Heartbeat says it too (cluster-glue's main loop logs a timeout dispatched late);
hbnode says it in its own words, with how late, and counts every case for
``hbnode status --json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hbnode.lograte import LogLimiter

# Below this a turn late is ordinary scheduling on a busy machine: nothing to say.
LATE_FLOOR = 1.0


@dataclass
class LoopWatch:
    """Compares when the node's timer ran with when it was due."""

    keepalive: float
    late_total: int = 0
    worst: float = 0.0
    limiter: LogLimiter = field(default_factory=LogLimiter)

    @property
    def threshold(self) -> float:
        """Late enough to have missed our own keepalives and to say so."""
        return max(self.keepalive, LATE_FLOOR)

    def ran(self, due: float, now: float) -> str | None:
        """The timer due at ``due`` ran at ``now``: the line to log, if it was late."""
        late = now - due
        if late <= self.threshold:
            return None
        self.late_total += 1
        self.worst = max(self.worst, late)
        allowed, unsaid = self.limiter.allow("late", now)
        if not allowed:
            return None
        more = f" ({unsaid} more since the last such line)" if unsaid else ""
        return (
            f"Main loop ran {late:.2f} s late: this process was not scheduled or was"
            f" blocked, so its heartbeats and checks were late too{more}"
        )

    def to_json(self) -> dict[str, float | int]:
        return {"late": self.late_total, "worst_late_s": round(self.worst, 3)}
