"""One cluster node: the messaging core and the resource manager, pumped into each other.

Sans-IO: the daemon passes every input in with the time it happened and takes
out what must be sent, probed or run; the logger, the event log, what an earlier
run left on disk and the load average are passed in too. This module is the pump:
it routes the core's events to the resource manager (a peer declared dead →
mach_down, a delivered ``resource`` message → the manager) and the manager's
messages to the core. What the node says is :mod:`hbnode.logwords`'; control
requests are answered by :mod:`hbnode.control_commands`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hbnode.core import events as ev
from hbnode.core.protocol import HeartbeatCore
from hbnode.core.states import LinkStatus, NodeStatus
from hbnode.core.timers import Timers
from hbnode.logwords import EventSink, HeartbeatWords, LogSink
from hbnode.message import Message
from hbnode.rm import Action, ResourceManager, StandbyScope
from hbnode.rm.fencing import FenceResult
from hbnode.rm.liveness import ClientOp
from hbnode.rm.spec import AutoFailback

if TYPE_CHECKING:
    from hbnode.config import ClusterConfig

# After shutdone, keep saying "I am here" for a second, as Heartbeat does (its final
# shutdown phase 2 comes 1 s after its clients stop). A Heartbeat peer takes our groups
# over on shutdone in a child that ends with a standby "done"; should it mark us dead
# (deadtime after our last status) before that "done" is read, it cancels the exchange
# and logs `Ignored standby message 'done' ... in state 0` (CI, test_clean_log).
FINAL_STATUS_TIME = 1.0
PUMP_ROUNDS = 64  # a pump ends when both machines are quiet; this only bounds a bug


@dataclass(frozen=True, slots=True)
class Persisted:
    """What an earlier run left on disk (hbnode.persist): this run's generation, our uuid."""

    generation: int
    uuid: bytes


