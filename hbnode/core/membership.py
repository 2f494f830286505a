"""Who is alive: node and link status, dead intervals and the 250 ms dead check.

Reference §3.5 and §4.1. Only an accepted ``status`` (or, for a ping node, an echo
reply) keeps a node alive; any kept or duplicate packet keeps a *link* alive. Both
time out after the node's dead interval: the ``dt`` it advertises, else our
deadtime; ``deadping`` for ping nodes; ``initdead`` for everyone until comm is up.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from hbnode.core import events as ev
from hbnode.core.sequence import ReceiveWindow
from hbnode.core.timers import Timers

# Float seconds accumulate rounding error (0.25 * 6 vs 1.5); deadlines are compared
# with this much slack so "at or after t + deadtime" means what it says.
EPSILON = 1e-6


class NodeStatus(enum.StrEnum):
    """include/heartbeat.h node states; ``dead`` is only ever our local view."""

    INIT = "init"
    UP = "up"
    ACTIVE = "active"
    DEAD = "dead"
    PING = "ping"


ADVERTISED_STATUSES = frozenset({NodeStatus.INIT, NodeStatus.UP, NodeStatus.ACTIVE})


class NodeType(enum.StrEnum):
    NORMAL = "normal"
    PING = "ping"


class LinkStatus(enum.StrEnum):
    UP = "up"
    DEAD = "dead"


@dataclass(slots=True)
class Link:
    status: LinkStatus = LinkStatus.DEAD
    last_heard: float = 0.0


@dataclass(slots=True)
class Peer:
    """Everything we know about one configured node (or ping pseudo-node)."""

    name: str
    type: NodeType
    window: ReceiveWindow
    last_alive: float  # last accepted status / echo reply; start time before any
    status: NodeStatus = NodeStatus.INIT
    heard: bool = False  # sent at least one packet: counts towards comm-up
    last_status_at: float | None = None  # arrival of the last in-order status
    dt: float | None = None  # dead interval it advertises (status ``dt``)
    protocol: bool | None = None  # sent protocol= in its last status; None: no status yet
    generation: int = 0  # its ``hg``; 0 until the first seq'd message
    uuid: bytes | None = None  # its ``srcuuid``, for ``destuuid`` on messages to it
    acked: int = 0  # highest of our seqs it ACKed: rexmit requests at or below are ignored
    links: dict[str, Link] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return self.status is not NodeStatus.DEAD


class NodeTable:
    """The configured nodes, ping nodes included, and their links."""

    def __init__(
        self,
        *,
        me: str,
        nodes: Sequence[str],
        ping_nodes: Sequence[str],
        media: Sequence[str],
        timers: Timers,
        rng: random.Random,
        now: float,
    ) -> None:
        self.me = me
        self.timers = timers
        self.peers: dict[str, Peer] = {}
        for name in nodes:
            self.peers[name] = self._peer(name, NodeType.NORMAL, rng, now)
            for medium in media:
                self.peers[name].links[medium] = Link()
        for name in ping_nodes:
            peer = self._peer(name, NodeType.PING, rng, now)
            # A ping node has one link, named after its address (cl_status listhblinks).
            peer.links[name] = Link()
            self.peers[name] = peer
        self.peers[me].heard = True

    def _peer(self, name: str, kind: NodeType, rng: random.Random, now: float) -> Peer:
        return Peer(name, kind, ReceiveWindow(rng, self.timers.max_rexmit_delay), last_alive=now)

    def restart_clock(self, now: float) -> None:
        """Dead intervals count from start(), not from construction."""
        for peer in self.peers.values():
            peer.last_alive = now

    # -- lookups ----------------------------------------------------------------
    def lookup(self, name: str, uuid: bytes | None) -> Peer | None:
        """The sender of a message: by name, else by a uuid we have seen before.

        The reference looks up the uuid first. We prefer the configured name, which
        only differs when two nodes share a uuid (a cloned image): then the uuid
        would merge them into one, and the name is what ha.cf and the peer agree on.
        """
        peer = self.peers.get(name)
        if peer is not None or uuid is None:
            return peer
        return next((p for p in self.peers.values() if p.uuid == uuid), None)

    def others(self) -> Iterator[Peer]:
        return (p for p in self.peers.values() if p.name != self.me)

    def normal_peers(self) -> Iterator[Peer]:
        return (p for p in self.others() if p.type is NodeType.NORMAL)

    def dead_interval(self, peer: Peer, *, comm_up: bool) -> float:
        if not comm_up:
            return self.timers.initdead
        if peer.type is NodeType.PING:
            return self.timers.deadping
        return peer.dt if peer.dt is not None else self.timers.deadtime

    # -- changes ----------------------------------------------------------------
    def set_status(self, peer: Peer, new: NodeStatus, now: float) -> ev.NodeStatusChanged | None:
        old = peer.status
        if new is old:
            return None
        peer.status = new
        if new is NodeStatus.DEAD:
            # Missing seqs of a dead node are no longer asked for (§3.4).
            peer.window.forget_missing()
        return ev.NodeStatusChanged(peer.name, old.value, new.value, now=now)

    def refresh_link(self, peer: Peer, link: str, now: float) -> ev.LinkStatusChanged | None:
        state = peer.links.setdefault(link, Link())
        state.last_heard = now
        if state.status is LinkStatus.UP:
            return None
        state.status = LinkStatus.UP
        return ev.LinkStatusChanged(peer.name, link, "dead", "up", now=now)

    def check(self, now: float, *, comm_up: bool) -> list[ev.Event]:
        """The 250 ms dead check: nodes and links silent for their dead interval."""
        found: list[ev.Event] = []
        for peer in self.others():
            interval = self.dead_interval(peer, comm_up=comm_up)
            if peer.alive and now + EPSILON >= peer.last_alive + interval:
                changed = self.set_status(peer, NodeStatus.DEAD, now)
                if changed is not None:
                    found.append(changed)
            for name, link in peer.links.items():
                if link.status is LinkStatus.UP and now + EPSILON >= link.last_heard + interval:
                    link.status = LinkStatus.DEAD
                    found.append(ev.LinkStatusChanged(peer.name, name, "up", "dead", now=now))
        return found
