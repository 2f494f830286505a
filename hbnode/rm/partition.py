"""Who keeps a resource set that both sides of a healed partition hold.

Heartbeat answers a healed split brain by restarting both nodes (give up
everything, sleep deadtime+1 s, start again): some 20 s without any holder.
hbnode lets one node keep each doubly-held set, re-announce its addresses, and
the other stop its copy at once. Both nodes must reach the same verdict without
a new message type, from what each knows. Claims on the wire are per *set*
(``rsc_hold`` local/foreign), so the verdict is per set too: the loser drops the
whole set, and its next report no longer claims it.

* auto_failback on: the haresources owner keeps it (it would get it back anyway).
* otherwise the node that claimed the set *before* contact was lost keeps it:
  the longest holder. Each side remembers both claims from when it declared the
  other dead; a side that never lost contact uses the claims just before the
  conflicting report.
* neither or both claimed it then: the owner (two nodes: my local set is mine,
  my foreign set is the peer's). Both nodes know all of this alike.
* if the conflict still stands after ``STUCK`` seconds (the two memories
  disagreed), the owner rule decides, which cannot disagree.

A verdict must not hang on one message. While a set we keep is still claimed by
the peer, we claim it again every ``ANSWER_EVERY`` seconds (our answer may have
been lost: on a lossy link it often is, and a report is only sent on a change),
and after ``ASK_AFTER`` seconds we also ask the peer to go standby for it, as
``hb_takeover`` does, every ``STUCK`` seconds. The second is for a peer that never
applies these rules: a real Heartbeat that took our groups over after its STONITH
of us completed, while we were already back (``Both machines own foreign
resources!``, for good). Both stop once the peer's claim no longer conflicts, or it
is gone.

A peer that is a real Heartbeat restarts itself on a heal (it gives up
everything, then sends ``shutdone``); we never fight it: when it claims a set
the rules give it, we let go, and what it gives up we take back on ``shutdone``.
Nor do we start a standby exchange with a healed peer (a failback, or the ask
above) until :func:`quiet_after_heal` has passed: Heartbeat meets a heal in two
steps that each reset its standby state machine, and an exchange caught by
either is cut in the middle (its log: ``ERROR: Ignored standby message``).
"""

from __future__ import annotations

from collections.abc import Callable

from hbnode.rm.hold import Hold, keys_in, mirror
from hbnode.rm.spec import AutoFailback
from hbnode.rm.state import Mode, PeerView, Shared

STUCK = 5.0  # a conflict older than this is settled by the owner rule alone
ANSWER_EVERY = 1.0  # at most one answering report per second to one peer
# A peer that ignored our claim this long (two reminders) will not apply our rules.
ASK_AFTER = 2 * ANSWER_EVERY
# Heartbeat restarts this long after it sees our first status after a heal (§4.7).
PEER_RESTART_DELAY = 2.0


def quiet_after_heal(keepalive: float, deadtime: float) -> float:
    """How long after a heal we start no standby exchange with the healed peer.

    A real Heartbeat peer, on our first status after the heal, declares us dead once
    more ("Late heartbeat"), which cancels any exchange under way; ``PEER_RESTART_DELAY``
    later it starts its restart, and ignores standby messages from then on. Our first
    status may be lost (a link that has just come up drops what is sent before the
    kernel has activated it), so the next one, a keepalive later, may be the one it
    sees. One ``ANSWER_EVERY`` more lets its restart show on the wire (its claim turns
    to none). And a busy peer is late: its 2 s are a timer in a process that may wait
    for the CPU, as its heartbeats may. ``deadtime`` is how late the admin lets those
    be, so the wait allows that much more (a restart under load began 3.3 s after the
    heal in one run, past the 3.25 s this wait was without it). An hbnode peer, which
    does not restart, gets its failback at once.
    """
    return keepalive + PEER_RESTART_DELAY + ANSWER_EVERY + deadtime


def we_keep(
    part: Hold,
    auto_failback: AutoFailback,
    mine_before: Hold,
    theirs_before: Hold,
    *,
    stuck: bool = False,
) -> bool:
    """Whether we keep our set ``part`` (LOCAL or FOREIGN) that the peer claims too."""
    owner_is_us = part is Hold.LOCAL
    if auto_failback is AutoFailback.ON or stuck:
        return owner_is_us
    we_had = bool(mine_before & part)
    they_had = bool(theirs_before & mirror(part))
    if we_had != they_had:
        return we_had
    return owner_is_us


