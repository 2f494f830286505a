"""Resource agents: IPaddr/IPaddr2 through netlink, gratuitous ARP, haresources scripts,
and the group runner that acquires and releases them as ResourceManager does.

Everything here blocks; the daemon calls it from its executor's worker thread.
"""

from hbnode.resources.agent import (
    AgentContext,
    GroupAction,
    GroupResult,
    GroupStatus,
    ResourceOutcome,
    Timeouts,
    default_context,
    run_group,
)
from hbnode.resources.base import Emit, ResourceStatus
from hbnode.resources.errors import (
    GarpError,
    InterfaceError,
    ResourceError,
    ScriptError,
    ScriptNotFound,
    ScriptTimeout,
)

__all__ = [
    "AgentContext",
    "Emit",
    "GarpError",
    "GroupAction",
    "GroupResult",
    "GroupStatus",
    "InterfaceError",
    "ResourceError",
    "ResourceOutcome",
    "ResourceStatus",
    "ScriptError",
    "ScriptNotFound",
    "ScriptTimeout",
    "Timeouts",
    "default_context",
    "run_group",
]
