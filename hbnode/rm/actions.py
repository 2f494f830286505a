"""What the resource manager asks the daemon to do: the only I/O it ever wants.

The adapter runs each :class:`Action` (one at a time, as Heartbeat runs one
resource script job at a time) and reports the result with
``ResourceManager.action_done(action.id, ok, now)``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ActionKind(enum.StrEnum):
    """What an :class:`Action` asks for; the value is the word the daemon logs."""

    ACQUIRE = "acquire"
    RELEASE = "release"
    ANNOUNCE = "announce"
    PROBE = "probe"
    FENCE = "fence"


@dataclass(frozen=True)
class Action:
    """One piece of resource work on one group (a haresources line).

    ``acquire``: start the group's resources left to right (ResourceManager
    ``takegroup``); starting an already running resource is a no-op. ``release``:
    stop them right to left (``givegroup``); stopping a stopped one succeeds.
    ``announce``: the group is (and stays) ours; send the gratuitous ARPs for its
    addresses again, because another node held them a moment ago (partition heal).
    ``probe``: at start-up, is any resource of the group running (statgroup ALL or
    SOME)? The result's ``ok`` is the answer: True means something runs, left
    behind by an earlier daemon (kill -9) or started by someone else.
    """

    id: int
    kind: ActionKind
    group: str  # the group key (its first resource in haresources); fence: the node
    reason: str  # initial, mach_down, standby, shutdown, failback, isolation, partition, …
