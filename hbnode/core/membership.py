"""Who is alive: node and link status, dead intervals and the 250 ms dead check.

protocol.md §3.5 and §4.1. Only an accepted ``status`` (or, for a ping node, an echo
reply) keeps a node alive; any kept or duplicate packet keeps a *link* alive. Both
time out after the node's dead interval: the ``dt`` it advertises, else our
deadtime; ``deadping`` for ping nodes; ``initdead`` for everyone until comm is up.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from hbnode.core import events as ev
from hbnode.core.sequence import ReceiveWindow
from hbnode.core.states import LinkStatus, NodeStatus, NodeType
from hbnode.core.timers import Timers

# Float seconds accumulate rounding error (0.25 * 6 vs 1.5); deadlines are compared
# with this much slack so "at or after t + deadtime" means what it says.
EPSILON = 1e-6


ADVERTISED_STATUSES = frozenset({NodeStatus.INIT, NodeStatus.UP, NodeStatus.ACTIVE})


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
    status_seq: int = 0  # seq of that status: a missing one above it is no older
    dt: float | None = None  # dead interval it advertises (status ``dt``)
    protocol: bool | None = None  # sent protocol= in its last status; None: no status yet
    generation: int = 0  # its ``hg``; 0 until the first seq'd message
    uuid: bytes | None = None  # its ``srcuuid``, for ``destuuid`` on messages to it
    acked: int = 0  # highest of our seqs it ACKed: rexmit requests at or below are ignored
    # Our highest seq when it came back from a partition: what we sent while apart is
    # not sent to it again (NAKed), as a Heartbeat restart would have forgotten it.
    # What we send after we have seen it back is retransmitted as usual.
    rexmit_floor: int = 0
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
        # The table never changes after this: every get_timer and dead check walks
        # these, so they are lists once rather than generators each time.
        self._others = [p for p in self.peers.values() if p.name != me]
        self._normal_peers = [p for p in self._others if p.type is NodeType.NORMAL]

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
        return iter(self._others)

    def normal_peers(self) -> Iterator[Peer]:
        return iter(self._normal_peers)

    def dead_interval(self, peer: Peer, *, comm_up: bool) -> float:
        if not comm_up:
            return self.timers.initdead
        if peer.type is NodeType.PING:
            return self.timers.deadping
        return peer.dt if peer.dt is not None else self.timers.deadtime

    # -- changes ----------------------------------------------------------------
    def set_status(
        self, peer: Peer, new: NodeStatus, now: float, *, heard: bool = False
    ) -> ev.NodeStatusChanged | None:
        old = peer.status
        if new is old:
            return None
        peer.status = new
        if new is NodeStatus.DEAD:
            # Missing seqs of a dead node are no longer asked for (§3.4).
            peer.window.forget_missing()
        return ev.NodeStatusChanged(peer.name, old, new, heard, now=now)

    def refresh_link(self, peer: Peer, link: str, now: float) -> ev.LinkStatusChanged | None:
        state = peer.links.setdefault(link, Link())
        state.last_heard = now
        if state.status is LinkStatus.UP:
            return None
        state.status = LinkStatus.UP
        return ev.LinkStatusChanged(peer.name, link, LinkStatus.DEAD, LinkStatus.UP, now=now)

    def next_deadline(self, *, comm_up: bool) -> float:
        """The earliest instant a live node or an up link would be declared dead."""
        earliest = math.inf
        for peer in self.others():
            interval = self.dead_interval(peer, comm_up=comm_up)
            if peer.alive:
                earliest = min(earliest, peer.last_alive + interval)
            for link in peer.links.values():
                if link.status is LinkStatus.UP:
                    earliest = min(earliest, link.last_heard + interval)
        return earliest

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
                    went = ev.LinkStatusChanged(
                        peer.name, name, LinkStatus.UP, LinkStatus.DEAD, now=now
                    )
                    found.append(went)
        return found

    # -- what a peer's seq'd messages tell us (§3.3 step 4, §4.1) --------------------------
    def judge_generation(
        self, peer: Peer, *, is_status: bool, seq: int, hg: int, now: float
    ) -> tuple[bool, list[ev.Event]]:
        """Replay, restart and partition heal, judged by ``hg``; (keep it?, events)."""
        if hg < peer.generation:
            detail = f"[gen = {hg}, curgen = {peer.generation}]"
            return False, [ev.Dropped(ev.DropReason.REPLAY, peer.name, detail, now=now)]
        if peer.generation == 0:
            peer.generation = hg  # first contact: whatever it is, it is the current one
            return True, []
        if hg > peer.generation:
            if not is_status:
                # Its sequence restarted; only a status tells us to start tracking anew.
                detail = f"[gen = {hg}, curgen = {peer.generation}]"
                reason = ev.DropReason.EARLY_GENERATION
                return False, [ev.Dropped(reason, peer.name, detail, now=now)]
            restarted = ev.NodeRestarted(peer.name, peer.generation, hg, now=now)
            peer.generation = hg
            peer.window.reset()
            peer.last_status_at = None
            peer.status_seq = 0
            peer.acked = 0
            return True, [restarted]
        last = peer.window.last_seq
        if (
            is_status
            and not peer.alive
            and peer.last_status_at is not None
            and last is not None
            and seq > last
        ):
            # Same generation, yet we declared it dead after it had been alive to us:
            # both sides lived on apart (§4.7). A peer we declared dead at initdead
            # without a status from it was never alive to us. After our reboot through
            # a cut, its first message to reach us may be a non-status, and its first
            # status then is our first contact, not the heal of a partition.
            return True, [ev.PartitionHealed(peer.name, now=now)]
        return True, []

    def status_heard(
        self,
        peer: Peer,
        *,
        st: str | None,
        dt_ms: int | None,
        protocol: bool,
        in_order: bool,
        seq: int,
        now: float,
    ) -> list[ev.Event]:
        """A kept status: it keeps the node alive and tells us its st, dt and protocol.

        ``in_order`` is False for one that filled a gap in its seqs: if a status with a
        higher seq came before it, it proves life but its st and dt are stale; if not,
        it is the newest status there is (the gap was opened by another message), and
        counts as 3.0.6 counts it (HBDoMsg_T_STATUS compares with the last status's
        seq): a keepalive, not a stale copy.
        """
        peer.protocol = protocol
        if not in_order and seq <= peer.status_seq:
            peer.last_alive = max(peer.last_alive, now)
            return []
        peer.status_seq = seq
        if dt_ms:
            peer.dt = dt_ms / 1000
        found: list[ev.Event] = []
        if peer.alive and peer.last_status_at is not None:
            found += self._late(peer, now)
            if not peer.alive:
                return found
        peer.last_status_at = now
        peer.last_alive = now
        if st in ADVERTISED_STATUSES:
            changed = self.set_status(peer, NodeStatus(st), now)
            if changed is not None:
                found.append(changed)
        return found

    def _late(self, peer: Peer, now: float) -> list[ev.Event]:
        """The warntime check between two statuses, and 3.0.6's "> deadtime" death."""
        assert peer.last_status_at is not None
        interval = now - peer.last_status_at
        if interval <= self.timers.warntime + EPSILON:
            return []
        beyond = interval > self.timers.deadtime + EPSILON
        late = ev.LateHeartbeat(peer.name, round(interval * 1000), beyond, now=now)
        if not beyond:
            return [late]
        # 3.0.6 declares it dead on the spot (CRIT); its next status then reads as
        # a partition heal (same generation, node dead).
        dead = self.set_status(peer, NodeStatus.DEAD, now, heard=True)
        return [late] if dead is None else [late, dead]
