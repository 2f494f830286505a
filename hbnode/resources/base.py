"""What every resource agent offers the group runner: start, stop, status, and step events."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Protocol

# A timed step for the event log: ("VIP added", {"ip": …, "ms": …}). Same shape as the
# executor's StepSink, so the daemon can pass its sink straight through.
Emit = Callable[[str, dict[str, Any]], None]


def no_emit(step: str, fields: dict[str, Any]) -> None:
    """An Emit that drops everything."""


class ResourceStatus(enum.Enum):
    RUNNING = "running"
    STOPPED = "stopped"


class ResourceAgent(Protocol):
    """One haresources resource, ready to act on. Calls block; run them in a worker."""

    @property
    def name(self) -> str:
        """The resource as written in haresources (``IPaddr::10.0.0.9/24``)."""
        ...

    @property
    def idempotent_start(self) -> bool:
        """True if start is safe on a running resource (then acquire skips the probe)."""
        ...

    def start(self, emit: Emit, timeout: float) -> None:
        """Start; raise ResourceError on failure."""
        ...

    def stop(self, emit: Emit, timeout: float) -> None:
        """Stop; already stopped is success. Raise ResourceError on failure."""
        ...

    def status(self, timeout: float) -> ResourceStatus:
        """Running or stopped; raise ResourceError if it cannot tell."""
        ...
