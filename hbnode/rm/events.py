"""Log lines and failover steps out of the resource manager, and the outbox.

The resource manager never logs or sends by itself: everything it wants said or
done is queued in an :class:`Outbox` and taken by the daemon. Log texts are
Heartbeat's own words (``mach_down takeover complete for node master.``) so that
grep habits from Heartbeat keep working; ``step`` names the same moment for the
failover event log (``/var/log/ha-events.jsonl``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hbnode.message import Message
from hbnode.rm.actions import Action, ActionKind

Level = Literal["debug", "info", "warn", "err", "crit"]


@dataclass(frozen=True)
class RmEvent:
    """A log line (``level``, ``text``) and, when ``step`` is set, an event-log step.

    ``level`` None: an event-log step only, with no log line.
    """

    level: Level | None
    text: str
    step: str | None = None
    fields: dict[str, object] = field(default_factory=dict)


class Outbox:
    """Messages to send, actions to run and events to log, in the order they arose."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.actions: list[Action] = []
        self.events: list[RmEvent] = []
        self._next_action = 1

    def send(self, msg: Message) -> None:
        self.messages.append(msg)

    def act(self, kind: ActionKind, group: str, reason: str) -> Action:
        action = Action(self._next_action, kind, group, reason)
        self._next_action += 1
        self.actions.append(action)
        return action

    def log(self, level: Level, text: str, step: str | None = None, **fields: object) -> None:
        self.events.append(RmEvent(level, text, step, dict(fields)))

    def record(self, step: str, **fields: object) -> None:
        """An event-log step that Heartbeat has no log line for."""
        self.events.append(RmEvent(None, "", step, dict(fields)))

    def take_messages(self) -> list[Message]:
        taken, self.messages = self.messages, []
        return taken

    def take_actions(self) -> list[Action]:
        taken, self.actions = self.actions, []
        return taken

    def take_events(self) -> list[RmEvent]:
        taken, self.events = self.events, []
        return taken
