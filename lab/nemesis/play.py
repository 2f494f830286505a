"""Carrying out a schedule's steps on a lab, on the schedule's clock.

Each step starts at its offset, or as soon as the previous one is done if that
took longer (an orderly stop waits for the resources to go). What was done, when
it started and ended, and what went wrong is recorded for the checker: a step
that could not be done (the model and the lab disagree) is recorded, not fatal.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.backends import Lab
from lab.errors import LabError
from lab.nemesis.schedule import Action, Schedule, Step
from lab.proc import ProcessId


@dataclass
class Done:
    step: Step
    started: float  # monotonic
    ended: float
    error: str | None = None

    def to_json(self, t0: float) -> dict[str, object]:
        return {
            **self.step.to_json(),
            "started": round(self.started - t0, 3),
            "ended": round(self.ended - t0, 3),
            "error": self.error,
        }


class Player:
    """Does what each step says; remembers what a freeze stopped, to thaw it."""

    def __init__(self, lab: Lab, impls: dict[str, str]) -> None:
        self.lab = lab
        self.impls = impls
        self.frozen: dict[str, list[ProcessId]] = {}

    def do(self, step: Step) -> None:
        lab, node = self.lab, step.node
        action = step.action
        if action is Action.POWEROFF:
            self.frozen.pop(node, None)
            lab.poweroff(node)
        elif action is Action.POWERON:
            lab.poweron(node)
        elif action is Action.KILL:
            lab.crash(node)
        elif action in (Action.RESTART, Action.START):
            lab.service(node, "heartbeat", "start")
        elif action is Action.STOP:
            lab.service(node, "heartbeat", "stop")
        elif action is Action.FREEZE:
            self._signal_tree(node, signal.SIGSTOP)
        elif action is Action.THAW:
            for pid in self.frozen.pop(node, []):
                pid.kill(signal.SIGCONT)
        elif action in (Action.CUT, Action.HEAL):
            lab.link(node, step.iface or "eth1", up=action is Action.HEAL)
        elif action is Action.LOSS:
            lab.netem(node, step.iface or "eth1", {"loss": f"{step.percent}%"})
        elif action is Action.CLEAR:
            lab.netem(node, step.iface or "eth1", None)
        elif action in (Action.STANDBY, Action.TAKEOVER):
            lab.run(node, self._tool(node, f"hb_{action.value}"), timeout=30, check=True)

    def _signal_tree(self, node: str, sig: signal.Signals) -> None:
        tree = self.lab.daemon_tree(node)
        if not tree:
            raise LabError(f"no heartbeat daemon runs on {node}")
        ids = [p for p in (ProcessId.of(pid) for pid in tree) if p is not None]
        for pid in ids:
            pid.kill(sig)
        self.frozen[node] = ids

    def _tool(self, node: str, name: str) -> list[str]:
        return [name] if self.impls.get(node) == "hbnode" else [f"/usr/share/heartbeat/{name}"]

    def release(self) -> None:
        """Thaw whatever is still frozen (a run that ends early must not leave it)."""
        for ids in self.frozen.values():
            for pid in ids:
                pid.kill(signal.SIGCONT)
        self.frozen.clear()


def play(
    player: Player,
    schedule: Schedule,
    t0: float,
    on_step: Callable[[Done], None] = lambda _done: None,
) -> list[Done]:
    """Every step at its time (never before it); what was done, in order."""
    done: list[Done] = []
    for step in schedule.steps:
        wait = t0 + step.at - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # the schedule's own gap: the fault's timing, not a wait for state
        started = time.monotonic()
        error = None
        try:
            player.do(step)
        except Exception as exc:  # recorded: a step the lab refused is part of the story
            lines = str(exc).strip().splitlines()
            error = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
        record = Done(step, started, time.monotonic(), error)
        done.append(record)
        on_step(record)
    return done
