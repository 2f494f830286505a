"""ipfail's policy, built in: the node that sees fewer ping nodes hands over (§4.6).

Each node counts the ping nodes it can reach and tells the peer
(``num_ping_nodes``). The receiver compares: it sees more → ``you_are_dead`` (the
peer gives up everything); it sees fewer → it gives up everything itself after
2×keepalive unless told ``abort_giveup``; equal → ``abort_giveup``, and with
auto_failback on a holder of foreign groups gives those back. The messages are
real ipfail's, so a Heartbeat peer running ipfail takes part.

Counts are only worth comparing when both were measured after the last change of
what either side can reach. Heartbeat gets that for free after a partition: both
sides restart, and ipfail's join starts a fresh exchange. hbnode heals without a
restart, so the policy keeps the rule itself:

* a verdict (``you_are_dead``, ``abort_giveup``) counts only if it answers the
  count we last told that peer and that count is still ours;
* when the peer comes back (a heal, a link up) and one of our ping nodes is down,
  our count may be stale: the cut that hid the peer hid the ping node too. We
  wait ("settling") until every ping node answers again, or for deadping, the
  silence we take as a ping node's death, before we tell our count or compare it
  with the peer's. The first echo after a heal can come well after the peer's
  first heartbeat: the peer's packets only need the cable, ours to the ping node
  may wait for the kernel to resolve its address again. A fixed short wait made
  the owner tell a stale count of 0 and give its group away just after the heal
  (RELIABILITY.md, "The tutorial's split brain"; tests/unit/test_heal.py);
* every such change cancels a give-up decided on the old counts, and both sides
  tell their count again, as ipfail does when another ipfail joins;
* a verdict carries no count, so one answering the count we told just before may
  arrive after we told a newer one: a give-up for the peer's sake (its
  ``you_are_dead``, or its count above ours) stands only while the last count the
  peer told us is above ours, checked when it arrives and again when it falls due.
"""

from __future__ import annotations

from collections.abc import Callable

from hbnode.message import Message
from hbnode.rm import messages as m
from hbnode.rm.hold import Hold
from hbnode.rm.messages import T
from hbnode.rm.spec import AutoFailback
from hbnode.rm.state import Mode, Shared

GiveUp = Callable[[Hold, float], bool]  # go standby for a set; False if it cannot now


