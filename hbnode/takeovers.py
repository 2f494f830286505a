"""How many takeovers this node has made and how long each took: for status and metrics.

A takeover is an ``acquire`` action (hbnode.rm.actions): the resource manager
decided to start a group here (at start-up, after the peer died, on hb_takeover,
on failback…; the action's ``reason`` says which). Its duration runs from the
moment the daemon handed the action to the worker to the moment the worker
reported it done, queueing behind a running release included: that is what a
client of the VIP waits for once the decision is made.

Sans-IO: the daemon passes in the time. Durations go into fixed histogram
buckets, so the status snapshot stays small however long the daemon runs, and
:mod:`hbnode.metrics` exports them as a Prometheus histogram unchanged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hbnode.rm import Action
from hbnode.rm.actions import ActionKind

# Upper bounds in seconds: a VIP alone takes well under a second, a service script
# a few, a stuck one runs into hbnode_resource_timeout (120 s by default).
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass
class Histogram:
    """Cumulative-ready counts per bucket (the last slot is +Inf), with sum and count."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        slot = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))
        self.counts[slot] += 1
        self.total += seconds

    def to_json(self) -> dict[str, Any]:
        return {"buckets": list(BUCKETS), "counts": list(self.counts), "sum_s": self.total}


@dataclass
class TakeoverStats:
    """Acquire actions in flight, and those done, by group, reason and result."""

    started: dict[int, float] = field(default_factory=dict)  # action id → when handed over
    done: Counter[tuple[str, str, bool]] = field(default_factory=Counter)
    durations: dict[str, Histogram] = field(default_factory=dict)  # by reason, successes
    last: dict[str, dict[str, Any]] = field(default_factory=dict)  # group → last takeover

    def submitted(self, action: Action, now: float) -> None:
        if action.kind is ActionKind.ACQUIRE:
            self.started[action.id] = now

    def finished(self, action: Action, ok: bool, now: float, wallclock: float) -> None:
        began = self.started.pop(action.id, None)
        if began is None:
            return  # not an acquire, or not one we saw start
        seconds = max(0.0, now - began)
        self.done[(action.group, action.reason, ok)] += 1
        if ok:
            self.durations.setdefault(action.reason, Histogram()).observe(seconds)
        self.last[action.group] = {
            "reason": action.reason,
            "ok": ok,
            "seconds": round(seconds, 3),
            "at": round(wallclock, 3),
        }

    def to_json(self) -> dict[str, Any]:
        """The ``takeovers`` part of ``hbnode status --json``."""
        return {
            "total": [
                {"group": group, "reason": reason, "ok": ok, "count": count}
                for (group, reason, ok), count in sorted(self.done.items())
            ],
            "in_flight": len(self.started),
            "duration_s": {reason: h.to_json() for reason, h in sorted(self.durations.items())},
            "last": dict(self.last),
        }
