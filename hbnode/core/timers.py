"""The time constants of the messaging core, in seconds (protocol.md §4.1).

ha.cf gives milliseconds; the core counts in float seconds because every input
carries a monotonic ``now``. The fixed intervals Heartbeat compiles in live here
too, named, so the rest of the core never hides a magic number.
"""

from __future__ import annotations

from dataclasses import dataclass

from hbnode.config.hacf import HaCf

# Heartbeat checks for dead nodes and links on a fixed 250 ms tick, whatever
# keepalive is; a node is declared dead at the first tick at or after its deadline.
DEAD_CHECK_INTERVAL = 0.25
# For its first 5 s a node advertises dt = deadtime + 2000 ms, so a peer that
# hears its first status does not time it out while it is still settling.
STARTUP_DT_EXTRA_MS = 2000
STARTUP_DT_PERIOD = 5.0
# reqnodes is repeated every second until a repnodes answer arrives (§4.2).
REQNODES_RETRY = 1.0
# A missing seq is first asked for after a random delay in [50 ms, max_rexmit_delay].
MIN_REXMIT_DELAY = 0.05
# The sender does not resend the same seq twice within 240 ms (hb_rexmit.c).
RESEND_GUARD = 0.24


@dataclass(frozen=True, slots=True)
class Timers:
    """Heartbeat's timing directives, in seconds, plus ``hopfudge`` for the ``ttl``.

    ``hopfudge`` is not a timer, but it is the one other number the core takes
    from ha.cf, and keeping it here lets :meth:`from_hacf` build everything.
    """

    keepalive: float = 1.0
    deadtime: float = 30.0
    warntime: float = 15.0
    initdead: float = 30.0
    deadping: float = 30.0
    max_rexmit_delay: float = 0.25
    hopfudge: int = 1

    def __post_init__(self) -> None:
        if self.keepalive <= 0:
            raise ValueError(f"keepalive must be positive, not {self.keepalive}")
        if self.deadtime <= 0 or self.deadping <= 0 or self.initdead <= 0:
            raise ValueError("deadtime, deadping and initdead must be positive")
        if self.max_rexmit_delay < MIN_REXMIT_DELAY:
            raise ValueError(f"max_rexmit_delay must be at least {MIN_REXMIT_DELAY} s")

    @classmethod
    def from_hacf(cls, hacf: HaCf) -> Timers:
        """The timers of a parsed ha.cf (derived defaults are already filled in)."""
        deadtime_ms = hacf.deadtime_ms
        return cls(
            keepalive=hacf.keepalive_ms / 1000,
            deadtime=deadtime_ms / 1000,
            warntime=(hacf.warntime_ms or deadtime_ms // 2) / 1000,
            initdead=(hacf.initdead_ms or deadtime_ms) / 1000,
            deadping=(hacf.deadping_ms or deadtime_ms) / 1000,
            max_rexmit_delay=max(hacf.max_rexmit_delay_ms / 1000, MIN_REXMIT_DELAY),
            hopfudge=hacf.hopfudge,
        )

    @property
    def deadtime_ms(self) -> int:
        """deadtime as advertised in ``dt`` (hex milliseconds on the wire)."""
        return round(self.deadtime * 1000)
