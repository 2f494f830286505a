"""Runs the resource manager's actions off the heartbeat loop.

Starting nginx or sending ten gratuitous ARPs takes seconds; heartbeats must go
out every keepalive meanwhile. Actions run one at a time (as Heartbeat runs one
resource script job at a time) in a worker thread. Each step comes back as it
happens, and each result when its action ends, through a socket the daemon's
selector watches: the event log is a live timeline, not a summary written after.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hbnode.rm import Action

JOIN_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Step:
    """One timed step inside an action (``VIP added``, ``GARP sent``, …)."""

    at: float  # wall clock
    name: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Progress:
    """A step of an action that is still running."""

    action: Action
    step: Step


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    ok: bool
    error: str | None = None


Report = Progress | Outcome


StepSink = Callable[[str, dict[str, Any]], None]
Runner = Callable[[Action, StepSink], tuple[bool, str | None]]


class ActionExecutor:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.todo: queue.Queue[Action | None] = queue.Queue()
        self.done: queue.Queue[Report] = queue.Queue()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.busy = 0
        self.thread = threading.Thread(target=self._work, name="hbnode-actions", daemon=True)
        self.thread.start()

    def submit(self, action: Action) -> None:
        self.busy += 1
        self.todo.put(action)

    def idle(self) -> bool:
        return self.busy == 0

    def fileno(self) -> int:
        return self.wake_r.fileno()

    def drain(self) -> list[Report]:
        """What the worker reported since the last call, in its order."""
        with contextlib.suppress(BlockingIOError):
            self.wake_r.recv(4096)
        reports: list[Report] = []
        for _ in range(1024):
            try:
                reports.append(self.done.get_nowait())
            except queue.Empty:
                break
        self.busy -= sum(isinstance(r, Outcome) for r in reports)
        return reports

    def close(self) -> None:
        self.todo.put(None)
        self.thread.join(JOIN_TIMEOUT)
        self.wake_r.close()
        self.wake_w.close()

    def _work(self) -> None:
        for action in iter(self.todo.get, None):

            def sink(name: str, fields: dict[str, Any], action: Action = action) -> None:
                self._report(Progress(action, Step(time.time(), name, dict(fields))))

            try:
                ok, error = self.runner(action, sink)
            except Exception as exc:  # a resource agent bug must not kill the daemon
                ok, error = False, f"{type(exc).__name__}: {exc}"
            self._report(Outcome(action, ok, error))

    def _report(self, report: Report) -> None:
        self.done.put(report)
        with contextlib.suppress(OSError):
            self.wake_w.send(b"x")
