"""Time in which this process did not run at all: a paused VM, a machine that stopped.

A check that waits for the cluster "within N s" gives the cluster N seconds of running
time. When the whole machine stops for a while (CI saw two container lanes fail at the
same second: each slave declared its dead master 8 s late, and each checker gave up
before it could), the daemons did not run either, and that time must not count
against them. So a thread here ticks every ``TICK``; a tick that comes more than
``FROZEN`` late means nothing in this process ran for that long, and the span is
recorded by its wall-clock times. A wait then ends at its deadline plus the frozen
time since its start, and says so when it used any.

A process merely starved of CPU is not frozen by this measure: its ticks come a few
tens of milliseconds late, far below ``FROZEN``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TICK = 0.1
FROZEN = 1.0  # a tick this much later than due: the process (or the machine) stood still
KEPT = 256  # spans remembered; a run with more freezes than this has worse problems


@dataclass
class FreezeLog:
    """Frozen spans, each as (wall-clock start, seconds)."""

    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    spans: list[tuple[float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def note(self, due: float, ran: float) -> None:
        """A tick due at ``due`` ran at ``ran`` (monotonic): record it if frozen."""
        late = ran - due
        if late <= FROZEN:
            return
        with self._lock:
            self.spans.append((self.wall() - late, late))
            del self.spans[:-KEPT]

    def since(self, wall_since: float) -> float:
        """Seconds frozen after ``wall_since`` (a span begun before it counts in part)."""
        with self._lock:
            spans = list(self.spans)
        total = 0.0
        for begun, seconds in spans:
            total += max(0.0, min(seconds, begun + seconds - wall_since))
        return total

    def start(self) -> None:
        """Tick from now on (once per process; the thread dies with it)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._tick, name="freezes", daemon=True)
        self._thread.start()

    def _tick(self) -> None:
        due = self.clock() + TICK
        while True:  # a daemon thread: bounded by the process's life
            time.sleep(max(0.0, due - self.clock()))
            now = self.clock()
            self.note(due, now)
            due = now + TICK


FREEZES = FreezeLog()


def frozen_since(wall_since: float) -> float:
    """Seconds this process stood still since ``wall_since``; starts the ticker."""
    FREEZES.start()
    return FREEZES.since(wall_since)


def extended(deadline: float, wall_since: float) -> float:
    """``deadline`` (wall clock) moved by the time frozen since ``wall_since``."""
    return deadline + frozen_since(wall_since)


def said(wall_since: float) -> str:
    """``"; the checker stood still 6.5 s, not counted"``, or nothing."""
    frozen = FREEZES.since(wall_since)
    return f"; the checker stood still {frozen:.1f} s, not counted" if frozen else ""
