"""What a node's own logs say of it, line by line (pure: fed text, no files).

Heartbeat and hbnode write the same ha-log lines for the membership moments
(``Local status now set to: 'active'``, ``node slave: is dead``, ``Link
slave:eth1 dead.``), so one reader serves both implementations for the node's
state. The failover's steps come from hbnode's ``ha-events.jsonl`` where a node
has one, else from the ha-log lines that name the same steps in Heartbeat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lab.bench.timeline import _LOG_STEPS as TIMELINE_STEPS

_OWN = (
    ("Configuration validated. Starting heartbeat", "init"),
    ("Heartbeat shutdown complete", "stopped"),
)
_LOCAL = re.compile(r"Local status now set to: '(\w+)'")
_PEER = re.compile(r"Status update for node (\S+): status (\w+)")
_DEAD = re.compile(r"node (\S+): is dead")
_LINK = re.compile(r"Link (\S+):(\S+) (up|dead)\.")
# Heartbeat's lines for what hbnode's event log records as "link" steps.
_LIVE_STEPS = (
    (re.compile(r"Link (\S+):(\S+) (up|dead)\."), "link {0}:{1} {2}"),
    *TIMELINE_STEPS,
)
# hbnode steps shown elsewhere on the page (ping node, periodic status checks).
_QUIET_STEPS = {"ping_node", "group status started", "group status done"}
_EVENT_FIELDS = ("node", "link", "status", "group", "peers", "reason")


@dataclass
class NodeLog:
    """One node's state as its own log tells it, kept up to date line by line."""

    cluster: frozenset[str]  # the cluster's node names (ping nodes are not peers)
    own: str = "?"  # init, up, active, stopped; "?" before any line was read
    peers: dict[str, str] = field(default_factory=dict)  # peer → up, active, dead…
    links: dict[str, str] = field(default_factory=dict)  # "slave:eth1" → up, dead

    def feed(self, line: str) -> None:
        for needle, state in _OWN:
            if needle in line:
                self.own = state
                if state == "stopped":
                    self.peers.clear()
                    self.links.clear()
        if (local := _LOCAL.search(line)) is not None:
            self.own = local.group(1)
        elif (peer := _PEER.search(line)) is not None and peer.group(1) in self.cluster:
            self.peers[peer.group(1)] = peer.group(2)
        elif (dead := _DEAD.search(line)) is not None and dead.group(1) in self.cluster:
            self.peers[dead.group(1)] = "dead"
        elif (link := _LINK.search(line)) is not None and link.group(1) in self.cluster:
            self.links[f"{link.group(1)}:{link.group(2)}"] = link.group(3)


def step_of_line(line: str, cluster: frozenset[str] = frozenset()) -> str | None:
    """A Heartbeat ha-log line as a failover step ("peer_dead master"), if it is one.
    Links to ping nodes (not in ``cluster``, when given) are left out."""
    link = _LINK.search(line)
    if link is not None and cluster and link.group(1) not in cluster:
        return None
    for pattern, label in _LIVE_STEPS:
        found = pattern.search(line)
        if found:
            return label.format(*found.groups())
    return None


def step_of_event(event: dict[str, Any], cluster: frozenset[str] = frozenset()) -> str | None:
    """An hbnode event-log entry as one short line ("peer_dead node=master"); a link
    to a ping node (not in ``cluster``, when given) is left out."""
    step = str(event.get("step", ""))
    if not step or step in _QUIET_STEPS:
        return None
    if step == "link" and cluster and event.get("node") not in cluster:
        return None
    shown = [f"{name}={event[name]}" for name in _EVENT_FIELDS if event.get(name) is not None]
    return " ".join([step, *shown])