class Node:
    def __init__(
        self,
        config: ClusterConfig,
        logger: LogSink,
        *,
        now: float,
        wallclock: Callable[[], float],
        persisted: Persisted,
        events: EventSink,
        loadavg: Callable[[], str],
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.hacf = hacf = config.hacf
        self.me = config.node_name
        self.generation = persisted.generation
        self.ping_names = hacf.ping_node_names
        self.words = HeartbeatWords(
            logger, events, wallclock, me=self.me, ping_names=self.ping_names
        )
        self.words.generation(self.generation)
        self.timers = Timers.from_hacf(hacf)
        self.core = HeartbeatCore(
            me=self.me,
            nodes=list(hacf.nodes),
            ping_nodes=self.ping_names,
            timers=self.timers,
            generation=self.generation,
            uuid=persisted.uuid,
            rng=rng or random.Random(),
            wallclock=wallclock,
            loadavg=loadavg,
            ping_groups=[group.name for group in hacf.ping_groups],
            media=sorted({medium.dev for medium in hacf.media}),
            exact_dead_check=True,  # dead at the deadline, not the next 250 ms tick
        )
        self.rm = ResourceManager(
            me=self.me,
            nodes=list(hacf.nodes),
            groups=list(config.resource_groups),
            auto_failback=hacf.auto_failback,
            keepalive=self.timers.keepalive,
            deadtime=self.timers.deadtime,
            deadping=self.timers.deadping,
            ping_nodes=self.ping_names,
            isolation=hacf.isolation and bool(self.ping_names),
            ipfail=False,  # on while the respawned ipfail client is signed on
            warntime=self.timers.warntime,  # the early isolation verdict (hbnode.rm.liveness)
            # ha.cf stonith/stonith_host: reset a dead peer before taking over.
            stonith=hacf.stonith.plugin if hacf.stonith is not None else None,
            stonith_delay=hacf.stonith_delay_ms / 1000,
            stonith_retry=hacf.stonith_retry_ms / 1000,
        )
        self.started_at = now
        self.actions: list[Action] = []
        self.stopping = False
        self.stop_deadline: float | None = None
        if hacf.auto_failback is AutoFailback.LEGACY:
            self.words.legacy_failback()

    # -- inputs ------------------------------------------------------------------
    def start(self, now: float) -> None:
        self.rm.start(now)  # probe what an earlier daemon may have left running
        self.core.start(now)
        self.words.local_status(NodeStatus.UP)
        self._pump(now)

    def receive(self, msg: Message, ifname: str, now: float) -> None:
        src = msg.get("src") if msg.get("t") == "status" else None
        peer = src if src is not None and src != self.me and src in self.hacf.nodes else None
        before = self.core.last_alive(peer) if peer is not None else 0.0
        self.core.receive(msg, ifname, now)
        # Only a status the core kept proves life: a replayed or malformed one
        # must not hold off the isolation check.
        if peer is not None and self.core.last_alive(peer) > before:
            self.words.status_heard(peer)
            self.rm.liveness.heard_from(peer, now)
        self._after_input(now, timed=False)

    def ping_reply(self, name: str, now: float) -> None:
        if name in self.ping_names:  # a peer's name here is the core's to drop, not a sign
            self.rm.liveness.heard_from(name, now)
        self.core.ping_reply(name, now)
        self._after_input(now, timed=False)

    def action_done(self, action_id: int, ok: bool, now: float) -> None:
        self.rm.action_done(action_id, ok, now)
        self._pump(now)

    def fence_done(self, action_id: int, result: FenceResult, now: float) -> None:
        """A reset through the STONITH device ended (hbnode.rm.fencing)."""
        self.rm.fence_done(action_id, result, now)
        self._pump(now)

    def get_timer(self) -> float | None:
        # Asked at every turn of the daemon's loop: no list, no min() of one.
        earliest = self.core.get_timer()
        silence = self.rm.liveness.silence_due(comm_up=self.core.comm_up())
        for other in (self.rm.get_timer(), self.stop_deadline, silence):
            if other is not None and (earliest is None or other < earliest):
                earliest = other
        return earliest

    def handle_timer(self, now: float) -> None:
        self.core.handle_timer(now)
        self.rm.handle_timer(now)
        self._after_input(now)

    def shutdown(self, now: float) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.rm.shutdown(now)
        self._pump(now)

    def finished(self, now: float) -> bool:
        """True once shutdone is out and the last status messages have been sent."""
        return self.stop_deadline is not None and now >= self.stop_deadline

    # -- operator and client requests (hbnode.control_commands) -----------------------
    def standby(self, scope: StandbyScope, now: float) -> str | None:
        """hb_standby: give ``scope`` to the peer; returns why not, or None."""
        self.words.going_standby(scope)
        error = self.rm.standby(scope, now)
        self._pump(now)
        return error

    def takeover(self, scope: StandbyScope, now: float) -> str | None:
        """hb_takeover: ask the peer for ``scope``; returns why not, or None."""
        error = self.rm.takeover(scope, now)
        self._pump(now)
        return error

    def client(
        self, name: str, op: ClientOp, now: float, pid: object = None, *, held: bool = False
    ) -> None:
        """An API client (hbnode-ipfail) signs on, says it is alive or signs off;
        ``held``: it keeps its connection open and is alive until :meth:`client_gone`."""
        self.rm.liveness.client(name, op, now, pid, held=held)
        self._pump(now)

    def client_gone(self, name: str, now: float) -> None:
        """A held client's connection closed (it exited or was killed)."""
        self.rm.liveness.client_gone(name, now)
        self._pump(now)

    # -- outputs -----------------------------------------------------------------
    def ping_targets(self) -> dict[str, list[str]]:
        """Ping pseudo-node name → the addresses probed for it (a group has several)."""
        targets = {address: [address] for address in self.hacf.ping_nodes}
        for group in self.hacf.ping_groups:
            targets[group.name] = list(group.addresses)
        return targets

    def take_outgoing(self, now: float) -> list[Message]:
        return self.core.take_outgoing()

    def take_ping_probes(self, now: float) -> list[tuple[str, Message]]:
        return self.core.take_ping_probes()

    def take_actions(self) -> list[Action]:
        actions, self.actions = self.actions, []
        return actions

    # -- the pump ------------------------------------------------------------------
    def _after_input(self, now: float, *, timed: bool = True) -> None:
        # Before the pump: the verdict is on what the core knew when the input ended.
        self.rm.liveness.watch_silence(now, comm_up=self.core.comm_up(), timed=timed)
        self._pump(now)

    def _pump(self, now: float) -> None:
        """Move events between the two machines until both are quiet (bounded)."""
        for _ in range(PUMP_ROUNDS):
            core_events = self.core.take_events()
            for event in core_events:
                self._on_core_event(event, now)
            outgoing = self.rm.take_outgoing()
            for msg in outgoing:
                self.core.send(msg, now)
            self.actions += self.rm.take_actions()
            rm_events = self.rm.take_events()
            for rm_event in rm_events:
                self.words.rm_event(rm_event)
            if not (core_events or outgoing or rm_events):
                break
        if self.stopping and self.stop_deadline is None and self.rm.shutdown_done():
            self.words.resources_relinquished()
            self.stop_deadline = now + FINAL_STATUS_TIME

    def _on_core_event(self, event: ev.Event, now: float) -> None:
        """Say it in Heartbeat's words, then tell the resource manager what it means."""
        words, rm = self.words, self.rm
        match event:
            case ev.Delivered():
                words.delivered(event.msg)
                rm.receive(event.msg, now)
            case ev.NodeStatusChanged():
                words.node_status(event)
                self._node_status(event, now)
            case ev.LinkStatusChanged():
                words.link(event)
                if event.node != self.me and event.node not in self.ping_names:
                    rm.link_status(event.node, event.new is LinkStatus.UP, now)
            case ev.CommUp():
                self.core.set_status(NodeStatus.ACTIVE, now)
                live = {n for n in self.hacf.nodes if n != self.me and self._alive(n)}
                words.comm_up(live)
                rm.comm_up(live, now)
            case ev.NodeRestarted():
                words.node_restarted(event)
                rm.node_restarted(event.node, now)
            case ev.PartitionHealed():
                self.core.send_status_now(now)  # as Heartbeat does: tell the peer at once
                words.partition_healed(event)
                rm.partition_healed(event.node, now)
            case ev.LateHeartbeat():
                words.late_heartbeat(event)
            case ev.PacketsLost():
                words.packets_lost(event)
            case ev.Dropped():
                words.dropped(event)

    def _node_status(self, event: ev.NodeStatusChanged, now: float) -> None:
        node, new = event.node, event.new
        if node in self.ping_names:
            self.rm.ping_status(node, new is NodeStatus.PING, now)
        elif new is NodeStatus.DEAD:
            self.rm.node_dead(node, now, heard=event.heard)
        else:
            self.rm.node_alive(node, new, now)

    def _alive(self, node: str) -> bool:
        """A peer counts as alive at comm-up if it is up or active, or if any packet of
        it has been heard: its first packet may be a resource message (it has just
        taken over from us) rather than a status, and then its status still says init."""
        status = self.core.node_status(node)
        if status in (NodeStatus.UP, NodeStatus.ACTIVE):
            return True
        if status is NodeStatus.DEAD:
            return False
        links = self.core.links(node)
        return any(self.core.link_status(node, link) is LinkStatus.UP for link in links)
