from __future__ import annotations

from hbnode.respawn import (
    FIRST_BACKOFF,
    MAX_BACKOFF,
    MAX_SHORT_RUNS,
    NO_RESPAWN_EXIT,
    SHORT_RUN,
    RespawnPolicy,
)


def test_a_long_run_restarts_at_once() -> None:
    policy = RespawnPolicy()
    when, why = policy.exited(started=0.0, now=SHORT_RUN + 1, status=1)
    assert when == SHORT_RUN + 1 and why == "respawning"


def test_short_runs_back_off_doubling_up_to_the_cap() -> None:
    policy = RespawnPolicy()
    now = 0.0
    waits = []
    for _ in range(MAX_SHORT_RUNS * 8):
        when, _why = policy.exited(started=now, now=now + 0.1, status=1)
        assert when is not None
        waits.append(when - (now + 0.1))
        now = when
    assert max(waits) == MAX_BACKOFF
    assert FIRST_BACKOFF in waits
    assert sum(1 for w in waits if w >= FIRST_BACKOFF) == 8  # one backoff per burst
    assert policy.restarts == MAX_SHORT_RUNS * 8


def test_exit_100_means_do_not_respawn() -> None:
    policy = RespawnPolicy()
    when, _ = policy.exited(started=0.0, now=1.0, status=NO_RESPAWN_EXIT)
    assert when is None and policy.given_up
