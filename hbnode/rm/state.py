"""What the parts of the resource manager share: our mode, our claim, our view of peers."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from hbnode.rm import messages as m
from hbnode.rm.events import Outbox
from hbnode.rm.groups import GroupTable
from hbnode.rm.hold import Hold, claims, keys_in
from hbnode.rm.spec import AutoFailback, GroupSpec


class Mode(enum.StrEnum):
    """Heartbeat's resource state (hb_resource.c resourcestate), reduced to what matters."""

    INIT = "init"  # comm is not up yet
    STARTING = "starting"  # sent `starting`, negotiating who takes what
    STABLE = "stable"
    STOPPING = "stopping"  # orderly shutdown: releasing everything
    STOPPED = "stopped"  # shutdone sent


NO_WAIT = float("-inf")  # PeerView.quiet_until when nothing waits


@dataclass
class PeerView:
    """Another cluster node, as the resource layer sees it."""

    name: str
    alive: bool = False  # up or active, as the core says
    declared_dead: bool = False  # we declared it dead (and may have taken its groups)
    hold: Hold = Hold.NONE  # its last claim, relative to itself
    stable: bool = False  # its last report had isstable=1
    returning: bool = False  # (re)joined: with auto_failback on, fail back once it is stable
    shut_down: bool = False  # sent shutdone: it holds nothing and is leaving
    # Our claim and its claim when we lost contact: a heal picks each set's keeper by it.
    split: tuple[Hold, Hold] | None = None
    conflict_since: float | None = None  # when we first saw it claim what we hold
    answered_at: float = float("-inf")  # when we last answered a conflicting claim
    remind_at: float | None = None  # a conflict we keep still stands: claim it again then
    asked_at: float = float("-inf")  # when we last asked it to go standby for what we keep
    reannounce: set[str] = field(default_factory=set)  # ours again once it stops claiming
    # Its reports lack hbnode's heal field: a real Heartbeat, which restarts on a heal.
    restarts_on_heal: bool = True
    # After a heal, no standby exchange is started with it (nor asked of it) before then
    # (partition.quiet_after_heal); -inf when there is no such wait.
    quiet_until: float = NO_WAIT
    # The seq of its newest report we applied. A retransmission that fills a gap is
    # delivered late, after newer reports: its claim is stale (None: none yet in
    # this generation of it).
    report_seq: int | None = None

    @property
    def present(self) -> bool:
        """Alive and not on its way out: someone who can take or hand over groups."""
        return self.alive and not self.shut_down

    @property
    def holds_ours(self) -> bool:
        """Present and claiming our groups (its ``rsc_hold`` covers its foreign side)."""
        return self.present and bool(self.hold & Hold.FOREIGN)


@dataclass
class Shared:
    me: str
    groups: list[GroupSpec]
    auto_failback: AutoFailback
    keepalive: float
    deadtime: float
    out: Outbox
    table: GroupTable
    peers: dict[str, PeerView]
    mode: Mode = Mode.INIT
    hold: Hold = Hold.NONE  # our claim (sent as rsc_hold), relative to us

    @property
    def nice(self) -> bool:
        """nice_failback: auto_failback on or off (legacy is the old ip-request mode)."""
        return self.auto_failback is not AutoFailback.LEGACY

    def present_peers(self) -> list[PeerView]:
        return [p for p in self.peers.values() if p.present]

    def local_keys(self) -> list[str]:
        return keys_in(Hold.LOCAL, self.me, self.groups)

    def group(self, key: str | None) -> GroupSpec | None:
        return next((g for g in self.groups if g.key == key), None)

    def holder_of(self, group: GroupSpec) -> str | None:
        """Who holds ``group``: us if we do, else a present peer whose claim covers it."""
        if self.table.active(group.key):
            return self.me
        for peer in self.present_peers():
            if claims(peer.hold, peer.name, group):
                return peer.name
        return None

    def report(self, info: str | None = None) -> None:
        """Send our ``resource`` report: our claim and whether we are settled."""
        stable, starting = self.mode is Mode.STABLE, self.mode is Mode.STARTING
        self.out.send(m.resource_report(self.hold, stable, info, starting=starting))

    def drop_claims_released(self) -> None:
        """Clear a set's flag once none of its groups is active any more."""
        for part in (Hold.LOCAL, Hold.FOREIGN):
            keys = keys_in(part, self.me, self.groups)
            if self.hold & part and keys and not any(self.table.active(k) for k in keys):
                self.hold &= ~part
