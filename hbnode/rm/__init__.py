"""The R1 (haresources) resource manager, sans-IO: see :mod:`hbnode.rm.manager`.

It speaks Heartbeat 3.0.6's resource messages (protocol.md §3.2) field for field,
so either role can be a real Heartbeat node. Where hbnode decides differently,
the choice and its reason are in the module that makes it:

* a failed start (:mod:`~hbnode.rm.failures`): the group is stopped again and
  the set it belongs to is handed to the peer with the standby protocol (what a
  real Heartbeat peer understands), at once rather than after 30 s, but not more
  often than every 30 s so a group cannot bounce between two failing nodes;
* isolation (:mod:`~hbnode.rm.isolation`): with ``hbnode_isolation`` and ping
  nodes, the side that has lost the peer *and* every ping node neither takes
  over nor keeps what it holds;
* partition heal (:mod:`~hbnode.rm.partition`): instead of Heartbeat's double
  restart, one node keeps each doubly-held set and re-announces it (the owner
  with auto_failback on, else the pre-split holder, ties to the owner), the
  other stops its copy at once;
* ipfail (:mod:`~hbnode.rm.ipfail`) is built in, with ipfail's messages; it
  runs while the ``respawn … ipfail`` client says it is alive, and the early
  isolation verdict comes from whom the node hears (:mod:`~hbnode.rm.liveness`).
"""

from hbnode.rm.actions import Action, ActionKind
from hbnode.rm.events import RmEvent
from hbnode.rm.groups import GroupState
from hbnode.rm.hold import Hold
from hbnode.rm.manager import ResourceManager
from hbnode.rm.scope import StandbyScope

__all__ = [
    "Action",
    "ActionKind",
    "GroupState",
    "Hold",
    "ResourceManager",
    "RmEvent",
    "StandbyScope",
]
