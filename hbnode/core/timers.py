"""The time constants of the messaging core, in seconds (protocol.md §4.1).

ha.cf gives milliseconds; the core counts in float seconds because every input
carries a monotonic ``now``. The fixed intervals Heartbeat compiles in live here
too, named, so the rest of the core never hides a magic number.

The directives' defaults and derived values (warntime = deadtime/2, initdead by
``default_initdead``, deadping = deadtime) are worked out once, by the config
layer (hbnode.config.hacf_checks); the core only converts what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


class TimerDirectives(Protocol):
    """ha.cf's timing directives in milliseconds, every one resolved (hbnode.config's HaCf).

    A Protocol rather than HaCf itself: the core is sans-IO and imports nothing
    of the config layer.
    """

    @property
    def keepalive_ms(self) -> int: ...
    @property
    def deadtime_ms(self) -> int: ...
    @property
    def warntime_ms(self) -> int: ...
    @property
    def initdead_ms(self) -> int: ...
    @property
    def deadping_ms(self) -> int: ...
    @property
    def max_rexmit_delay_ms(self) -> int: ...
    @property
    def hopfudge(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Timers:
    """Heartbeat's timing directives, in seconds, plus ``hopfudge`` for the ``ttl``.

    ``hopfudge`` is not a timer, but it is the one other number the core takes
    from ha.cf, and keeping it here lets :meth:`from_hacf` build everything.
    Every value is given: there are no defaults to drift from the config layer's.
    """

    keepalive: float
    deadtime: float
    warntime: float
    initdead: float
    deadping: float
    max_rexmit_delay: float
    hopfudge: int

    def __post_init__(self) -> None:
        if self.keepalive <= 0:
            raise ValueError(f"keepalive must be positive, not {self.keepalive}")
        if min(self.deadtime, self.warntime, self.deadping, self.initdead) <= 0:
            # An unresolved ha.cf (warntime_ms 0: "derive it") lands here too.
            raise ValueError("deadtime, warntime, deadping and initdead must be positive")
        if self.max_rexmit_delay < MIN_REXMIT_DELAY:
            raise ValueError(f"max_rexmit_delay must be at least {MIN_REXMIT_DELAY} s")

    @classmethod
    def from_hacf(cls, hacf: TimerDirectives) -> Timers:
        """The timers of a parsed ha.cf, whose derived values the config layer filled in."""
        return cls(
            keepalive=hacf.keepalive_ms / 1000,
            deadtime=hacf.deadtime_ms / 1000,
            warntime=hacf.warntime_ms / 1000,
            initdead=hacf.initdead_ms / 1000,
            deadping=hacf.deadping_ms / 1000,
            # ha.cf takes any delay from 1 ms; the core never asks before 50 ms.
            max_rexmit_delay=max(hacf.max_rexmit_delay_ms / 1000, MIN_REXMIT_DELAY),
            hopfudge=hacf.hopfudge,
        )

    @property
    def deadtime_ms(self) -> int:
        """deadtime as advertised in ``dt`` (hex milliseconds on the wire)."""
        return round(self.deadtime * 1000)
