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


def test_status_reports_the_back_off_of_a_client_that_keeps_dying() -> None:
    from hbnode.config.hacf import RespawnEntry
    from hbnode.hblog import HbLogger
    from hbnode.respawn import Supervisor

    supervisor = Supervisor([RespawnEntry("hacluster", "/bin/false", (), 1)], HbLogger())
    [client] = supervisor.clients
    assert supervisor.status()[0]["backoff_s"] == 0.0
    now = 0.0
    for _ in range(MAX_SHORT_RUNS):
        when, why = client.policy.exited(started=now, now=now + 0.1, status=1)
        assert when is not None
        now = when
    assert why == f"respawning too fast: waiting {FIRST_BACKOFF:.0f} s"
    status = supervisor.status()[0]
    assert status["backoff_s"] == FIRST_BACKOFF and status["restarts"] == MAX_SHORT_RUNS
