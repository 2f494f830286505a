"""Start-up (§4.2, §4.3): once comm is up, who takes which groups first.

nice_failback (auto_failback on or off): we send ``starting``; a stable peer's
full report settles it (we take our local groups unless it already holds them),
and without one we take ours RQSTDELAY after the first report, or at once when
no peer is present.

RQSTDELAY (10 s) is how Heartbeat makes sure that a peer which holds groups has
had time to say so before a starting node takes its own: a stable peer answers
``starting`` with ``isstable=1``, and its answer may be slow or lost and asked for
again. When the peer is an hbnode that is itself starting, it says so
(``hbnode_quickstart`` on its unsettled report): then no stable answer can come,
both sides are in the same state, and each takes its own groups at once. A real
Heartbeat peer never sends the field, so a mixed cluster waits as Heartbeat does.

Legacy: we ask for our groups with ip-request (:mod:`~hbnode.rm.legacy`). Either
way the groups of absent peers are taken over, and whatever still runs here from
before and was not just taken is released (the probe of
:meth:`ResourceManager.start`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hbnode.rm import messages as m
from hbnode.rm.hold import Hold
from hbnode.rm.isolation import Isolation
from hbnode.rm.legacy import LegacyRequests
from hbnode.rm.state import Mode, PeerView, Shared

RQSTDELAY = 10.0  # both sides starting: wait this long after the first report, then take ours


class Startup:
    def __init__(
        self,
        shared: Shared,
        isolation: Isolation,
        legacy: LegacyRequests,
        take_over: Callable[[str, float], None],
        ipfail_active: Callable[[], bool],
        unfenced: Callable[[], list[str]] = list,
        peer_holds_ours: Callable[[float], None] = lambda now: None,
    ) -> None:
        self.s = shared
        self.isolation = isolation
        self.legacy = legacy
        self.take_over = take_over  # mach_down for one absent peer
        self.ipfail_active = ipfail_active
        # With STONITH: absent peers never heard from nor reset (hbnode.rm.fencing).
        self.unfenced = unfenced
        self.peer_holds_ours = peer_holds_ours  # our start left our groups on a peer
        self.deadline: float | None = None  # RQSTDELAY after the first report

    def begin(self, live_peers: Iterable[str], now: float) -> None:
        """Comm is up: start the resource negotiation of our mode."""
        s = self.s
        live = {p.lower() for p in live_peers}
        for peer in s.peers.values():
            peer.alive = peer.name in live
            peer.declared_dead = not peer.alive
            if not peer.alive:
                peer.split = (Hold.NONE, Hold.NONE)  # never in contact: nobody held anything
        if self.ipfail_active():
            # Heartbeat says so when ipfail signs on; a peer's ipfail answers with its
            # count, and the comparison starts from there.
            s.out.send(m.clstat(s.me, True))
        if not s.nice:
            s.mode = Mode.STABLE
            if not self._wait_for_peer(now):
                self.legacy.request_local(now)
                self._take_from_absent(now)
            return
        s.mode = Mode.STARTING
        s.out.send(m.starting())
        self.alone(now)

    def report_seen(self, now: float) -> None:
        """A report while starting, ours or a peer's: RQSTDELAY runs from the first."""
        if self.s.mode is Mode.STARTING and self.deadline is None:
            self.deadline = now + RQSTDELAY

    def peer_report(self, peer: PeerView, full: bool, quick: bool, now: float) -> None:
        """A peer's report while we start: a stable one settles who takes what, and so
        does an hbnode peer that is starting too (``quick``)."""
        if full and peer.stable:
            # It holds its foreign groups (ours) already: then we take nothing.
            self.complete(remote=True, take_local=not peer.hold & Hold.FOREIGN, now=now)
        elif full and quick:
            self.s.out.log("info", f"{peer.name} is starting too: negotiated at once")
            self.complete(remote=False, take_local=not peer.hold & Hold.FOREIGN, now=now)
        else:
            self.report_seen(now)

    def alone(self, now: float) -> None:
        """Starting, and no peer left to negotiate with: take ours."""
        if self.s.mode is Mode.STARTING and not self.s.present_peers():
            self.complete(remote=False, take_local=True, now=now)

    def complete(self, *, remote: bool, take_local: bool, now: float) -> None:
        s = self.s
        s.mode, self.deadline = Mode.STABLE, None
        s.out.log("info", f"{'remote' if remote else 'local'} resource transition completed.")
        if self.isolation.isolated():
            s.out.log(
                "warn",
                "Isolated (no peer, no ping node): not acquiring resources",
                "isolated",
                acting="no start",
            )
            self.isolation.owed = True
            s.report()
            s.table.release_found("isolated", now)
            return
        if self._wait_for_peer(now):
            s.report()
            return
        why = "T_RESOURCES(them)" if remote else "T_RESOURCES(us)"
        if take_local:
            s.hold |= Hold.LOCAL
            s.report()
            keys = s.local_keys()
            for key in keys:  # HA_DONTASK: the capture shows this answer to ourselves
                s.out.send(m.ip_request_resp(s.me, key, True))
            s.table.hold(keys, "initial", now)
            s.table.when_settled("initial", keys, lambda t: self._initial_done(why), now)
        else:
            s.out.log("info", "Local Resource acquisition completed. (none)")
            s.report()
            s.out.log("info", f"Initial resource acquisition complete ({why})")
            self.peer_holds_ours(now)
        self._take_from_absent(now)
        # Whatever still runs here from before and was not just taken is someone else's.
        s.table.release_found("stale", now)

    def _initial_done(self, why: str) -> None:
        s = self.s
        s.out.log(
            "info",
            f"Initial resource acquisition complete ({why})",
            "initial_acquired",
            groups=s.local_keys(),
        )
        if s.mode is Mode.STABLE:
            s.report(m.INFO_REQ_OUR)

    def _wait_for_peer(self, now: float) -> bool:
        """With STONITH, a start without having heard the peer takes nothing.

        Heartbeat resets a peer it has not heard by initdead and takes everything.
        A node that boots while its heartbeat link is cut (it was just reset by
        the peer through that very cut) would then reset the survivor, which boots
        and does the same: the two-node "STONITH death match". hbnode waits for
        the peer instead; once it hears it, the usual rule after isolation takes
        our own groups unless the peer holds them (Isolation.after_contact).
        """
        silent = self.unfenced()
        if not silent:
            return False
        self.s.out.log(
            "warn",
            f"STONITH: {', '.join(silent)} not heard from since start-up: not resetting it"
            " and not acquiring resources until it is heard",
            "fence_wait",
            nodes=silent,
        )
        self.isolation.owed = True
        self.s.table.release_found("unfenced", now)
        return True

    def _take_from_absent(self, now: float) -> None:
        for peer in list(self.s.peers.values()):
            if not peer.present:
                self.take_over(peer.name, now)

    # -- time -------------------------------------------------------------------------
    def timer(self) -> float | None:
        return self.deadline if self.s.mode is Mode.STARTING else None

    def handle_timer(self, now: float) -> None:
        if self.s.mode is Mode.STARTING and self.deadline is not None and now >= self.deadline:
            self.complete(remote=False, take_local=True, now=now)

    def cancel(self) -> None:
        self.deadline = None
