"""The R1 (haresources) resource manager, sans-IO: see :mod:`hbnode.rm.manager`."""

from hbnode.rm.actions import Action, ActionKind
from hbnode.rm.events import RmEvent
from hbnode.rm.groups import GroupState
from hbnode.rm.hold import Hold
from hbnode.rm.manager import ResourceManager

__all__ = ["Action", "ActionKind", "GroupState", "Hold", "ResourceManager", "RmEvent"]
