"""How the daemon carries out the resource manager's actions: hbnode.resources.

One :class:`AgentContext` for the daemon's life, so a release cancels the
gratuitous-ARP burst an earlier acquire started on the same VIP.
"""

from __future__ import annotations

from hbnode.config import ClusterConfig
from hbnode.executor import Runner, StepSink
from hbnode.hblog import HbLogger
from hbnode.resources.agent import AgentContext, GroupAction, GroupStatus, Timeouts, run_group
from hbnode.rm import Action, ActionKind

STATUS_TIMEOUT = 30.0  # seconds; a status probe never waits longer than this

# What the agents do for each action kind of the resource manager. A probe is a
# status run whose answer is whether anything of the group runs (statgroup ALL or SOME).
GROUP_ACTIONS = {
    ActionKind.ACQUIRE: GroupAction.ACQUIRE,
    ActionKind.RELEASE: GroupAction.RELEASE,
    ActionKind.ANNOUNCE: GroupAction.ANNOUNCE,
    ActionKind.PROBE: GroupAction.STATUS,
}


def make_runner(config: ClusterConfig, logger: HbLogger) -> Runner:
    groups = {group.key: group for group in config.resource_groups}
    context = AgentContext(curhost=config.node_name)
    timeouts = script_timeouts(config)

    def run(action: Action, sink: StepSink) -> tuple[bool, str | None]:
        group = groups.get(action.group)
        if group is None:
            return False, f"no resource group {action.group!r} in haresources"
        kind = GROUP_ACTIONS[action.kind]
        if action.kind is ActionKind.PROBE:
            probed = run_group(group, kind, timeouts=timeouts, log=sink, context=context)
            return probed.status in (GroupStatus.ALL, GroupStatus.SOME), None
        result = run_group(group, kind, timeouts=timeouts, log=sink, say=logger, context=context)
        return result.ok, result.error

    return run


def make_fence_runner(config: ClusterConfig) -> Runner:
    """Resets through cluster-glue's ``stonith`` (hbnode.stonith_io), bounded by
    ``hbnode_stonith_timeout``. The answer is the FenceResult's value, then what
    the program said: ``OK: …``, ``bad: exit 5: …``."""
    from hbnode.stonith_io import run_reset

    device = config.hacf.stonith
    timeout = config.hacf.stonith_timeout_ms / 1000.0

    def run(action: Action, sink: StepSink) -> tuple[bool, str | None]:
        if device is None:
            return False, "bad: no STONITH device configured"
        sink("fence_command", {"node": action.group, "device": device.plugin})
        outcome = run_reset(device, action.group, timeout)
        sink("fence_result", {"node": action.group, "result": outcome.result.value})
        return outcome.result.value == "OK", f"{outcome.result.value}: {outcome.detail}"

    return run


def script_timeouts(config: ClusterConfig) -> Timeouts:
    """ha.cf ``hbnode_resource_timeout`` bounds every start and stop (status: 30 s at most)."""
    limit = config.hacf.resource_timeout_ms / 1000.0
    return Timeouts(start=limit, stop=limit, status=min(STATUS_TIMEOUT, limit))
