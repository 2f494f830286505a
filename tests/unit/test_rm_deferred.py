"""The manager's deferred takeovers: a deadline per dead peer, cancelled by any word."""

from __future__ import annotations

from hbnode.rm.deferred import DeferredTakeovers


def test_a_deferred_takeover_fires_once_at_its_deadline_unless_cancelled() -> None:
    taken: list[tuple[str, float]] = []
    deferred = DeferredTakeovers(lambda peer, now: taken.append((peer, now)))
    assert deferred.timer() is None
    deferred.defer("master", 5.0)
    deferred.defer("slave", 3.0)
    deferred.defer("slave", 9.0, keep_earlier=True)  # the isolation catch-up's rule
    assert deferred.timer() == 3.0
    deferred.handle_timer(2.9)
    assert taken == []
    deferred.handle_timer(3.0)
    assert taken == [("slave", 3.0)]
    deferred.cancel("master")  # master spoke: nothing to take over
    deferred.handle_timer(10.0)
    assert taken == [("slave", 3.0)]
    assert deferred.timer() is None


def test_a_later_deadline_replaces_an_earlier_one_unless_asked_to_keep_it() -> None:
    taken: list[str] = []
    deferred = DeferredTakeovers(lambda peer, now: taken.append(peer))
    deferred.defer("master", 1.0)
    deferred.defer("master", 4.0)  # heard late again: deadtime from now
    deferred.handle_timer(2.0)
    assert taken == []
    deferred.clear()
    deferred.handle_timer(5.0)
    assert taken == []
