"""The R1 (haresources) resource manager: Heartbeat's hb_resource.c and its scripts, sans-IO.

Inputs are membership changes from the messaging core, delivered messages
(our own loopback copies included), action results, operator requests and the
time; outputs are messages, actions and log events, taken by the daemon. Time
is only ever what the caller passes as ``now``.

The parts: :mod:`~hbnode.rm.groups` (per-group actions), :mod:`~hbnode.rm.standby`
(the standby protocol), :mod:`~hbnode.rm.legacy` (ip-request),
:mod:`~hbnode.rm.ipfail` (ping counts), :mod:`~hbnode.rm.isolation` and
:mod:`~hbnode.rm.partition` (hbnode's split-brain policies) and
:mod:`~hbnode.rm.failures` (failed starts), :mod:`~hbnode.rm.takeover`
(mach_down), :mod:`~hbnode.rm.startup` (who takes what once comm is up),
:mod:`~hbnode.rm.liveness` (the early isolation verdict, API clients). This
module holds the inputs, shutdown and the glue.
"""

from __future__ import annotations

from collections.abc import Sequence

from hbnode.core.fields import parse_hex
from hbnode.core.states import NodeStatus
from hbnode.message import Message
from hbnode.rm import messages as m
from hbnode.rm.actions import Action, ActionKind
from hbnode.rm.claims import ClaimQuestions
from hbnode.rm.deferred import DeferredTakeovers
from hbnode.rm.events import Outbox, RmEvent
from hbnode.rm.failures import FailedStarts
from hbnode.rm.fencing import FenceResult, Fencing
from hbnode.rm.groups import GroupTable
from hbnode.rm.hold import Hold
from hbnode.rm.ipfail import PingPolicy
from hbnode.rm.isolation import Isolation
from hbnode.rm.legacy import LegacyRequests
from hbnode.rm.liveness import Liveness, SilenceWatch
from hbnode.rm.messages import T
from hbnode.rm.owed import OwedFailback
from hbnode.rm.partition import HealPolicy, quiet_after_heal
from hbnode.rm.scope import StandbyScope
from hbnode.rm.spec import AutoFailback, GroupSpec
from hbnode.rm.standby import StandbyProtocol
from hbnode.rm.startup import Startup
from hbnode.rm.state import NO_WAIT, Mode, PeerView, Shared
from hbnode.rm.takeover import Takeover

# How long an orderly stop waits for a standby exchange to end (seconds of the
# peer starting what we gave it); Heartbeat waits without a limit.
SHUTDOWN_WAIT = 30.0


