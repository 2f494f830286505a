"""hbnode's isolation policy (``hbnode_isolation``, on when ping nodes are configured).

Heartbeat takes over whenever the peer is declared dead, so pulling the cable of
the active node leaves both nodes with the VIP. A node that has lost its peer
*and* every ping node is most likely the one that is cut off; the other side
still sees the ping nodes and takes over. So the cut-off node does not take
over, and lets go of what it holds; once a ping node or the peer is back it is
not isolated any more and the normal rules apply again.

The peer's death and the ping nodes' death are separate timeouts that a single
cut trips at slightly different moments, so a takeover waits until the ping
nodes would have been declared dead too (``grace``).
"""

from __future__ import annotations

from collections.abc import Callable

from hbnode.rm.deferred import DeferredTakeovers
from hbnode.rm.hold import Hold
from hbnode.rm.ipfail import PingPolicy
from hbnode.rm.state import Mode, PeerView, Shared

DEAD_CHECK = 0.25  # the core's dead-node check period


class Isolation:
    def __init__(
        self,
        shared: Shared,
        enabled: bool,
        ping: PingPolicy,
        *,
        deadping: float,
        take_over: Callable[[str, float], None],
        deferred: DeferredTakeovers,
        early: bool = False,
    ) -> None:
        self.s = shared
        self.enabled = enabled
        self.early = early
        self.ping = ping
        self.deadping = deadping
        self.take_over = take_over  # mach_down for one dead peer
        self.since: float | None = None
        self.owed = False  # isolation kept or took groups from us; get them back when it ends
        # Suspected before any timeout: peer and ping nodes silent for warntime (the
        # node's judgement). Letting go then, before the other side's deadtime runs
        # out, is what keeps a cut from ever showing two holders.
        self.suspected = False
        self.deferred = deferred  # the manager's; a takeover from it settles ``owed``

    def isolated(self) -> bool:
        """The peer is dead (not shut down) and every ping node too: we are the cut-off side."""
        peers = list(self.s.peers.values())
        if self.enabled and self.suspected:
            return True
        return (
            self.enabled
            and self.ping.all_dead()
            and bool(peers)
            and not any(p.alive or p.shut_down for p in peers)
        )

    def suspect(self, suspected: bool, now: float) -> bool:
        """Early isolation verdict from the node; True if contact came back while we owe."""
        if suspected == self.suspected or not self.enabled:
            return False
        self.suspected = suspected
        if suspected:
            self.s.out.log(
                "warn",
                "Peer and every ping node silent for warntime: assuming we are cut off",
                "isolation_suspected",
            )
        self.check(now)
        return not suspected and self.owed

    def grace(self) -> float:
        """How long after a peer's death a shared cut shows as dead ping nodes too.

        Its last heartbeat and our last ping echo are at most a keepalive apart, the
        ping nodes die deadping after that echo, and the core checks every 250 ms.
        """
        if not self.enabled or self.early:
            return 0.0  # the cut-off side has let go before deadtime (suspect())
        return max(0.0, self.deadping - self.s.deadtime + self.s.keepalive + DEAD_CHECK)

    def peer_dead(self, peer: str, now: float) -> None:
        """Take over from ``peer`` now, or once we know we are not the cut-off side."""
        grace = self.grace()
        if grace > 0 and not self.isolated():
            self.deferred.defer(peer, now + grace)
            self.s.out.log(
                "info",
                f"Isolation check: taking over from {peer} in {grace:g} s"
                " unless every ping node is dead by then",
            )
        else:
            self.take_over(peer, now)
        self.check(now)

    def may_take_over(self, peer: str) -> bool:
        """False (and a takeover owed) while isolated."""
        if not self.isolated():
            return True
        self.s.out.log(
            "warn",
            f"Isolated (no peer, no ping node): not taking over from {peer}",
            "isolated",
            acting="no takeover",
            node=peer,
        )
        self.owed = True
        return False

    def check(self, now: float) -> None:
        """After any peer or ping node change: release when cut off, catch up when not."""
        s = self.s
        if s.mode is Mode.INIT:
            return  # before comm-up nobody is known alive yet; start-up checks for itself
        if not self.isolated():
            self.end()
            if self.owed and s.mode is Mode.STABLE and not s.present_peers():
                # A cable plugged back in brings the ping node's echo before the
                # peer's next status: give the peer a couple of keepalives to speak
                # before taking over from it (it may hold our groups right now).
                # ``owed`` stays set until then: if the peer speaks first, its report
                # settles what we take back (after_contact).
                due = now + 2 * s.keepalive + DEAD_CHECK
                for peer in list(s.peers.values()):
                    if not peer.present:
                        self.deferred.defer(peer.name, due, keep_earlier=True)
            return
        if self.since is None:
            self.since = now
            s.out.log(
                "warn",
                "Isolated: the peer and every ping node are unreachable",
                "isolated",
                acting="watch",
            )
        keys = s.table.active_keys()
        if keys and s.mode is Mode.STABLE:
            # The other side sees the ping nodes and has taken over: our copy of the
            # addresses only collides with theirs.
            s.out.log(
                "warn", f"Isolated: releasing {', '.join(keys)}", "isolation_release", groups=keys
            )
            s.hold = Hold.NONE
            s.table.release(keys, "isolation", now)
            self.owed = True

    def end(self) -> None:
        if self.since is not None:
            self.since = None
            self.s.out.log("info", "No longer isolated", "isolation_ended")
        # With a live peer again, what we let go of is settled by the peer's next
        # report (see ResourceManager._after_isolation); ``owed`` stays set until then.

    def after_contact(self, peer: PeerView, now: float) -> None:
        """A stable report after isolation made us let go: take our own unless it has them.

        This is the nice_failback start rule again; both sides may have been cut off
        and let go, and then each takes its own groups back.
        """
        s = self.s
        if not self.owed or s.mode is not Mode.STABLE:
            return
        self.owed = False
        keys = [k for k in s.local_keys() if not s.table.active(k)]
        if peer.hold & Hold.FOREIGN or not keys:
            s.report()  # settled again: our unsettled claim asked for its answer
            return
        s.out.log(
            "info",
            f"Taking back {', '.join(keys)} after isolation",
            "takeover_started",
            node=s.me,
            groups=keys,
            reason="isolation",
        )
        s.hold |= Hold.LOCAL
        s.table.hold(keys, "isolation", now)

        def acquired(_now: float) -> None:
            if s.mode is Mode.STABLE:
                s.report()

        s.table.when_settled("isolation", keys, acquired, now)
