"""How the daemon carries out the resource manager's actions: hbnode.resources.

One :class:`AgentContext` for the daemon's life, so a release cancels the
gratuitous-ARP burst an earlier acquire started on the same VIP.
"""

from __future__ import annotations

from typing import Any

from hbnode.config import ClusterConfig
from hbnode.executor import Runner, StepSink
from hbnode.hblog import HbLogger
from hbnode.resources.agent import AgentContext, GroupAction, GroupStatus, Timeouts, run_group
from hbnode.rm import Action

STATUS_TIMEOUT = 30.0  # seconds; a status probe never waits longer than this

# Action kinds of the resource manager → what the agents do.
_KINDS = {"acquire": GroupAction.ACQUIRE, "release": GroupAction.RELEASE}


def make_runner(config: ClusterConfig, logger: HbLogger) -> Runner:
    groups = {group.key: group for group in config.resource_groups}
    context = AgentContext(curhost=config.node_name)
    timeouts = script_timeouts(config)

    def run(action: Action, sink: StepSink) -> tuple[bool, str | None]:
        group = groups.get(action.group)
        if group is None:
            return False, f"no resource group {action.group!r} in haresources"
        if action.kind == "probe":
            # The answer is whether anything of the group runs (statgroup ALL or SOME).
            probed = run_group(
                group, GroupAction.STATUS, timeouts=timeouts, log=sink, context=context
            )
            return probed.status in (GroupStatus.ALL, GroupStatus.SOME), None
        kind: Any = _KINDS.get(action.kind, action.kind)  # "announce", "status" as is
        result = run_group(group, kind, timeouts=timeouts, log=sink, say=logger, context=context)
        return result.ok, result.error

    return run


def script_timeouts(config: ClusterConfig) -> Timeouts:
    """ha.cf ``hbnode_resource_timeout`` bounds every start and stop (status: 30 s at most)."""
    limit = config.hacf.resource_timeout_ms / 1000.0
    return Timeouts(start=limit, stop=limit, status=min(STATUS_TIMEOUT, limit))
