"""Judging an expectation: what it means, how long to wait, and what was seen.

Run mode judges a step's checks right after the step, in the file's order: a
check that waits (a holder, a log line, a packet) polls until it holds or its
``within`` (counted from the step's start) has passed; a state must then last
``hold`` (default 1 s): failovers are judged by the state that lasts. A window
(two holders, outage, "never seen") covers the step's start until the check is
judged, or ``for`` after the step's start. Observe mode (``--observe``, and a
file's ``check:`` list) looks at the lab as it is: logs from their beginning,
states now, windows over the next ``for`` (default 2 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hbnode.core.timers import Timers
from lab.backends import Lab
from lab.scenario import duration
from lab.scenario.model import STATE_KINDS, CheckKind, Expectation
from lab.scenario.record import Recorders

DEFAULT_WITHIN = 30.0  # run mode: how long a check waits unless the file says
OBSERVE_SNIFF = 3.0  # observe mode: how long a packet check listens unless told
DEFAULT_HOLD = 1.0
OBSERVE_FOR = 2.0
POLL = 0.05


@dataclass
class StepTiming:
    """When a step began and when its action returned (wall clock; None: it failed)."""

    began: float
    done: float | None = None


@dataclass
class Context:
    """What a check may look at."""

    lab: Lab
    rec: Recorders
    timers: Timers
    cluster: str  # the implementations, canonical (lab.impls.spec_text)
    node_impls: dict[str, str]
    observe: bool = False
    steps: dict[str, StepTiming] = field(default_factory=dict)  # by step name (or :line)

    def seconds(self, value: duration.Duration | None, default: float) -> float:
        return default if value is None else value.resolve(self.timers)

    def say(self, value: duration.Duration | None) -> str:
        return value.describe(self.timers) if value is not None else ""


@dataclass(frozen=True)
class Window:
    """Where a check looks: ``since`` (wall clock) is its step's start, or now when
    observing; ``history``: logs and events count from their beginning; ``done``:
    when the step's action returned (None: no step, or observing)."""

    since: float
    history: bool = False
    done: float | None = None

    @classmethod
    def of_step(cls, timing: StepTiming) -> Window:
        """Where a step's own expectations look: from its start, its action's end known."""
        return cls(timing.began, done=timing.done)

    def start(self) -> float:
        """Where log lines and events may begin."""
        return float("-inf") if self.history else self.since


@dataclass
class Verdict:
    ok: bool
    what: str
    measured: str = ""
    detail: str = ""
    skip: bool = False


Judge = Callable[[Expectation, Context, Window], Verdict]


def within(exp: Expectation, ctx: Context) -> float:
    """Seconds a waiting check may wait after its window's start."""
    if exp.within is not None:
        return exp.within.resolve(ctx.timers)
    if ctx.observe:
        sniffs = exp.kind in (CheckKind.PACKET, CheckKind.GARP) and not exp.negative
        return OBSERVE_SNIFF if sniffs else 0.0
    return DEFAULT_WITHIN


def hold(exp: Expectation, ctx: Context) -> float:
    return ctx.seconds(exp.hold, DEFAULT_HOLD)


def window_end(exp: Expectation, ctx: Context, window: Window) -> float:
    """When a window closes: ``for`` after its start, else now (observe: OBSERVE_FOR)."""
    if exp.for_ is not None:
        return window.since + exp.for_.resolve(ctx.timers)
    return window.since + OBSERVE_FOR if ctx.observe else time.time()


def sleep_until(moment: float) -> None:
    """Wait for a window to close (bounded by the window itself)."""
    left = moment - time.time()
    if left > 0:
        time.sleep(left)


def limit_text(exp: Expectation, ctx: Context) -> str:
    """`` within deadtime + 5s (6.5 s)`` when the file set one."""
    if exp.within is None or exp.kind not in (*STATE_KINDS, CheckKind.LOG, CheckKind.EVENT):
        return ""
    return f" within {ctx.say(exp.within)}"
