"""What the messaging core tells the node: frozen records, each stamped with ``now``.

The core never logs. Each event carries what the node needs to write Heartbeat's
own log line (``node slave: is dead``, ``Link slave:eth1 up.``, ``3 lost packet(s)
for [slave] [10:12]``) and to drive the resource layer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hbnode.core.states import LinkStatus, NodeStatus
from hbnode.message import Message


class DropReason(enum.StrEnum):
    """Why a received message was thrown away before the upper layer saw it.

    The node logs the first two in Heartbeat's words (hbnode.logwords); the values
    are the words of the ``N more message(s) dropped (…)`` line and the counters.
    """

    UNKNOWN_NODE = "unknown node"  # process_status_message: bad node [x] in message
    REPLAY = "replay attack"  # should_drop_message: attempted replay attack
    MALFORMED = "malformed message"  # missing src/t/ts/seq, ts 0, bad hex
    EARLY_GENERATION = "newer generation before its status"
    IMPOSTOR = "our own name from another process"
    PING_OVER_UDP = "ping node message on a cluster link"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Stamped:
    now: float


@dataclass(frozen=True, slots=True)
class NodeStatusChanged(_Stamped):
    """``node``'s status as we see it went ``old`` → ``new``.

    ``heard``: a death declared on a status that came later than deadtime (3.0.6's
    on-the-spot verdict, :class:`LateHeartbeat`): the node was silent, yet that
    status has just shown it alive.
    """

    node: str
    old: NodeStatus
    new: NodeStatus
    heard: bool = False


@dataclass(frozen=True, slots=True)
class LinkStatusChanged(_Stamped):
    """The (``node``, ``link``) medium went ``old`` → ``new``."""

    node: str
    link: str
    old: LinkStatus
    new: LinkStatus


@dataclass(frozen=True, slots=True)
class LateHeartbeat(_Stamped):
    """Two status messages from ``node`` arrived more than warntime apart.

    ``beyond_deadtime``: more than deadtime apart; 3.0.6 logs it CRIT and declares
    the node dead at once (a :class:`NodeStatusChanged` to dead follows).
    """

    node: str
    interval_ms: int
    beyond_deadtime: bool


@dataclass(frozen=True, slots=True)
class CommUp(_Stamped):
    """Every node was heard from or declared dead, and reqnodes/repnodes is done."""


@dataclass(frozen=True, slots=True)
class NodeRestarted(_Stamped):
    """A status with a higher generation: ``node``'s heartbeat restarted."""

    node: str
    old_hg: int
    new_hg: int


@dataclass(frozen=True, slots=True)
class PartitionHealed(_Stamped):
    """A status in the same generation from ``node``, which we had declared dead."""

    node: str


@dataclass(frozen=True, slots=True)
class Delivered(_Stamped):
    """A kept message for the upper layer. ``link`` is None for our own (loopback)."""

    msg: Message
    link: str | None


@dataclass(frozen=True, slots=True)
class Dropped(_Stamped):
    """A message thrown away for ``reason``; ``node`` is its claimed sender."""

    reason: DropReason
    node: str
    detail: str


@dataclass(frozen=True, slots=True)
class PacketsLost(_Stamped):
    """A gap in ``node``'s sequence: ``count`` messages ``first``..``last`` are missing.

    ``reset`` is set when the gap was too wide to fill (``lost a lot of packets!``):
    tracking restarted from the new seq and nothing will be asked for.
    """

    node: str
    first: int
    last: int
    count: int
    reset: bool = False


Event = (
    NodeStatusChanged
    | LinkStatusChanged
    | LateHeartbeat
    | CommUp
    | NodeRestarted
    | PartitionHealed
    | Delivered
    | Dropped
    | PacketsLost
)