class ResourceManager:
    """Who holds which resource group, and the actions and messages that move them."""

    def __init__(
        self,
        *,
        me: str,
        nodes: list[str],
        groups: Sequence[GroupSpec],
        auto_failback: AutoFailback,
        keepalive: float,
        deadtime: float,
        deadping: float,
        ping_nodes: list[str],
        isolation: bool,
        ipfail: bool = True,
        warntime: float | None = None,
        stonith: str | None = None,
        stonith_delay: float = 5.0,
        stonith_retry: float = 5.0,
    ) -> None:
        """``warntime`` turns on the early isolation verdict (:mod:`hbnode.rm.liveness`):
        the caller reports whom it hears from, and the side that heard nobody that
        long lets go before deadtime, so a takeover need not wait for it.
        ``stonith``: the STONITH device's plugin; a dead peer is then reset before
        its groups are taken (:mod:`hbnode.rm.fencing`)."""
        me = me.lower()
        out = Outbox()
        peers = {n.lower(): PeerView(n.lower()) for n in nodes if n.lower() != me}
        table = GroupTable(groups, out)
        self.s = Shared(me, list(groups), auto_failback, keepalive, deadtime, out, table, peers)
        self.out, self.table = out, table
        self.standby_protocol = StandbyProtocol(self.s, self._idle)
        self.ping_policy = PingPolicy(
            self.s, list(ping_nodes), ipfail, self._ipfail_give_up, deadping
        )
        self.takeover_policy = Takeover(self.s)
        self.deferred = DeferredTakeovers(self._deferred_takeover)
        self.isolation = Isolation(
            self.s,
            isolation and bool(ping_nodes),
            self.ping_policy,
            deadping=deadping,
            take_over=self.takeover_policy.take,
            deferred=self.deferred,
            early=warntime is not None,
        )
        silence = SilenceWatch([*peers, *ping_nodes], warntime) if warntime is not None else None
        self.liveness = Liveness(
            self.s,
            silence,
            early=self.isolation.enabled,
            suspect=self.suspect_isolation,
            ipfail=self.set_ipfail,
        )
        self.takeover_policy.allowed = self.isolation.may_take_over
        self.fencing = Fencing(
            self.s,
            device=stonith,
            delay=stonith_delay,
            retry=stonith_retry,
            node_order=list(nodes),
            fenced=self._fenced,
        )
        self.legacy = LegacyRequests(self.s)
        self.heal = HealPolicy(self.s, self._ask_standby)
        self.questions = ClaimQuestions(self.s)
        self.failed = FailedStarts(self.s, self.standby_protocol)
        self.owed = OwedFailback(
            self.s,
            self._ask_standby,
            peer_keeps=self.ping_policy.peer_sees_more,
            busy=lambda: self.standby_protocol.busy,
        )
        self.startup = Startup(
            self.s,
            self.isolation,
            self.legacy,
            take_over=self.takeover_policy.take,
            ipfail_active=lambda: self.ping_policy.active,
            unfenced=self._never_heard,
            peer_holds_ours=self.owed.expect,
        )
        self._failback_to: set[str] = set()  # auto failback that found us busy
        self._shutdown_after: float | None = None  # an orderly stop waits for a standby

    # == start-up =========================================================================
    def start(self, now: float) -> None:
        """The daemon has just started: find out which groups already run here.

        A daemon killed with -9 leaves its VIP and services behind. Groups found
        running are adopted if the start-up negotiation gives them to us (their start
        is idempotent) and stopped once it has given them to someone else, so the
        restarted node never keeps a copy its peer also holds (nice_failback modes;
        legacy keeps Heartbeat's behaviour: a running group is simply not asked for).
        """
        self.table.probe(now)

    # == membership input ==================================================================
    def comm_up(self, live_peers: set[str], now: float) -> None:
        """Comm is up (§4.2): start the resource negotiation of our mode."""
        if self.s.mode is Mode.INIT:
            self.startup.begin(live_peers, now)

    def node_dead(self, node: str, now: float, *, heard: bool = False) -> None:
        """A normal peer was declared dead: STONITH report, then mach_down (§4.3).

        ``heard``: declared dead on a status that came later than deadtime; that
        status shows it alive, so the takeover waits (_take_over_if_silent).
        """
        s, peer = self.s, self.s.peers.get(node.lower())
        if peer is None or (peer.declared_dead and not peer.alive):
            return
        if s.mode is not Mode.INIT:
            self.heal.remember(peer)
        old_hold, gone_cleanly = peer.hold, peer.shut_down
        self._forget(peer, now)
        peer.alive, peer.declared_dead = False, True
        self.ping_policy.peer_gone(peer.name)
        if s.mode in (Mode.INIT, Mode.STOPPING, Mode.STOPPED):
            return
        if gone_cleanly:
            self.out.log("info", f"Dead node {peer.name} gave up resources.")
            self.out.send(m.stonith(peer.name, "unneeded"))
            return
        if self.fencing.configured and self.fencing.needed(old_hold):
            # R1: reset it first; the takeover waits for "node X now reset." (_fenced).
            self.fencing.begin(peer.name, old_hold, now)
            return
        self.takeover_policy.stonith(peer.name, old_hold)
        if heard and s.mode is Mode.STABLE:
            self._take_over_if_silent(peer.name, now)
            return
        self._fenced(peer.name, now)

    def _take_over_if_silent(self, peer: str, now: float) -> None:
        """``peer`` was declared dead on a status that came later than deadtime.

        3.0.6 then takes over at once. But that status shows the peer alive: we were
        slow to check (frozen, overloaded), or it advertised a longer dead interval
        (its first seconds after start), or the cable was out and is back. Its next
        status, a keepalive away, reads as a partition heal (``_peer_back`` cancels
        this); a takeover in between only puts the group on both nodes. So we take
        over only if it stays silent for deadtime more.
        """
        self.deferred.defer(peer, now + self.s.deadtime)
        self.out.log(
            "info",
            f"{peer} was heard just now: taking over from it only if it stays"
            f" silent for {self.s.deadtime:g} s",
        )

    def _deferred_takeover(self, peer: str, now: float) -> None:
        """A deferred takeover's deadline came: taking over settles whatever isolation
        still owed us (what it let go of is ours again through mach_down)."""
        self.isolation.owed = False
        self.takeover_policy.take(peer, now)

    def _ask_standby(self, ours: Hold, now: float) -> str | None:
        """hb_takeover for ``ours`` (a set relative to us): the peer goes standby for it."""
        scope = {Hold.LOCAL: StandbyScope.LOCAL, Hold.FOREIGN: StandbyScope.FOREIGN}
        return self.standby_protocol.ask_takeover(scope.get(ours, StandbyScope.ALL), now)

    def _fenced(self, node: str, now: float) -> None:
        """``node`` is dead and harmless (reset, or no reset needed): take over."""
        if self.s.mode is Mode.STARTING:
            self.startup.alone(now)
        elif self.s.mode is Mode.STABLE:
            self.isolation.peer_dead(node, now)

    def _never_heard(self) -> list[str]:
        """Absent peers that may hold resources and have not been reset: with STONITH,
        a node that starts without hearing its peer takes nothing (startup)."""
        if not self.fencing.configured:
            return []
        return [
            p.name
            for p in self.s.peers.values()
            if not p.present and not p.shut_down and p.name not in self.fencing.done_nodes
        ]

    def fence_done(self, action_id: int, result: FenceResult, now: float) -> None:
        """The daemon finished a reset (action kind ``fence``)."""
        self.fencing.done(action_id, result, now)

    def node_alive(self, node: str, status: NodeStatus, now: float) -> None:
        """A peer is up or active (first contact, or back after we declared it dead)."""
        peer = self.s.peers.get(node.lower())
        if peer is not None and not peer.alive:
            self.fencing.heard(peer.name, now)
            self._peer_back(peer, now)

    def node_restarted(self, node: str, now: float) -> None:
        """A peer came back with a new generation: it holds nothing any more."""
        s, peer = self.s, self.s.peers.get(node.lower())
        if peer is None:
            return
        was_dead = peer.declared_dead
        left = self._left_to_us(peer) if was_dead else Hold.NONE
        self.fencing.heard(peer.name, now)
        self._peer_started(peer, now, left)
        peer.alive, peer.declared_dead = True, False
        self.isolation.end()
        if not was_dead or s.mode is not Mode.STABLE:
            return
        # It rebooted while we thought it dead, so it may have started alone and taken
        # everything: show it our claim (legacy: ask for our groups again). As it never
        # saw us (dead at its start), we judge a double as it does: by ownership.
        peer.split = (Hold.NONE, Hold.NONE)
        if s.nice:
            s.report()
        else:
            self.legacy.request_local(now, heal=True)

    def _left_to_us(self, peer: PeerView) -> Hold:
        """What a dead ``peer``'s restart leaves to us, its takeover never having run.

        Its takeover may still wait (a reset in the fence-race delay, a deferred
        takeover): the restart ends that wait, and mach_down would have taken our own
        groups too, whoever held them (a standby exchange cut by its death leaves them
        on nobody). Otherwise, what it claimed when it died, as for a restart we
        never saw die.
        """
        if self.fencing.pending(peer.name) or self.deferred.pending(peer.name):
            return Hold.ALL
        return peer.split[1] if peer.split is not None else Hold.NONE

    def partition_healed(self, node: str, now: float) -> None:
        """Same generation from a node we had declared dead: a split brain ends (§4.7)."""
        peer = self.s.peers.get(node.lower())
        if peer is not None and (not peer.alive or peer.declared_dead):
            self.fencing.heard(peer.name, now)
            if peer.restarts_on_heal:
                peer.quiet_until = now + quiet_after_heal(self.s.keepalive, self.s.deadtime)
            self._peer_back(peer, now)

    def ping_status(self, name: str, alive: bool, now: float) -> None:
        """A ping node answered again (alive) or was declared dead after deadping."""
        self.ping_policy.ping_changed(name, alive, now)
        self.isolation.check(now)

    def suspect_isolation(self, suspected: bool, now: float) -> None:
        """The early verdict (:mod:`~hbnode.rm.liveness`): peer and all ping nodes silent
        for warntime (or not).

        While suspected we count as isolated: nothing is taken over and what we hold
        is let go before the peer, which still sees the ping nodes, takes over at
        deadtime. When contact comes back before anyone was declared dead, a report
        marked unsettled makes the peer answer with its holdings, and the usual
        after-isolation rule (take our own unless it has them) follows.
        """
        if self.isolation.suspect(suspected, now) and self.s.present_peers():
            self._ask_holdings([p.name for p in self.s.present_peers()], now)

    def _ask_holdings(self, peers: list[str], now: float) -> None:
        """Our claim, unsettled, so that ``peers`` answer with theirs (asked again until
        they do: hbnode.rm.claims)."""
        self.questions.ask([self.s.peers[name] for name in peers], now)

    def link_status(self, node: str, up: bool, now: float) -> None:
        """A medium to ``node`` went up or dead: ipfail recounts on a dead link; a link
        that comes back starts a fresh exchange of counts (see hbnode.rm.ipfail)."""
        peer = self.s.peers.get(node.lower())
        if peer is None:
            return
        if not up:
            self.ping_policy.tell_peers()
        elif peer.alive:
            self.ping_policy.peer_back(peer.name, now)

    def set_ipfail(self, enabled: bool, now: float) -> None:
        """Turn the ipfail policy on or off (the ``respawn … ipfail`` client came or went)."""
        self.ping_policy.set_enabled(enabled, now)

    # == messages ==========================================================================
    def receive(self, msg: Message, now: float) -> None:
        """Every delivered message, our own loopback copies (src == me) included."""
        s = self.s
        src = (msg.get("src") or "").lower()
        dest = msg.get("dest")
        if s.mode is Mode.STOPPED or (dest is not None and dest.lower() != s.me):
            return
        if src != s.me and src not in s.peers:
            return  # the core drops unknown senders; a bad peer must not reach further
        sender = s.peers.get(src)
        if sender is not None and sender.declared_dead and not sender.alive:
            # A late copy from a node we have declared dead (a retransmission from
            # before the split) says nothing about now; its return comes as a status.
            return
        kind = msg.get("t")
        if kind == T.STARTING:
            self._on_starting(src, now)
        elif kind == T.RESOURCE:
            self._on_report(src, msg, now)
        elif kind == T.IP_REQUEST:
            self.legacy.on_request(src, msg, now)
        elif kind == T.IP_REQUEST_RESP:
            self.legacy.on_response(src, msg, now)
        elif kind == T.ASK_RESOURCES:
            self.standby_protocol.on_ask(msg, now)
        elif kind == T.HB_TAKEOVER:
            self.standby_protocol.on_hb_takeover(src, msg, now)
        elif kind == T.SHUTDONE:
            self._on_shutdone(src, now)
        elif kind in (T.NUM_PING_NODES, T.YOU_ARE_DEAD, T.ABORT_GIVEUP, T.CLSTAT):
            self.ping_policy.on_message(msg, now)

    def _on_starting(self, src: str, now: float) -> None:
        s = self.s
        if src == s.me:
            # Our own copy: answering it gives every starting node, us included, a
            # resource message to start RQSTDELAY on (the capture shows this reply).
            if s.mode is Mode.STARTING:
                s.report()
            return
        self._peer_started(s.peers[src], now)
        if s.mode in (Mode.STARTING, Mode.STABLE):
            s.report()

    def _on_report(self, src: str, msg: Message, now: float) -> None:
        s = self.s
        if src == s.me:
            self.startup.report_seen(now)
            return
        hold = Hold.parse(msg.get("rsc_hold"))
        if hold is None:
            return
        peer, info, full = s.peers[src], msg.get("info"), msg.get("rtype") == "full"
        if self._stale(peer, msg):
            return
        before = peer.hold
        if full:
            peer.hold, peer.stable = hold, msg.get("isstable") == "1"
            peer.restarts_on_heal = msg.get(m.HEAL_FIELD) != m.HEAL_IN_PLACE
        else:
            peer.hold |= hold  # mach_down's report: it took over its foreign groups
        if info == m.INFO_SHUTDOWN:
            peer.hold = Hold.NONE
        if s.mode is Mode.STARTING:
            quick = full and msg.get(m.QUICK_START) == "1" and not peer.stable
            self.startup.peer_report(peer, full, quick, now)
            return
        if s.mode is not Mode.STABLE:
            return
        self.heal.on_report(peer, before, now)
        if full and peer.stable:
            asked, owed = self.questions.answered(peer.name), self.isolation.owed
            self.isolation.after_contact(peer, now)  # owed: it reports what it does
            if asked and not owed:
                s.report()  # our claim, said unsettled to ask for theirs, settled again
        if full and not peer.stable and info != m.INFO_SHUTDOWN:
            s.report()  # a node still in transition wants to know what we hold
        if full and peer.stable and peer.returning and now >= peer.quiet_until:
            self._peer_ready(peer, now)

    def _stale(self, peer: PeerView, msg: Message) -> bool:
        """A report older than the newest we applied from ``peer``: a retransmission
        that filled a gap after a newer report came (the core delivers such late
        copies, as 3.0.6 does). Its claim is history; applied, it would stand until
        the peer's next change (on a lossy link: a holder seen as holding nothing)."""
        seq = parse_hex(msg.get("seq"))
        if seq is None:
            return False
        if peer.report_seq is not None and seq < peer.report_seq:
            self.out.log("debug", f"stale resource report from {peer.name} (seq {seq:x})")
            return True
        peer.report_seq = seq
        return False

    def _peer_ready(self, peer: PeerView, now: float) -> None:
        """A (re)joined peer is stable: give it its groups back, offer it failed ones."""
        peer.returning = False
        self._failback(peer, now)
        self.failed.peer_ready(now)

    def _on_shutdone(self, src: str, now: float) -> None:
        s = self.s
        if src == s.me:
            return
        peer = s.peers[src]
        peer.shut_down, peer.hold, peer.stable = True, Hold.NONE, False
        self.standby_protocol.peer_gone(src, now)
        if s.mode is Mode.STARTING:
            self.startup.alone(now)
        elif s.mode is Mode.STABLE:
            # It released everything: take its groups now, not after deadtime. We just
            # heard from it, so we are not isolated whatever the ping nodes say.
            self.takeover_policy.take(src, now)

    def action_done(self, action_id: int, ok: bool, now: float) -> None:
        """The adapter finished an action; ``ok`` is its success."""
        action = self.table.done(action_id, ok, now)
        if action is not None and action.kind is ActionKind.ACQUIRE and not ok:
            key = action.group
            self.table.when_settled(
                f"failed:{key}", [key], lambda t: self.failed.stopped(key, t), now
            )

    # == peers coming and going ============================================================
    def _forget(self, peer: PeerView, now: float) -> None:
        """Whatever we knew of ``peer``'s holdings and exchanges with it is void."""
        peer.hold, peer.stable, peer.returning = Hold.NONE, False, False
        peer.conflict_since, peer.quiet_until = None, NO_WAIT
        peer.reannounce.clear()
        self._failback_to.discard(peer.name)
        self.owed.cancel(peer.name)
        self._drop_pending(peer)
        self.standby_protocol.peer_gone(peer.name, now)

    def _drop_pending(self, peer: PeerView) -> None:
        """Cancel what waited on ``peer`` staying gone: a deferred takeover of its
        groups and our question about its claim. A restart and a return both end it."""
        self.deferred.cancel(peer.name)
        self.questions.forget(peer.name)

    def _peer_started(self, peer: PeerView, now: float, left: Hold = Hold.NONE) -> None:
        """``peer`` (re)started (``starting`` or a new generation): it holds nothing.

        ``left``: what its death left for us to take and we have not (_left_to_us).
        """
        old = peer.hold | left
        self._forget(peer, now)
        peer.shut_down, peer.split, peer.returning = False, None, True
        peer.report_seq = None  # a new generation numbers its messages afresh
        self.takeover_policy.orphans(peer, old, now)
        self.legacy.peer_restarted(peer.name, now)
        self.ping_policy.forget(peer.name)

    def _peer_back(self, peer: PeerView, now: float) -> None:
        """``peer`` is alive again after we declared it dead (a heal, or a late first contact)."""
        s, was_dead = self.s, peer.declared_dead
        peer.alive, peer.declared_dead, peer.shut_down = True, False, False
        self._drop_pending(peer)
        self.isolation.end()
        self.ping_policy.peer_back(peer.name, now)
        if not was_dead or s.mode is not Mode.STABLE:
            return
        peer.returning = True  # with auto_failback on it gets its groups back once stable
        if s.nice and (self.isolation.owed or not peer.restarts_on_heal):
            # We forgot its claim when we declared it dead, and it may never have lost
            # us (a one-way or short cut): it has nothing new to report, so we ask
            # (hbnode.rm.claims). Owed: after_contact then takes back ours. A real
            # Heartbeat restarts on a heal and reports afterwards: told, not asked.
            self._ask_holdings([peer.name], now)
        elif s.nice:
            s.report()  # our claim: a node that also holds one of our sets sees the conflict
        else:
            self.legacy.request_local(now, heal=True)

    def _failback(self, peer: PeerView, now: float) -> None:
        """auto_failback on: give ``peer`` its groups back (standby foreign, §4.4).

        As Heartbeat (PerformAutoFailback), on what we say we hold: a foreign claim
        with no foreign group (the tutorial's slave owns none) is given back too. A
        real Heartbeat peer needs that exchange: a node that comes back while we
        claim its side logs ``Initial resource acquisition complete`` only when it
        ends, and CTS waits for that line after every start.
        """
        s = self.s
        if s.auto_failback is not AutoFailback.ON or s.mode is not Mode.STABLE:
            return
        theirs = any(self.table.active(g.key) for g in s.groups if g.owner == peer.name)
        if not theirs and not s.hold & Hold.FOREIGN:
            return
        if now < peer.quiet_until:
            peer.returning = True  # just healed: _after_quiet gives them back later
            return
        if self.standby_protocol.request(Hold.FOREIGN, now, reason="failback") is not None:
            self._failback_to.add(peer.name)

    def _idle(self, now: float) -> None:
        """A standby exchange ended: run what waited for it."""
        if self._shutdown_after is not None:
            self.shutdown(now)
            return
        for name in sorted(self._failback_to):
            self._failback_to.discard(name)
            peer = self.s.peers.get(name)
            if peer is not None and peer.present:
                self._failback(peer, now)
                if self.standby_protocol.busy:
                    return

    def _ipfail_give_up(self, what: Hold, now: float) -> bool:
        error = self.standby_protocol.request(what, now, reason="ipfail", via_ipfail=True)
        if error is None and what & Hold.LOCAL:
            self.owed.cancel()  # ipfail put our groups on the peer: not a failback owed
        return error is None

    # == operator input ====================================================================
    def standby(self, what: StandbyScope, now: float) -> str | None:
        """hb_standby [all|local|foreign|failback]: give that set to the peer."""
        scope = StandbyScope.parse(what)  # an operator's word: checked, not trusted
        if scope is None:
            return f"usage: hb_standby [{'|'.join(StandbyScope)}]"
        self.owed.cancel()  # the admin says where the groups go
        return self.standby_protocol.request(scope.hold, now, operator=True)

    def takeover(self, what: StandbyScope, now: float) -> str | None:
        """hb_takeover [all|local|foreign|failback]: ask the peer to go standby (mirrored)."""
        scope = StandbyScope.parse(what)
        if scope is None:
            return f"usage: hb_takeover [{'|'.join(StandbyScope)}]"
        return self.standby_protocol.ask_takeover(scope, now)

    def shutdown(self, now: float) -> None:
        """Orderly stop (§4.3): say so, release everything, then ``shutdone``.

        A standby exchange under way ends first, as Heartbeat's hb_rsc_isstable has
        it: a peer acquiring what we gave would otherwise get our shutdown notice in
        the middle, start a second acquisition, and log ``ERROR: Ignored standby
        message 'done'`` when the two cross. The wait is bounded by SHUTDOWN_WAIT.
        """
        s = self.s
        if s.mode in (Mode.STOPPING, Mode.STOPPED):
            return
        self.owed.cancel()
        # A request nobody can answer (hb_standby alone) is no exchange to wait for.
        exchange = self.standby_protocol.busy and bool(s.present_peers())
        if exchange and s.mode is Mode.STABLE:
            if self._shutdown_after is None:
                self._shutdown_after = now + SHUTDOWN_WAIT
                self.out.log("warn", "Shutdown delayed until current resource activity finishes.")
            if now < self._shutdown_after:
                return
            self.out.log("warn", "Standby operation abandoned: shutting down")
        self._shutdown_after = None
        was, s.mode = s.mode, Mode.STOPPING
        self.standby_protocol.abort()
        self.ping_policy.cancel()
        self.failed.clear()
        self.deferred.clear()
        self._failback_to.clear()
        self.startup.cancel()
        self.fencing.cancel_all()
        if self.table.busy():
            self.out.log("info", "Shutdown delayed until current resource activity finishes.")
        if s.nice and was is not Mode.INIT:
            self.out.send(m.resource_report(Hold.NONE, False, m.INFO_SHUTDOWN))
        s.hold = Hold.NONE
        self.out.log(
            "info",
            "Giving up all HA resources.",
            "shutdown_release",
            groups=self.table.active_keys(),
        )
        keys = list(self.table.slots)
        self.table.release(keys, "shutdown", now)
        self.table.release_found("shutdown", now)  # Heartbeat gives up every group
        self.table.when_settled("shutdown", keys, self._shutdone, now)

    def _shutdone(self, now: float) -> None:
        self.out.send(m.shutdone())
        if self.ping_policy.active:
            self.out.send(m.clstat(self.s.me, False))
        self.s.mode = Mode.STOPPED

    def shutdown_done(self) -> bool:
        """Everything is released and ``shutdone`` is queued."""
        return self.s.mode is Mode.STOPPED

    # == time ==============================================================================
    def get_timer(self) -> float | None:
        """The next time ``handle_timer`` must be called, or None."""
        earliest = None
        # A loop, not comprehensions: each is a function call in Python 3.11, and the
        # daemon asks this at every turn of its loop.
        for when in (
            self.startup.timer(),
            self.standby_protocol.timer(),
            self.table.timer(),
            self.ping_policy.timer(),
            self.failed.timer(),
            self.questions.timer(),
            self.deferred.timer(),
            self.fencing.timer(),
            self.heal.timer(),
            self.owed.timer(),
            self._quiet_ends(),
            self._shutdown_after,
        ):
            if when is not None and (earliest is None or when < earliest):
                earliest = when
        return earliest

    def handle_timer(self, now: float) -> None:
        self.liveness.handle_timer(now)
        self.startup.handle_timer(now)
        self.table.handle_timer(now)
        self.standby_protocol.handle_timer(now)
        self.ping_policy.handle_timer(now)
        self.failed.handle_timer(now)
        self.questions.handle_timer(now)
        self.deferred.handle_timer(now)
        self.fencing.handle_timer(now)
        self._after_quiet(now)  # before the heal's reminders: a failback goes first
        self.heal.handle_timer(now)
        self.owed.handle_timer(now)
        if self._shutdown_after is not None and now >= self._shutdown_after:
            self.shutdown(now)

    def _quiet_ends(self) -> float | None:
        """When the wait after a heal ends for a peer whose failback waits for it."""
        # A plain loop: this runs on every pass of the daemon's event loop.
        earliest: float | None = None
        for peer in self.s.peers.values():
            ends = peer.quiet_until
            if peer.returning and ends > NO_WAIT and (earliest is None or ends < earliest):
                earliest = ends
        return earliest

    def _after_quiet(self, now: float) -> None:
        for peer in self.s.peers.values():
            if not peer.returning or peer.quiet_until == NO_WAIT or now < peer.quiet_until:
                continue
            peer.quiet_until = NO_WAIT
            # Still here and settled (a Heartbeat peer is restarting by now: not stable).
            if peer.present and peer.stable and self.s.mode is Mode.STABLE:
                self._peer_ready(peer, now)

    # == outputs and queries ===============================================================
    def take_outgoing(self) -> list[Message]:
        """Messages to send, caller fields only; the core adds src/seq/hg/ts/ttl."""
        return self.out.take_messages()

    def take_actions(self) -> list[Action]:
        return self.out.take_actions()

    def take_events(self) -> list[RmEvent]:
        return self.out.take_events()

    def holdings(self) -> str:
        """Our claim: none/local/foreign/all (``cl_status rscstatus`` when stable)."""
        return self.s.hold.text

    def rscstatus(self) -> str:
        """What ``cl_status rscstatus`` prints: the claim, or ``transition``."""
        return self.s.hold.text if self.stable() else "transition"

    def stable(self) -> bool:
        return self.s.mode is Mode.STABLE and not self.standby_protocol.busy

    def status(self) -> dict[str, object]:
        """Per group key: owner (haresources), state (ours) and holder (as far as we know)."""
        return {
            g.key: {
                "owner": g.owner,
                "state": self.table.state(g.key).value,
                "holder": self.s.holder_of(g),
            }
            for g in self.s.groups
        }