class PingPolicy:
    def __init__(
        self,
        shared: Shared,
        ping_nodes: list[str],
        enabled: bool,
        give_up: GiveUp,
        deadping: float,
    ) -> None:
        self.s = shared
        self.ping: dict[str, bool | None] = dict.fromkeys(ping_nodes)  # None: not heard of
        self.enabled = enabled
        self.deadping = deadping
        self.give_up = give_up
        # (when, what, for whom) we give up: the peer that sees more, if that is why
        self.pending: tuple[float, Hold, str | None] | None = None
        self.told: dict[str, int] = {}  # peer → the count we last told it (this contact)
        self.theirs: dict[str, int] = {}  # peer → the count it last told us (this contact)
        self.settle_until: float | None = None  # our count may be stale until then

    @property
    def active(self) -> bool:
        """ipfail needs ping nodes and nice_failback (it refuses auto_failback legacy)."""
        return self.enabled and bool(self.ping) and self.s.nice

    def count(self) -> int:
        return sum(1 for alive in self.ping.values() if alive)

    def all_dead(self) -> bool:
        """Every ping node has been declared dead (none is merely not heard of yet)."""
        return bool(self.ping) and all(alive is False for alive in self.ping.values())

    def settling(self, now: float) -> bool:
        return self.settle_until is not None and now < self.settle_until

    # -- inputs -----------------------------------------------------------------------
    def ping_changed(self, name: str, alive: bool, now: float) -> None:
        if name not in self.ping or self.ping[name] == alive:
            return
        before = self.count()
        self.ping[name] = alive
        if self.count() == before:
            return
        # A give-up decided on the old count no longer stands; tell the new one.
        self.pending = None
        if not self.settling(now):
            self.tell_peers()
        elif all(self.ping.values()):
            self._settled(now)  # every ping node answered: our count is fresh

    def forget(self, peer: str) -> None:
        """A new contact with ``peer`` (it restarted): no count of the old one stands.

        Its ipfail joins when it starts, and the join starts the exchange."""
        self.told.pop(peer, None)
        self.theirs.pop(peer, None)
        self.pending = None

    def peer_back(self, peer: str, now: float) -> None:
        """The peer is reachable again (a heal, a link up): start a fresh exchange."""
        self.forget(peer)
        if not self.active:
            return
        if all(alive for alive in self.ping.values()):
            self.tell_peers(only=peer)  # our count cannot rise: it is fresh already
            return
        # A ping node down now may be down only because the same cut hid it: its next
        # echo tells, and one not heard for deadping is as dead as before the heal.
        self.settle_until = now + max(2 * self.s.keepalive, self.deadping)

    def peer_gone(self, peer: str) -> None:
        """The peer was declared dead: what we exchanged with it is void."""
        self.told.pop(peer, None)
        self.theirs.pop(peer, None)
        if not self.s.present_peers():
            self.pending = None

    def set_enabled(self, enabled: bool, now: float) -> None:
        if enabled == self.enabled:
            return
        self.enabled = enabled
        if self.s.mode in (Mode.INIT, Mode.STOPPED) or not (self.s.nice and self.ping):
            return
        self.s.out.send(m.clstat(self.s.me, enabled))
        if enabled:
            self.tell_peers()
        else:
            self.pending = None

    def tell_peers(self, only: str | None = None) -> None:
        """Send our count (ipfail does on a link or ping change and on a peer's join)."""
        if not self.active or self.s.mode in (Mode.INIT, Mode.STOPPING, Mode.STOPPED):
            return
        count = self.count()
        for peer in self.s.present_peers():
            if only is None or peer.name == only:
                self.told[peer.name] = count
                self.s.out.send(m.num_ping_nodes(self.s.me, peer.name, count))

    def on_message(self, msg: Message, now: float) -> None:
        src = msg.get("src")
        if not self.active or src is None or src == self.s.me or src not in self.s.peers:
            return
        kind = msg.get("t")
        if kind == T.NUM_PING_NODES:
            try:
                self.theirs[src] = int(msg.get("num_ping") or "")
            except ValueError:
                return  # a bad peer must not crash us; ipfail's atoi would read 0 anyway
            if not self.settling(now):
                self._compare(src, now)
        elif kind in (T.YOU_ARE_DEAD, T.ABORT_GIVEUP):
            if self.told.get(src) != self.count() or self.settling(now):
                # An answer to a count we no longer have (or never told since it came
                # back): our fresh count is on its way, and so is its fresh answer.
                self.s.out.log("debug", f"{kind} from {src} answers an old ping count: ignored")
                return
            if kind == T.YOU_ARE_DEAD:
                if not self._told_more(src, untold=True):
                    self.s.out.log(
                        "debug", f"{kind} from {src}, which told no more ping nodes: ignored"
                    )
                    return
                self._you_are_dead(src, now)
            else:
                if self.pending is not None:
                    self.s.out.log("info", "Giveup aborted: the peer sees as many ping nodes")
                self.pending = None
        elif (
            kind == T.CLSTAT
            and msg.get("st") == "join"
            and msg.get("from_id") == m.IPFAIL
            and not self.settling(now)  # settled, we tell everyone anyway
        ):
            self.tell_peers(only=src)

    def _you_are_dead(self, src: str, now: float) -> None:
        # ipfail gives up at once; we wait 2×keepalive like the other give-ups, so
        # that an abort_giveup answering a fresher count still cancels it.
        delay = 2 * self.s.keepalive
        self.s.out.log(
            "info",
            f"{src} sees more ping nodes: giving up all resources in {delay:g} s",
            "ipfail_giveup",
            peer=src,
        )
        self.pending = (now + delay, Hold.ALL, src)

    def peer_sees_more(self, peer: str) -> bool:
        """ipfail runs and the peer's last told count is above ours: it keeps the groups."""
        return self.active and self._told_more(peer, untold=False)

    def _told_more(self, peer: str, *, untold: bool) -> bool:
        """The peer's last told count is above ours; ``untold`` if it told none in this
        contact (a verdict from it still answers some count of its own)."""
        theirs = self.theirs.get(peer)
        return untold if theirs is None else theirs > self.count()

    def _compare(self, peer: str, now: float) -> None:
        theirs = self.theirs.get(peer)
        if theirs is None:
            return
        mine, s = self.count(), self.s
        delay = 2 * s.keepalive
        if mine > theirs:
            s.out.send(m.ipfail_verdict(T.YOU_ARE_DEAD, s.me, peer))
            self.pending = None
        elif mine < theirs:
            s.out.log(
                "info",
                f"{peer} sees {theirs} ping node(s), we see {mine}: giving up in {delay:g} s",
                "ipfail_giveup",
                peer=peer,
                theirs=theirs,
                mine=mine,
            )
            self.pending = (now + delay, Hold.ALL, peer)
        else:
            s.out.send(m.ipfail_verdict(T.ABORT_GIVEUP, s.me, peer))
            self.pending = None
            failback = s.auto_failback is AutoFailback.ON and s.mode is Mode.STABLE
            if failback and s.hold & Hold.FOREIGN:
                self.pending = (now + delay, Hold.FOREIGN, None)

    # -- time -------------------------------------------------------------------------
    def timer(self) -> float | None:
        pending = self.pending[0] if self.pending is not None else None
        if self.settle_until is None or (pending is not None and pending < self.settle_until):
            return pending
        return self.settle_until

    def handle_timer(self, now: float) -> None:
        if self.settle_until is not None and now >= self.settle_until:
            self._settled(now)
        if self.pending is None or now < self.pending[0]:
            return
        _, what, sees_more = self.pending
        self.pending = None
        if not self.s.present_peers():
            return
        if sees_more is not None and not self._told_more(sees_more, untold=True):
            self.s.out.log(
                "info", f"Giveup dropped: {sees_more} sees no more ping nodes than we do"
            )
            return
        if not self.give_up(what, now):
            # ipfail only gives up while the cluster is stable; ask again shortly.
            self.pending = (now + self.s.keepalive, what, sees_more)

    def _settled(self, now: float) -> None:
        """Our count is fresh: tell it, and compare with what the peer told meanwhile."""
        if self.s.mode is Mode.INIT:
            # Counts are told once the start-up negotiation is over: look again then.
            self.settle_until = now + 2 * self.s.keepalive
            return
        self.settle_until = None
        self.tell_peers()
        for peer in sorted(self.theirs):
            self._compare(peer, now)

    def cancel(self) -> None:
        self.pending = None
        self.settle_until = None
