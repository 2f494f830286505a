"""A failing schedule cut down to a small one that still fails the same way.

First everything that began after the violation goes (the episodes opened later;
what was open then is still closed at the end), then delta debugging (ddmin)
over the remaining episodes, each taken out whole. A candidate "still fails" when
a replay in a fresh lab breaks the same invariant. Replays are real runs, so the
search is bounded by a number of replays and a time budget; what it returns is
the smallest schedule that was seen to fail, with the idle time before its
first step cut.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lab.nemesis.schedule import CLOSES, Schedule

LEAD_IN = 1.0  # seconds before the first step of a shrunk schedule


def after_violation(schedule: Schedule, t: float) -> set[int]:
    """Episodes whose first step came after ``t`` (they cannot have caused it)."""
    first: dict[int, float] = {}
    for step in schedule.steps:
        first.setdefault(step.episode, step.at)
    return {episode for episode, at in first.items() if at > t}


def compact(schedule: Schedule) -> Schedule:
    """The schedule shifted so that its first step comes after LEAD_IN seconds."""
    if not schedule.steps:
        return schedule
    shift = max(0.0, schedule.steps[0].at - LEAD_IN)
    steps = [
        type(s)(round(s.at - shift, 3), s.action, s.node, s.episode, s.iface, s.percent)
        for s in schedule.steps
    ]
    duration = max(0.0, schedule.duration - shift)
    return Schedule(
        schedule.impl, schedule.seed, duration, steps, schedule.profile, dict(schedule.overrides)
    )


def ddmin(
    episodes: list[int],
    fails: Callable[[set[int]], bool],
    budget: int,
) -> list[int]:
    """Zeller's ddmin over ``episodes``: ``fails(removed)`` says whether the schedule
    without ``removed`` still fails. At most ``budget`` calls."""
    kept = list(episodes)
    chunks = 2
    calls = 0
    while len(kept) >= 2 and calls < budget:
        size = max(1, len(kept) // chunks)
        parts = [kept[i : i + size] for i in range(0, len(kept), size)]
        reduced = False
        for part in parts:
            if calls >= budget:
                break
            calls += 1
            if fails(set(part)):
                kept = [e for e in kept if e not in part]
                chunks = max(chunks - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunks >= len(kept):
                break
            chunks = min(chunks * 2, len(kept))
    return kept


def shrink(
    schedule: Schedule,
    invariant: str,
    t: float,
    replay: Callable[[Schedule], set[str]],
    budget: int,
    minutes: float,
    say: Callable[[str], None],
) -> Schedule:
    """The smallest schedule seen to break ``invariant`` (``schedule`` itself if none)."""
    deadline = time.monotonic() + minutes * 60
    best = schedule
    calls = [0]

    def fails(candidate: Schedule) -> bool:
        if calls[0] >= budget or time.monotonic() > deadline:
            return False
        calls[0] += 1
        found = replay(compact(candidate))
        say(
            f"shrink: replay {calls[0]}/{budget}: {len(candidate.episodes())} episodes, "
            + ("fails again" if invariant in found else "passes")
        )
        return invariant in found

    late = after_violation(schedule, t)
    if late and fails(schedule.without(late)):
        best = schedule.without(late)

    def fails_without(removed: set[int]) -> bool:
        nonlocal best
        candidate = best.without(removed)
        if fails(candidate):
            best = candidate
            return True
        return False

    ddmin(best.episodes(), fails_without, budget)
    best = compact(best)
    closing = sum(1 for s in best.steps if s.action in CLOSES)
    best.note = (
        f"minimal reproduction of {invariant}: {len(best.episodes())} episodes, "
        f"{len(best.steps)} steps ({closing} ending a fault), {calls[0]} replays"
    )
    return best
