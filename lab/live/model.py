"""The live model's snapshot: what both views draw, as plain data.

A snapshot is built by lab.live.collector (or read back from a recording) and is
sent as JSON; the views read the JSON form, so a replay and a live lab look the
same to them. Times are wall-clock seconds (time.time()), ages are seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT = "hblab-live/1"
PROBE_FAIL = "."  # a failed probe in Snapshot.probe; a success is the serving node's index


@dataclass
class LinkView:
    iface: str
    state: str  # up, down (the node's side of the cable), absent
    heard_age: float | None = None  # seconds since a heartbeat from the peer arrived here
    faults: list[str] = field(default_factory=list)  # "down", "loss 30%"
    peer_says: str | None = None  # the daemon's own view of this link: up, dead


@dataclass
class NodeView:
    name: str
    role: str  # node, gw, client (lab.topology.Role)
    power: str  # on, off
    impl: str | None = None  # cluster nodes: hbnode, heartbeat
    daemon: str | None = None  # running, stopped, crashed (no daemon, no shutdown line)
    status: str | None = None  # the daemon's own status: init, up, active, stopped
    peers: dict[str, str] = field(default_factory=dict)  # how it sees its peer: active, dead
    links: list[LinkView] = field(default_factory=list)
    vip: bool = False  # the VIP is configured on it (netlink)
    nginx: bool | None = None  # the group's service runs on it (None: not a cluster node)


@dataclass
class VipView:
    ip: str
    label: str
    holders: list[str]  # nodes with the VIP configured (netlink)
    arp: list[str]  # who answered the client's ARP request for it (node, or MAC if unknown)

    @property
    def split(self) -> bool:
        """Two holders, by either view: the picture goes red."""
        return len(self.holders) > 1 or len(self.arp) > 1


@dataclass
class Stats:
    """The model's own cost, measured in its process (CPU of every thread)."""

    rate: float = 0.0  # snapshots per second over the last few seconds
    cpu: float = 0.0  # percent of one core over the same window


@dataclass
class Snapshot:
    t: float
    seq: int
    lab: str  # up, down (no lab), replay
    backend: str
    nodes: list[NodeView]
    vip: VipView
    probe: str = ""  # the client's HTTP probes, oldest first: node index (0-9) or "."
    probe_interval: float = 0.2
    events: list[tuple[float, str, str]] = field(default_factory=list)  # t, node, text
    beats: list[tuple[float, str, str, str]] = field(default_factory=list)  # t, src, dst, iface
    stats: Stats = field(default_factory=Stats)
    timers: dict[str, float] = field(default_factory=dict)  # keepalive, deadtime (seconds)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["vip"]["split"] = self.vip.split
        return data


def probe_code(server: str | None, nodes: list[str]) -> str:
    """One probe as a character: the index of the node that served the page, or "."."""
    if server is None or server not in nodes:
        return PROBE_FAIL
    return str(nodes.index(server))
