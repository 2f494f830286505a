from __future__ import annotations

import selectors
import threading
from typing import Any

from hbnode.executor import ActionExecutor, Outcome, Progress, Report
from hbnode.rm import Action


def _wait(executor: ActionExecutor, count: int) -> list[Report]:
    """Reports until ``count`` outcomes have come (bounded)."""
    reports: list[Report] = []
    with selectors.DefaultSelector() as sel:
        sel.register(executor, selectors.EVENT_READ)
        for _ in range(100):
            if sum(isinstance(r, Outcome) for r in reports) >= count:
                break
            if sel.select(5.0):
                reports += executor.drain()
    return reports


def _outcomes(reports: list[Report]) -> list[Outcome]:
    return [r for r in reports if isinstance(r, Outcome)]


def test_actions_run_in_order_with_their_steps() -> None:
    seen: list[str] = []

    def runner(action: Action, sink: Any) -> tuple[bool, str | None]:
        seen.append(action.group)
        sink("VIP added", {"ip": "192.0.2.1"})
        return action.kind == "acquire", None if action.kind == "acquire" else "nope"

    executor = ActionExecutor(runner)
    try:
        executor.submit(Action(1, "acquire", "g1", "initial"))
        executor.submit(Action(2, "release", "g2", "standby"))
        assert not executor.idle()
        reports = _wait(executor, 2)
    finally:
        executor.close()
    outcomes = _outcomes(reports)
    assert [o.action.id for o in outcomes] == [1, 2]
    assert [o.ok for o in outcomes] == [True, False]
    # Each action's step comes before its outcome, in the worker's order.
    order = [(type(r).__name__, r.action.id) for r in reports]
    assert order == [("Progress", 1), ("Outcome", 1), ("Progress", 2), ("Outcome", 2)]
    first = reports[0]
    assert isinstance(first, Progress) and first.step.name == "VIP added"
    assert first.step.fields == {"ip": "192.0.2.1"}
    assert seen == ["g1", "g2"]
    assert executor.idle()


def test_a_step_is_reported_while_its_action_still_runs() -> None:
    """The event log is live: a step reaches the daemon before the action ends."""
    release = threading.Event()

    def runner(action: Action, sink: Any) -> tuple[bool, str | None]:
        sink("VIP added", {})
        release.wait(10.0)  # bounded: the test sets it as soon as it saw the step
        return True, None

    executor = ActionExecutor(runner)
    try:
        executor.submit(Action(3, "acquire", "g", "initial"))
        with selectors.DefaultSelector() as sel:
            sel.register(executor, selectors.EVENT_READ)
            assert sel.select(5.0)
            early = executor.drain()
        assert [type(r) for r in early] == [Progress]
        assert not executor.idle()  # a step is not the end of the action
        release.set()
        (outcome,) = _outcomes(_wait(executor, 1))
    finally:
        release.set()
        executor.close()
    assert outcome.ok and executor.idle()


def test_a_crashing_agent_is_a_failed_action_not_a_dead_daemon() -> None:
    def runner(action: Action, sink: Any) -> tuple[bool, str | None]:
        raise RuntimeError("boom")

    executor = ActionExecutor(runner)
    try:
        executor.submit(Action(7, "acquire", "g", "initial"))
        (outcome,) = _outcomes(_wait(executor, 1))
    finally:
        executor.close()
    assert not outcome.ok and outcome.error == "RuntimeError: boom"
