"""The states the core reports for nodes and links (include/heartbeat.h, §3.5).

They cross every seam: core events, the node's glue, the resource manager, the
status snapshot and cl_status. StrEnum, so a value prints, logs and serialises to
JSON as the very word Heartbeat uses (``Link slave:eth1 up.``, ``cl_status
nodestatus`` → ``active``), while a typo in code is a type error.
"""

from __future__ import annotations

import enum


class NodeStatus(enum.StrEnum):
    """A node's status; ``dead`` is only ever our local view, ``ping`` a ping node's."""

    INIT = "init"
    UP = "up"
    ACTIVE = "active"
    DEAD = "dead"
    PING = "ping"


class NodeType(enum.StrEnum):
    """``cl_status nodetype``: a cluster node or a ping pseudo-node."""

    NORMAL = "normal"
    PING = "ping"


class LinkStatus(enum.StrEnum):
    """One medium to one node, as ``cl_status hblinkstatus`` prints it."""

    UP = "up"
    DEAD = "dead"
