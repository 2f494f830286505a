"""The Prometheus metrics of one node, computed from its status snapshot.

The snapshot is what ``hbnode status --json`` prints (hbnode.control_commands,
plus the daemon's ``io``, ``takeovers`` and ``loop``): one source for the operator, the
tools and the scraper, so they cannot disagree. This module only renames and
reshapes it. Names follow Prometheus' conventions (``_total`` counters,
``_seconds`` units, one 0/1 series per possible state for a state).

Imported only when ha.cf has ``hbnode_metrics``: it needs prometheus_client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from hbnode.core.states import LinkStatus, NodeStatus, NodeType
from hbnode.rm.groups import GroupState

Snapshot = Mapping[str, Any]

# The states a node of each type can be in, as cl_status prints them.
NODE_STATES = {
    NodeType.NORMAL.value: [NodeStatus.INIT, NodeStatus.UP, NodeStatus.ACTIVE, NodeStatus.DEAD],
    NodeType.PING.value: [NodeStatus.PING, NodeStatus.DEAD],
}
# A group counts as held while any of its resources may be running here: a peer
# holding it at the same time means two copies (the "two holders" alert).
HELD_STATES = frozenset(
    {GroupState.HELD, GroupState.FOUND, GroupState.ACQUIRING, GroupState.RELEASING}
)
HOLDINGS = ("none", "local", "foreign", "all")
# Core counters (hbnode.core.counters) exported one by one: name → (metric, help).
CORE_COUNTERS = {
    "late_heartbeats": ("hbnode_late_heartbeats_total", "Heartbeats that came after warntime"),
    "lost": ("hbnode_messages_lost_total", "Sequence numbers found missing from peers"),
    "replayed": ("hbnode_messages_replayed_total", "Messages of an older generation (replays)"),
    "rexmit_requested": ("hbnode_retransmit_requests_total", "NS_rexmit requests sent"),
    "restarts": ("hbnode_peer_restarts_total", "Peers seen coming back with a new generation"),
    "partitions": ("hbnode_partitions_healed_total", "Partitions seen healing"),
}
# Messages the core dropped after decoding, by reason (replayed is its own counter too).
DROP_REASONS = ("malformed", "unknown_node", "early_generation", "impostor", "ping_over_udp")


def families(snap: Snapshot) -> Iterator[Metric]:
    """Every metric of the snapshot, in a stable order."""
    yield from _identity(snap)
    yield from _membership(snap)
    yield from _resources(snap)
    yield from _counters(snap)
    yield from _takeovers(snap)
    yield from _lateness(snap)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels or [])


def _identity(snap: Snapshot) -> Iterator[Metric]:
    info = _gauge("hbnode_info", "This node's name and hbnode's version", ["node", "version"])
    info.add_metric([str(snap["node"]), str(snap["version"])], 1)
    yield info
    yield GaugeMetricFamily(
        "hbnode_generation",
        "This run's generation (hg): it grows at each start",
        value=float(snap.get("generation") or 0),
    )
    yield GaugeMetricFamily(
        "hbnode_uptime_seconds", "Seconds since the daemon started", value=snap["uptime_s"]
    )
    yield GaugeMetricFamily(
        "hbnode_comm_up", "1 once the initial membership is settled", value=int(snap["comm_up"])
    )
    yield GaugeMetricFamily(
        "hbnode_stopping", "1 during the orderly shutdown", value=int(bool(snap.get("stopping")))
    )


def _membership(snap: Snapshot) -> Iterator[Metric]:
    state = _gauge(
        "hbnode_node_state",
        "1 for the state this node sees each node in (cl_status nodestatus), 0 for the others",
        ["node", "type", "state"],
    )
    link_up = _gauge(
        "hbnode_link_up",
        "1 if the link to the node is up (cl_status hblinkstatus)",
        ["node", "type", "link"],
    )
    age = _gauge(
        "hbnode_link_last_heartbeat_age_seconds",
        "Seconds since the last packet of the node arrived on the link",
        ["node", "type", "link"],
    )
    heard = snap.get("link_heard_s", {})
    for node in snap["nodes"]:
        name, kind = str(node["name"]), str(node["type"])
        for candidate in NODE_STATES.get(kind, []):
            state.add_metric([name, kind, candidate.value], int(node["status"] == candidate))
        if name == snap["node"]:
            continue  # our own links are our own echoes: no news there
        for link, status in node["links"].items():
            link_up.add_metric([name, kind, link], int(status == LinkStatus.UP))
        for link, seconds in heard.get(name, {}).items():
            age.add_metric([name, kind, link], seconds)
    yield from (state, link_up, age)


def _resources(snap: Snapshot) -> Iterator[Metric]:
    holdings = _gauge(
        "hbnode_holdings",
        "1 for what this node claims to hold (cl_status rscstatus): none, local, foreign, all",
        ["holdings"],
    )
    for word in HOLDINGS:
        holdings.add_metric([word], int(snap["holdings"] == word))
    yield holdings
    yield GaugeMetricFamily(
        "hbnode_resources_in_transition",
        "1 while resources move (cl_status rscstatus says transition)",
        value=int(snap["rscstatus"] == "transition"),
    )
    held = _gauge(
        "hbnode_resource_group_held",
        "1 while the group's resources may run on this node (held, found, starting, stopping)",
        ["group", "owner"],
    )
    group_state = _gauge(
        "hbnode_resource_group_state", "1 for the group's state on this node", ["group", "state"]
    )
    for key, group in snap["resources"].items():
        held.add_metric([key, str(group["owner"])], int(group["state"] in HELD_STATES))
        for candidate in GroupState:
            group_state.add_metric([key, candidate.value], int(group["state"] == candidate))
    yield from (held, group_state)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name.removesuffix("_total"), doc, value=value)


def _counters(snap: Snapshot) -> Iterator[Metric]:
    core = snap["counters"]
    for key, (name, doc) in CORE_COUNTERS.items():
        yield _counter(name, doc, core.get(key, 0))
    dropped = CounterMetricFamily(
        "hbnode_messages_dropped", "Decoded messages the core dropped, by reason", labels=["reason"]
    )
    for reason in DROP_REASONS:
        dropped.add_metric([reason], core.get(reason, 0))
    yield dropped
    io = snap.get("io")
    if not io:
        return
    yield _counter("hbnode_datagrams_received_total", "Datagrams read", io["datagrams_received"])
    yield _counter("hbnode_datagrams_sent_total", "Datagrams sent", io["datagrams_sent"])
    rejected = CounterMetricFamily(
        "hbnode_datagrams_rejected",
        "Datagrams refused before decoding, by reason (bad signature, unknown key, …)",
        labels=["reason"],
    )
    for reason, count in sorted(io["rejected"].items()):
        rejected.add_metric([reason], count)
    yield rejected


def _takeovers(snap: Snapshot) -> Iterator[Metric]:
    takeovers = snap.get("takeovers")
    if takeovers is None:
        return
    total = CounterMetricFamily(
        "hbnode_takeovers",
        "Acquisitions of a resource group by this node, by reason and result",
        labels=["group", "reason", "result"],
    )
    for entry in takeovers["total"]:
        result = "ok" if entry["ok"] else "failed"
        total.add_metric([entry["group"], entry["reason"], result], entry["count"])
    yield total
    duration = HistogramMetricFamily(
        "hbnode_takeover_duration_seconds",
        "Time from the decision to take a group over to its resources running",
        labels=["reason"],
    )
    for reason, hist in takeovers["duration_s"].items():
        cumulative, buckets = 0, []
        for bound, count in zip([*hist["buckets"], "+Inf"], hist["counts"], strict=True):
            cumulative += count
            buckets.append((_le(bound), float(cumulative)))
        duration.add_metric([reason], buckets, hist["sum_s"])
    yield duration
    last = _gauge(
        "hbnode_last_takeover_timestamp_seconds",
        "When this node last took the group over (Unix time)",
        ["group", "reason"],
    )
    for group, entry in sorted(takeovers["last"].items()):
        last.add_metric([group, entry["reason"]], entry["at"])
    yield last


def _lateness(snap: Snapshot) -> Iterator[Metric]:
    loop = snap.get("loop")
    if loop is None:
        return
    yield _counter(
        "hbnode_main_loop_late_total",
        "Times the daemon's timers ran late enough to miss its keepalives (hbnode.loopwatch)",
        loop["late"],
    )
    yield GaugeMetricFamily(
        "hbnode_main_loop_worst_late_seconds",
        "The latest the daemon's timers have run since it started",
        value=float(loop["worst_late_s"]),
    )


def _le(bound: float | str) -> str:
    return bound if isinstance(bound, str) else repr(float(bound))
