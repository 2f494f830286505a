"""The daemon says when its own timers ran late, and how late (hbnode.loopwatch)."""

from __future__ import annotations

from hbnode.loopwatch import LATE_FLOOR, LoopWatch


def test_ordinary_scheduling_is_not_worth_a_line() -> None:
    watch = LoopWatch(keepalive=0.25)
    assert watch.ran(due=10.0, now=10.0 + LATE_FLOOR) is None
    assert watch.to_json() == {"late": 0, "worst_late_s": 0.0}


def test_a_stall_is_said_with_how_late_and_counted() -> None:
    watch = LoopWatch(keepalive=0.25)
    line = watch.ran(due=10.0, now=17.5)
    assert line is not None and "7.50 s late" in line
    assert watch.to_json() == {"late": 1, "worst_late_s": 7.5}


def test_a_long_keepalive_raises_the_bar() -> None:
    watch = LoopWatch(keepalive=2.0)
    assert watch.ran(due=0.0, now=1.9) is None
    assert watch.ran(due=0.0, now=2.1) is not None


def test_a_run_of_stalls_is_counted_every_time_but_said_once_per_interval() -> None:
    watch = LoopWatch(keepalive=0.25)
    lines = [watch.ran(due=t, now=t + 2.0) for t in (0.0, 3.0, 6.0)]
    assert lines[0] is not None and lines[1] is None and lines[2] is None
    later = watch.ran(due=20.0, now=23.0)
    assert later is not None and "(2 more since the last such line)" in later
    assert watch.to_json() == {"late": 4, "worst_late_s": 3.0}
