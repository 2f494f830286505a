from __future__ import annotations

import selectors
from typing import Any

from hbnode.executor import ActionExecutor, Outcome
from hbnode.rm import Action


def _wait(executor: ActionExecutor, count: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with selectors.DefaultSelector() as sel:
        sel.register(executor, selectors.EVENT_READ)
        for _ in range(100):
            if len(outcomes) >= count:
                break
            if sel.select(5.0):
                outcomes += executor.drain()
    return outcomes


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
        outcomes = _wait(executor, 2)
    finally:
        executor.close()
    assert [o.action.id for o in outcomes] == [1, 2]
    assert [o.ok for o in outcomes] == [True, False]
    assert outcomes[0].steps[0].name == "VIP added"
    assert seen == ["g1", "g2"]
    assert executor.idle()


def test_a_crashing_agent_is_a_failed_action_not_a_dead_daemon() -> None:
    def runner(action: Action, sink: Any) -> tuple[bool, str | None]:
        raise RuntimeError("boom")

    executor = ActionExecutor(runner)
    try:
        executor.submit(Action(7, "acquire", "g", "initial"))
        (outcome,) = _wait(executor, 1)
    finally:
        executor.close()
    assert not outcome.ok and outcome.error == "RuntimeError: boom"
