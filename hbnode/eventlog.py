"""The failover event log: each step of a takeover, with millisecond timestamps.

Heartbeat's log says what happened; this says *when*, precisely enough to read a
failover's timeline (last heartbeat heard → declared dead → takeover started →
VIP added → GARP sent → service started → handover done). Each step is one JSON
line in ``/var/log/ha-events.jsonl`` and one ``event:`` line in the normal logs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

EVENTS_FILE = Path("/var/log/ha-events.jsonl")


class EventLog:
    def __init__(
        self,
        path: Path | None,
        wallclock: Callable[[], float],
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.wallclock = wallclock
        self.echo = echo  # e.g. the Heartbeat logger's info, for "event:" lines
        self.handle: TextIO | None = None
        self.write_errors = 0
        self.recorded = 0

    def record(self, step: str, *, at: float | None = None, **fields: Any) -> dict[str, Any]:
        """Write one step; ``at`` is when it happened (wall clock), default now."""
        when = self.wallclock() if at is None else at
        entry: dict[str, Any] = {"ts": round(when, 3), "step": step, **fields}
        self.recorded += 1
        if self.echo is not None:
            detail = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
            self.echo(f"event: {step} {detail}".rstrip())
        if self.path is not None:
            self._write(json.dumps(entry, sort_keys=False) + "\n")
        return entry

    def _write(self, line: str) -> None:
        # A full disk must not stop failover: count and go on.
        try:
            if self.handle is None:
                assert self.path is not None
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                self.handle = os.fdopen(fd, "a", buffering=1)
            self.handle.write(line)
        except OSError:
            self.write_errors += 1
            self.handle = None

    def reopen(self) -> None:
        if self.handle is not None:
            try:
                self.handle.close()
            except OSError:
                self.write_errors += 1
            self.handle = None
