"""How the daemon carries out the resource manager's actions: hbnode.resources.

One :class:`AgentContext` for the daemon's life, so a release cancels the
gratuitous-ARP burst an earlier acquire started on the same VIP.
"""

from __future__ import annotations

from typing import Any

from hbnode.config import ClusterConfig
from hbnode.executor import Runner, StepSink
from hbnode.hblog import HbLogger
from hbnode.resources.agent import AgentContext, GroupAction, GroupStatus, run_group
from hbnode.rm import Action

# Action kinds of the resource manager → what the agents do.
_KINDS = {"acquire": GroupAction.ACQUIRE, "release": GroupAction.RELEASE}


def make_runner(config: ClusterConfig, logger: HbLogger) -> Runner:
    groups = {group.key: group for group in config.resource_groups}
    context = AgentContext(curhost=config.node_name)

    def run(action: Action, sink: StepSink) -> tuple[bool, str | None]:
        group = groups.get(action.group)
        if group is None:
            return False, f"no resource group {action.group!r} in haresources"
        if action.kind == "probe":
            # The answer is whether anything of the group runs (statgroup ALL or SOME).
            probed = run_group(group, GroupAction.STATUS, log=sink, context=context)
            return probed.status in (GroupStatus.ALL, GroupStatus.SOME), None
        kind: Any = _KINDS.get(action.kind, action.kind)  # "announce", "status" as is
        result = run_group(group, kind, log=sink, say=logger, context=context)
        return result.ok, result.error

    return run
