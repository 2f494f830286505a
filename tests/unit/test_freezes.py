"""Waits do not count time in which the checker itself stood still (lab.freezes)."""

from __future__ import annotations

from lab.freezes import FROZEN, FreezeLog


class Wall:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_tick_a_little_late_is_no_freeze() -> None:
    log = FreezeLog(wall=Wall(1000.0))
    log.note(due=5.0, ran=5.0 + FROZEN)
    assert log.since(0.0) == 0.0


def test_a_long_stop_is_recorded_by_when_it_happened() -> None:
    wall = Wall(1010.0)
    log = FreezeLog(wall=wall)
    log.note(due=5.0, ran=12.5)  # stood still 7.5 s, ending at wall 1010
    assert log.since(1000.0) == 7.5  # a wait begun before it: all of it
    assert log.since(1005.0) == 5.0  # begun in the middle: the part after
    assert log.since(1010.0) == 0.0  # begun after it: none


def test_freezes_add_up_and_only_the_latest_are_kept() -> None:
    wall = Wall(0.0)
    log = FreezeLog(wall=wall)
    for n in range(300):
        wall.now = 100.0 * (n + 1)
        log.note(due=0.0, ran=2.0)
    assert len(log.spans) == 256
    assert log.since(100.0 * 299) == 2.0
    assert log.since(0.0) == 2.0 * 256
