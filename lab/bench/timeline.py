"""From a trace to what the timeline picture shows (pure: no matplotlib here).

Lanes, top to bottom: each node's state (init/up/active/dead/off/stopped), the
heartbeat packets heard per sender and link, who answers ARP for the VIP, and the
client's HTTP probes. Marks are the failover's steps: hbnode's event log where a
node has one, otherwise the lines of Heartbeat's ha-log that name the same steps.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from lab.bench.analysis import ARP_INTERVAL
from lab.bench.trace import Trace


class NodeState(enum.StrEnum):
    UNKNOWN = "?"
    OFF = "off"
    INIT = "init"
    UP = "up"
    ACTIVE = "active"
    DEAD = "dead"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    label: str


@dataclass(frozen=True, slots=True)
class Mark:
    t: float
    node: str
    label: str


@dataclass
class Timeline:
    title: str
    start: float
    end: float
    nodes: list[str]
    states: dict[str, list[Segment]] = field(default_factory=dict)
    ticks: dict[str, list[float]] = field(default_factory=dict)  # "master eth1" → times
    holders: dict[str, list[Segment]] = field(default_factory=dict)  # node → ARP answers
    http_ok: list[float] = field(default_factory=list)
    http_fail: list[float] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


# Lines of the node's own log that set its state (Heartbeat and hbnode log the same).
_OWN_STATE = (
    ("Configuration validated. Starting heartbeat", NodeState.INIT),
    ("Local status now set to: 'up'", NodeState.UP),
    ("Local status now set to: 'active'", NodeState.ACTIVE),
    ("Heartbeat shutdown complete", NodeState.STOPPED),
)
# Heartbeat's ha-log lines that name a failover step (for nodes without an event log).
_LOG_STEPS = (
    (re.compile(r"node (\S+): is dead"), "peer_dead {0}"),
    (re.compile(r"Received shutdown notice from '(\S+)'"), "shutdown notice {0}"),
    (re.compile(r"Cluster node (\S+) returning after partition"), "partition healed {0}"),
    (re.compile(r"Taking over resource group"), "takeover"),
    (re.compile(r"Acquiring resource group"), "acquire group"),
    (re.compile(r"Releasing resource group"), "release group"),
    (re.compile(r"resource.d/IPaddr \S+ start"), "VIP start"),
    (re.compile(r"resource.d/IPaddr \S+ stop"), "VIP stop"),
    (re.compile(r"init.d/nginx\s+start"), "nginx start"),
    (re.compile(r"init.d/nginx\s+stop"), "nginx stop"),
    (re.compile(r"mach_down takeover complete\."), "takeover complete"),
    (re.compile(r"Heartbeat shutdown in progress"), "shutdown"),
)
_NOISY_EVENTS = {"link", "ping_node"}  # shown as ticks and states already


def state_marks(trace: Trace) -> list[tuple[float, str, NodeState]]:
    """(t, node, state) from both logs and from what hblab did, in time order."""
    marks: list[tuple[float, str, NodeState]] = []
    nodes = {trace.observer, trace.peer}
    for t, node, line in trace.log_lines:
        for needle, state in _OWN_STATE:
            if needle in line:
                marks.append((t, node, state))
        for other in nodes - {node}:
            if f"node {other}: is dead" in line:
                marks.append((t, other, NodeState.DEAD))
            elif f"Status update for node {other}: status active" in line:
                marks.append((t, other, NodeState.ACTIVE))
    for t, what in trace.actions:
        verb, _, rest = what.partition(" ")
        node = rest.split(" ", 1)[0]
        if verb == "poweroff":
            marks.append((t, node, NodeState.OFF))
        elif verb == "poweron":
            marks.append((t, node, NodeState.INIT))
        elif verb == "crash":
            marks.append((t, node, NodeState.DEAD))
    return sorted(marks, key=lambda m: m[0])


def state_segments(
    marks: list[tuple[float, str, NodeState]], node: str, start: float, end: float
) -> list[Segment]:
    """One node's states as contiguous segments clipped to [start, end].

    A powered-off node stays off until it is powered on: its peer declaring it dead
    afterwards says nothing new about it.
    """
    state, since = NodeState.UNKNOWN, start
    segments: list[Segment] = []
    for t, who, new in marks:
        if who != node or new is state:
            continue
        if state is NodeState.OFF and new is not NodeState.INIT:
            continue
        if t > start:
            segments.append(Segment(since, min(t, end), state.value))
        state, since = new, max(t, start)
        if t >= end:
            break
    if since < end:
        segments.append(Segment(since, end, state.value))
    return [s for s in segments if s.end > s.start]


def holder_segments(trace: Trace) -> dict[str, list[Segment]]:
    """For each node, when its MAC answered the client's ARP for the VIP."""
    result: dict[str, list[Segment]] = {}
    for index, (t, macs) in enumerate(trace.arp):
        width = trace.arp[index + 1][0] - t if index + 1 < len(trace.arp) else ARP_INTERVAL
        for mac in macs:
            node = trace.macs.get(mac, mac)
            lane = result.setdefault(node, [])
            if lane and abs(lane[-1].end - t) < 1e-9:
                lane[-1] = Segment(lane[-1].start, t + width, node)
            else:
                lane.append(Segment(t, t + width, node))
    return result


def step_marks(trace: Trace) -> list[Mark]:
    """hblab's actions, hbnode's events, and Heartbeat's named log lines."""
    marks = [Mark(t, what.split(" ")[1] if " " in what else "", what) for t, what in trace.actions]
    with_events = {str(e.get("source")) for e in trace.events}
    for event in trace.events:
        if event.get("step") in _NOISY_EVENTS:
            continue
        about = f" {event['node']}" if event.get("node") else ""
        marks.append(Mark(float(event["t"]), str(event.get("source")), f"{event['step']}{about}"))
    for t, node, line in trace.log_lines:
        if node in with_events:
            continue
        for pattern, label in _LOG_STEPS:
            found = pattern.search(line)
            if found:
                marks.append(Mark(t, node, label.format(*found.groups())))
                break
    return sorted(marks, key=lambda m: m.t)


def build(trace: Trace, start: float | None = None, end: float | None = None) -> Timeline:
    """The timeline of ``trace`` between ``start`` and ``end`` (default: the whole window)."""
    lo = trace.start if start is None else start
    hi = trace.end if end is None else end
    nodes = sorted({trace.observer, trace.peer})
    marks = state_marks(trace)
    timeline = Timeline(
        title=f"{trace.impl}: {trace.scenario} (run {trace.run}) — t = 0: {trace.fault}",
        start=lo,
        end=hi,
        nodes=nodes,
    )
    timeline.states = {n: state_segments(marks, n, lo, hi) for n in nodes}
    for t, sender, link in trace.packets:
        if lo <= t <= hi:
            timeline.ticks.setdefault(f"{sender} {link}", []).append(t)
    timeline.holders = {
        node: [s for s in segs if s.end >= lo and s.start <= hi]
        for node, segs in holder_segments(trace).items()
    }
    for t, ok, _server in trace.http:
        if lo <= t <= hi:
            (timeline.http_ok if ok else timeline.http_fail).append(t)
    timeline.marks = [m for m in step_marks(trace) if lo <= m.t <= hi]
    return timeline