class HealPolicy:
    """Spots doubly-held sets in a peer's reports and settles them."""

    def __init__(self, shared: Shared, ask_standby: Callable[[Hold, float], str | None]) -> None:
        self.s = shared
        # hb_takeover for a set of ours (relative to us): the peer goes standby for it;
        # returns why not (an exchange under way), or None once asked.
        self.ask_standby = ask_standby

    def remember(self, peer: PeerView) -> None:
        """We lose contact with ``peer``: note both claims as they are now."""
        peer.split = (self.s.hold, peer.hold)

    def on_report(self, peer: PeerView, claimed_before: Hold, now: float) -> None:
        """``peer`` sent a claim (its previous one was ``claimed_before``)."""
        s = self.s
        if s.mode is not Mode.STABLE:
            return
        conflicts = [p for p in (Hold.LOCAL, Hold.FOREIGN) if self._doubly_held(peer, p)]
        if not conflicts:
            self._settled(peer)
            return
        if peer.conflict_since is None:
            peer.conflict_since = now
        stuck = now - peer.conflict_since >= STUCK
        mine_before, theirs_before = peer.split or (s.hold, claimed_before)
        kept = False
        for part in conflicts:
            keys = [k for k in keys_in(part, s.me, s.groups) if s.table.active(k)]
            keep = we_keep(part, s.auto_failback, mine_before, theirs_before, stuck=stuck)
            keeper = s.me if keep else peer.name
            s.out.log(
                "warn",
                f"Resource groups {', '.join(keys)} held by {s.me} and"
                f" {peer.name} [{part.text}]: {keeper} keeps them",
                "partition_resolved",
                groups=keys,
                keeper=keeper,
            )
            if keep:
                kept = True
                for key in keys:
                    if key not in peer.reannounce:  # once per conflict, again when it ends
                        s.table.announce(key, "partition")
                peer.reannounce.update(keys)
            else:
                self._let_go(peer, part, keys, now)
        if kept and now - peer.answered_at >= ANSWER_EVERY:
            peer.answered_at = now
            s.report()  # our claim: the peer applies the same rules and lets go
        if kept and peer.remind_at is None:
            peer.remind_at = now + ANSWER_EVERY

    def timer(self) -> float | None:
        due = [p.remind_at for p in self.s.peers.values() if p.remind_at is not None]
        return min(due) if due else None

    def handle_timer(self, now: float) -> None:
        for peer in self.s.peers.values():
            if peer.remind_at is not None and now >= peer.remind_at:
                self._remind(peer, now)

    def _remind(self, peer: PeerView, now: float) -> None:
        """A conflict we keep may still stand: claim again, and in the end ask."""
        s = self.s
        peer.remind_at = None
        if s.mode is not Mode.STABLE or not peer.present:
            return  # it died or left (takeover and shutdone have their own paths)
        kept = [p for p in (Hold.LOCAL, Hold.FOREIGN) if self._doubly_held(peer, p)]
        if not kept:
            self._settled(peer)
            return
        peer.answered_at = now
        s.report()
        since = peer.conflict_since if peer.conflict_since is not None else now
        if now - since >= ASK_AFTER and now - peer.asked_at >= STUCK and now >= peer.quiet_until:
            wanted = kept[0] if len(kept) == 1 else Hold.ALL
            # Refused while a standby exchange is under way (a failback): asked later.
            if self.ask_standby(wanted, now) is None:
                peer.asked_at = now
                s.out.log(
                    "warn",
                    f"{peer.name} still holds our [{wanted.text}] resources:"
                    " asked it to go standby",
                    "partition_takeover_asked",
                    node=peer.name,
                    what=wanted.text,
                )
        peer.remind_at = now + ANSWER_EVERY

    def _doubly_held(self, peer: PeerView, part: Hold) -> bool:
        s = self.s
        if not peer.hold & mirror(part):
            return False
        return any(s.table.active(k) for k in keys_in(part, s.me, s.groups))

    def _let_go(self, peer: PeerView, part: Hold, keys: list[str], now: float) -> None:
        s = self.s
        s.hold &= ~part
        s.table.release(keys, "partition", now)

        def released(_now: float) -> None:
            if s.mode is Mode.STABLE:
                s.report()  # no longer claimed: the keeper re-announces

        s.table.when_settled(f"partition:{peer.name}:{part.text}", keys, released, now)

    def _settled(self, peer: PeerView) -> None:
        """No conflict (any more): re-announce what the peer has just let go of."""
        for key in sorted(peer.reannounce):
            self.s.table.announce(key, "partition")
        peer.reannounce.clear()
        peer.split, peer.conflict_since, peer.remind_at = None, None, None
        peer.asked_at = float("-inf")
