"""HeartbeatCore: Heartbeat 3.0.6 membership and reliable messaging, sans I/O.

Modelled on aioquic's connection: every input carries ``now`` (monotonic seconds),
nothing reads a clock except the injected ``wallclock`` for the ``ts`` field, and
the caller drives time with :meth:`HeartbeatCore.get_timer` /
:meth:`HeartbeatCore.handle_timer`. Outputs are queued: complete messages to sign
and send on every link, ICMP probes for ping nodes, and events.

The receive pipeline follows protocol.md §3.3: validate, find the sender, NS_ types
aside, generation check, sequencing of *every* message of the sender, dest
filtering, link refresh, dispatch.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import random
from collections import Counter
from collections.abc import Callable, Collection, Sequence

from hbnode.core import events as ev
from hbnode.core import fields as f
from hbnode.core.counters import count_event, new_counters
from hbnode.core.errors import LocalProtocolError
from hbnode.core.membership import ADVERTISED_STATUSES, EPSILON, NodeTable, Peer
from hbnode.core.sender import Sender
from hbnode.core.sequence import SeqVerdict
from hbnode.core.states import LinkStatus, NodeStatus, NodeType
from hbnode.core.timers import (
    DEAD_CHECK_INTERVAL,
    REQNODES_RETRY,
    STARTUP_DT_EXTRA_MS,
    STARTUP_DT_PERIOD,
    Timers,
)
from hbnode.message import Message

# Types the core answers itself; everything else that is kept goes up as Delivered.
_CORE_TYPES = frozenset({f.T_STATUS, f.T_REQNODES, f.T_REPNODES})


class CommState(enum.Enum):
    WAITING = "waiting"  # not every node heard from or declared dead yet
    REQNODES = "reqnodes"  # asked a peer for its node list (flow control on)
    UP = "up"


class HeartbeatCore:
    """One node's view of the cluster: feed it messages and time, take what it emits."""

    def __init__(
        self,
        *,
        me: str,
        nodes: list[str],
        ping_nodes: list[str],
        timers: Timers,
        generation: int,
        uuid: bytes,
        rng: random.Random,
        wallclock: Callable[[], float],
        loadavg: Callable[[], str] = lambda: "0.00 0.00 0.00 1/1 1",
        flow_control: bool = True,
        ping_groups: Collection[str] | None = None,
        media: Sequence[str] = (),
        exact_dead_check: bool = False,
    ) -> None:
        """``ping_groups`` names the entries of ``ping_nodes`` that are ``ping_group``
        names (their probes say ``info=ping_group``); by default any entry that is
        not an IPv4 address. ``media`` are the interface names, so that
        :meth:`links` lists every link, heard or not, as cl_status does.
        ``exact_dead_check``: declare a node or link dead at its deadline instead
        of at Heartbeat's next 250 ms tick (hbnode's choice, docs/differences.md).
        """
        self.me = me.lower()
        self.nodes = [name.lower() for name in nodes]
        if self.me not in self.nodes:
            raise LocalProtocolError(f"Current node [{self.me}] not in configuration!")
        self.ping_nodes = list(ping_nodes)
        if ping_groups is None:
            ping_groups = [name for name in self.ping_nodes if not _is_ipv4(name)]
        self._ping_groups = frozenset(ping_groups)
        self.timers = timers
        self.generation = generation
        self.uuid = uuid
        self._flow_control = flow_control
        self._exact_dead_check = exact_dead_check
        self._table = NodeTable(
            me=self.me,
            nodes=self.nodes,
            ping_nodes=self.ping_nodes,
            media=media,
            timers=timers,
            rng=rng,
            now=0.0,
        )
        self._counters: Counter[str] = new_counters()
        self._sender = Sender(
            me=self.me,
            uuid=uuid,
            generation=generation,
            # ttl: hopfudge + every configured node, ping nodes included (§3.1).
            ttl=timers.hopfudge + len(self.nodes) + len(self.ping_nodes),
            wallclock=wallclock,
            loadavg=loadavg,
            uuid_of=self._uuid_of,
            counters=self._counters,
        )
        self._local_status = NodeStatus.INIT
        self._started_at: float | None = None
        self._next_keepalive = math.inf
        self._next_check = math.inf
        self._comm = CommState.WAITING
        self._reqnodes_at: float | None = None
        self._events: list[ev.Event] = []

    # -- inputs -------------------------------------------------------------------
    def start(self, now: float) -> None:
        """Queue the first statuses (st=init, then st=up) and ping probes; arm the timers."""
        if self._started_at is not None:
            raise LocalProtocolError("start() called twice")
        self._started_at = now
        self._table.restart_clock(now)
        self._next_keepalive = now + self.timers.keepalive
        # With the exact dead check the deadlines themselves are the timer (get_timer):
        # a 250 ms tick on top would only wake the node up to 3 more times a keepalive
        # of 1 s, to find nothing due.
        self._next_check = math.inf if self._exact_dead_check else now + DEAD_CHECK_INTERVAL
        # The capture shows st=init and, at once, st=up ("Local status now set to:
        # 'up'"), both at start-up; the keepalive timer then repeats up.
        self._send_status(now, with_probes=True)
        self._local_status = NodeStatus.UP
        self._send_status(now, with_probes=False)
        self._check_comm_up(now)

    def receive(self, msg: Message, link: str, now: float) -> None:
        """An authenticated message that arrived on medium ``link`` (e.g. ``eth1``)."""
        self._require_started()
        self._counters["received"] += 1
        msg_type, src = msg.get("t"), msg.get("src")
        ts = f.parse_hex(msg.get("ts"))
        if msg_type is None or src is None:
            self._drop(ev.DropReason.MALFORMED, src or "", "no t or src field", now)
            return
        if not ts:
            self._drop(ev.DropReason.MALFORMED, src, f"bad ts [{msg.get('ts')}]", now)
            return
        peer = self._table.lookup(src.lower(), msg.get_binary("srcuuid"))
        if peer is None:
            self._drop(ev.DropReason.UNKNOWN_NODE, src, f"type [{msg_type}]", now)
            return
        if peer.type is NodeType.PING:
            # Ping nodes only ever speak through ping_reply(): this is forged or misrouted.
            self._drop(ev.DropReason.PING_OVER_UDP, peer.name, f"type [{msg_type}]", now)
            return
        if peer.name == self.me:
            self._own_echo(msg, peer, link, now)
            return
        peer.heard = True
        srcuuid = msg.get_binary("srcuuid")
        if srcuuid is not None and len(srcuuid) == len(self.uuid):
            peer.uuid = srcuuid
        if f.is_unsequenced(msg_type):
            self._receive_unsequenced(msg, msg_type, peer, link, now)
        else:
            self._receive_sequenced(msg, msg_type, peer, link, now)
        self._check_comm_up(now)

    def ping_reply(self, name: str, now: float) -> None:
        """Our NS_st probe came back from ping node ``name`` (address or group name)."""
        self._require_started()
        peer = self._table.peers.get(name)
        if peer is None or peer.type is not NodeType.PING:
            self._drop(ev.DropReason.UNKNOWN_NODE, name, "ping reply", now)
            return
        peer.heard = True
        peer.last_alive = now
        self._emit(self._table.refresh_link(peer, name, now))
        self._emit(self._table.set_status(peer, NodeStatus.PING, now))
        self._check_comm_up(now)

    def send(self, msg: Message, now: float) -> None:
        """Queue an upper-layer message for every link, and deliver it to ourselves.

        The §3.1 control fields are added; seq'd messages go into the retransmit
        history. Like Heartbeat, we are a receiver of our own messages: if it is not
        addressed to another node, a Delivered event with ``link=None`` follows.
        """
        self._require_started()
        msg_type = msg.get("t")
        if not msg_type:
            raise LocalProtocolError("a message to send needs a t field")
        out = self._sender.queue(msg.copy())
        if msg_type not in _CORE_TYPES and not f.is_unsequenced(msg_type) and self._for_us(out):
            self._deliver(out, None, now)

    def set_status(self, st: NodeStatus, now: float) -> None:
        """Set our advertised status (``active`` at comm-up); a change is sent at once."""
        try:
            status = NodeStatus(st)  # a caller's plain "active" is taken too
        except ValueError:
            raise LocalProtocolError(f"unknown local status {st!r}") from None
        if status not in ADVERTISED_STATUSES:
            raise LocalProtocolError(f"status {status.value!r} is never advertised")
        if status is self._local_status:
            return
        self._local_status = status
        if self._started_at is not None:
            self._send_status(now, with_probes=False)

    def send_status_now(self, now: float) -> None:
        """Send a status message out of turn (Heartbeat does on a partition heal)."""
        self._require_started()
        self._send_status(now, with_probes=False)

    def get_timer(self) -> float | None:
        """The earliest instant :meth:`handle_timer` has something to do."""
        if self._started_at is None:
            return None
        deadlines = [self._next_keepalive, self._next_check]
        if self._exact_dead_check:
            deadlines.append(self._table.next_deadline(comm_up=self._comm is CommState.UP))
        if self._reqnodes_at is not None:
            deadlines.append(self._reqnodes_at)
        for peer in self._table.others():
            when = peer.window.next_request()
            if when is not None and peer.alive:
                deadlines.append(when)
        return min(deadlines)

    def handle_timer(self, now: float) -> None:
        """Fire everything due: rexmit requests, the dead check, reqnodes, keepalive."""
        self._require_started()
        self._request_rexmits(now)
        if now + EPSILON >= self._next_check:
            self._emit_all(self._table.check(now, comm_up=self._comm is CommState.UP))
            self._next_check = self._next_tick(self._next_check, DEAD_CHECK_INTERVAL, now)
            self._check_comm_up(now)
        elif self._exact_dead_check:
            # No tick: what is due now, at a peer's (or initdead's) deadline.
            self._emit_all(self._table.check(now, comm_up=self._comm is CommState.UP))
            self._check_comm_up(now)
        if self._reqnodes_at is not None and now + EPSILON >= self._reqnodes_at:
            self._send_reqnodes(now)
        if now + EPSILON >= self._next_keepalive:
            self._send_status(now, with_probes=True)
            self._next_keepalive = self._next_tick(self._next_keepalive, self.timers.keepalive, now)

    # -- outputs ------------------------------------------------------------------
    def take_outgoing(self) -> list[Message]:
        """Complete messages to sign, encode and send on every link."""
        return self._sender.take_messages()

    def take_ping_probes(self) -> list[tuple[str, Message]]:
        """(ping node name, NS_st payload) pairs; a group name stands for its members."""
        return self._sender.take_probes()

    def take_events(self) -> list[ev.Event]:
        out, self._events = self._events, []
        return out

    # -- views (cl_status) ----------------------------------------------------------
    def node_status(self, node: str) -> NodeStatus:
        """init/up/active/dead/ping, as ``cl_status nodestatus`` prints it."""
        if node.lower() == self.me:
            return self._local_status
        return self._peer(node).status

    def last_alive(self, node: str) -> float:
        """When (monotonic) the core last took a status of ``node`` as proof of life."""
        return self._peer(node).last_alive

    def node_type(self, node: str) -> NodeType:
        return self._peer(node).type

    def link_status(self, node: str, link: str) -> LinkStatus:
        state = self._peer(node).links.get(link)
        return state.status if state is not None else LinkStatus.DEAD

    def links(self, node: str) -> list[str]:
        return list(self._peer(node).links)

    def link_last_heard(self, node: str, link: str) -> float | None:
        """When (monotonic) a packet of ``node`` last arrived on ``link``; None: never."""
        state = self._peer(node).links.get(link)
        return state.last_heard if state is not None else None

    def comm_up(self) -> bool:
        return self._comm is CommState.UP

    def counters(self) -> dict[str, int]:
        return dict(self._counters)

    def _peer(self, node: str) -> Peer:
        peer = self._table.peers.get(node.lower()) or self._table.peers.get(node)
        if peer is None:
            raise KeyError(node)
        return peer

    # -- receive pipeline -------------------------------------------------------------
    def _own_echo(self, msg: Message, peer: Peer, link: str, now: float) -> None:
        """Our own packet came back (bcast, or a ucast line naming us): the link works.

        It was already delivered to us by send(), so it is not sequenced again;
        a different generation under our name is an old incarnation or an impostor.
        """
        hg = f.parse_hex(msg.get("hg"))
        if hg is not None and hg < self.generation:
            detail = f"[gen = {hg}, curgen = {self.generation}]"
            self._drop(ev.DropReason.REPLAY, peer.name, detail, now)
            return
        if hg is not None and hg > self.generation:
            self._drop(ev.DropReason.IMPOSTOR, peer.name, f"[gen = {hg}]", now)
            return
        self._counters["own_echo"] += 1
        self._emit(self._table.refresh_link(peer, link, now))

    def _receive_unsequenced(
        self, msg: Message, msg_type: str, peer: Peer, link: str, now: float
    ) -> None:
        if not self._for_us(msg):
            self._counters["not_for_us"] += 1
            return
        self._emit(self._table.refresh_link(peer, link, now))
        if msg_type == f.T_NS_REXMIT:
            if not peer.alive:
                # We still count it dead: its request may be for what we said while
                # apart. It asks again; by then its status has told us it is back.
                self._counters["rexmit_suppressed"] += 1
                return
            self._answer_rexmit(msg, peer, now)
        elif msg_type == f.T_NS_NAK:
            seq = f.parse_hex(msg.get("firstseq"))
            self._counters["nak_received"] += 1
            if seq is not None:
                peer.window.give_up(seq)
        elif msg_type == f.T_NS_ACK:
            seq = f.parse_hex(msg.get("ackseq"))
            self._counters["acks_received"] += 1
            if seq is not None and seq <= self._sender.seq:
                peer.acked = max(peer.acked, seq)

    def _receive_sequenced(
        self, msg: Message, msg_type: str, peer: Peer, link: str, now: float
    ) -> None:
        seq, hg = f.parse_hex(msg.get("seq")), f.parse_hex(msg.get("hg"))
        if seq is None or hg is None:
            detail = f"bad seq [{msg.get('seq')}] or hg [{msg.get('hg')}]"
            self._drop(ev.DropReason.MALFORMED, peer.name, detail, now)
            return
        keep, events = self._table.judge_generation(
            peer, is_status=msg_type == f.T_STATUS, seq=seq, hg=hg, now=now
        )
        if events and any(isinstance(event, ev.PartitionHealed) for event in events):
            # Heartbeat restarts both sides here, so nothing either said while apart is
            # ever acted on. We heal without a restart: what we sent while apart (ping
            # counts, takeovers, standby steps of the partition's view) is refused when
            # the peer asks for it (NAKed); what we send from now on is not.
            peer.rexmit_floor = self._sender.seq
        self._emit_all(events)
        if not keep:
            return
        # Sequencing comes before dest filtering: a gap in what a peer sent to a
        # third node is still a gap in its seqs (§3.3 step 5).
        verdict = self._track(peer, seq, link, now)
        if verdict is None:
            return
        if not self._for_us(msg):
            self._counters["not_for_us"] += 1
            return
        self._emit(self._table.refresh_link(peer, link, now))
        if msg_type == f.T_STATUS:
            events = self._table.status_heard(
                peer,
                st=msg.get("st"),
                dt_ms=f.parse_hex(msg.get("dt")),
                protocol="protocol" in msg,
                in_order=verdict is SeqVerdict.ACCEPT,
                now=now,
            )
            self._emit_all(events)
        elif msg_type == f.T_REQNODES:
            # The complete list of normal nodes, or a 3.0.6 peer stays "up" forever.
            self._sender.queue(f.repnodes_message(peer.name, self.nodes))
        elif msg_type == f.T_REPNODES:
            if self._comm is CommState.REQNODES:
                self._comm_now_up(now)
        else:
            self._deliver(msg, link, now)

    def _track(self, peer: Peer, seq: int, link: str, now: float) -> SeqVerdict | None:
        """Run ``seq`` through the peer's window; None when the message goes no further."""
        tracked = peer.window.track(seq, now)
        gap = tracked.gap
        if gap is not None:
            self._emit(
                ev.PacketsLost(peer.name, gap.first, gap.last, gap.count, gap.reset, now=now)
            )
        if tracked.verdict is SeqVerdict.DUPLICATE:
            # A duplicate still proves the link works (§3.3 step 6).
            self._counters["duplicate"] += 1
            self._emit(self._table.refresh_link(peer, link, now))
            return None
        if tracked.verdict is SeqVerdict.OLD:
            self._counters["out_of_window"] += 1
            return None
        if self._flow_control_on() and peer.window.should_ack(seq):
            self._counters["acks_sent"] += 1
            self._sender.queue(f.ack_message(peer.name, seq))
        return tracked.verdict

    # -- reliability (§3.4) ---------------------------------------------------------------
    def _answer_rexmit(self, msg: Message, peer: Peer, now: float) -> None:
        self._counters["rexmit_received"] += 1
        first, last = f.parse_decimal(msg.get("firstseq")), f.parse_decimal(msg.get("lastseq"))
        if first is None or last is None or last < first:
            detail = f"NS_rexmit [{msg.get('firstseq')}:{msg.get('lastseq')}]"
            self._drop(ev.DropReason.MALFORMED, peer.name, detail, now)
            return
        self._sender.answer_rexmit(peer.name, peer.acked, first, last, now, peer.rexmit_floor)

    def _request_rexmits(self, now: float) -> None:
        for peer in self._table.others():
            if not peer.alive:
                continue
            for seq in peer.window.due_requests(now):
                self._counters["rexmit_requested"] += 1
                self._sender.queue(f.rexmit_request(peer.name, seq))

    def _flow_control_on(self) -> bool:
        """ACKs and reqnodes only while every peer that sent a status sent protocol."""
        if not self._flow_control:
            return False
        # A loop, not all(genexpr), a function call in 3.11: every receive asks this.
        for peer in self._table.normal_peers():  # noqa: SIM110
            if peer.protocol is False:
                return False
        return True

    # -- comm up (§4.2) -----------------------------------------------------------------
    def _check_comm_up(self, now: float) -> None:
        if self._comm is not CommState.WAITING:
            return
        if not all(peer.heard or not peer.alive for peer in self._table.others()):
            return
        if self._flow_control_on():
            self._comm = CommState.REQNODES
            self._send_reqnodes(now)
        else:
            self._comm_now_up(now)

    def _send_reqnodes(self, now: float) -> None:
        """Ask the first live peer for its node list, every second until it answers."""
        target = next(
            (p for p in self._table.normal_peers() if p.alive and p.heard),
            None,
        )
        if target is None or not self._flow_control_on():
            # Nobody left to ask, or a peer turned out to have no flow control (it
            # would never answer): comm is up without the node list.
            self._comm_now_up(now)
            return
        self._sender.queue(f.reqnodes_message(target.name))
        self._reqnodes_at = now + REQNODES_RETRY

    def _comm_now_up(self, now: float) -> None:
        self._comm = CommState.UP
        self._reqnodes_at = None
        self._emit(ev.CommUp(now=now))

    # -- sending ---------------------------------------------------------------------------
    def _send_status(self, now: float, *, with_probes: bool) -> None:
        assert self._started_at is not None
        extra = STARTUP_DT_EXTRA_MS if now < self._started_at + STARTUP_DT_PERIOD else 0
        dt_ms = self.timers.deadtime_ms + extra
        status = f.status_message(self._local_status.value, dt_ms, protocol=self._flow_control)
        self._counters["status_sent"] += 1
        self._sender.queue(status)
        if with_probes:
            # Pings go out with each keepalive status, never on their own (§4.6).
            for name in self.ping_nodes:
                self._sender.probe(name, group=name in self._ping_groups)

    def _uuid_of(self, node: str) -> bytes | None:
        """destuuid for a message to ``node``: known once it has sent us something."""
        if node == self.me:
            return self.uuid
        peer = self._table.peers.get(node)
        return None if peer is None else peer.uuid

    # -- helpers ------------------------------------------------------------------------------
    def _for_us(self, msg: Message) -> bool:
        """Kept only without dest/destuuid, or when they name us (§3.3 step 5).

        A sender adds destuuid only beside dest, so the name decides when both are
        there: two nodes cloned with one hb_uuid would otherwise each keep the
        other's messages. destuuid alone is compared with our uuid.
        """
        dest = msg.get("dest")
        if dest is not None:
            return dest.lower() == self.me
        destuuid = msg.get_binary("destuuid")
        return destuuid is None or destuuid == self.uuid

    def _deliver(self, msg: Message, link: str | None, now: float) -> None:
        self._emit(ev.Delivered(msg, link, now=now))

    def _drop(self, reason: ev.DropReason, node: str, detail: str, now: float) -> None:
        self._emit(ev.Dropped(reason, node, detail, now=now))

    def _emit(self, event: ev.Event | None) -> None:
        """Queue an event, and count what the counters count by event."""
        if event is None:
            return
        self._events.append(event)
        count_event(self._counters, event)

    def _emit_all(self, events: list[ev.Event]) -> None:
        for event in events:
            self._emit(event)

    def _next_tick(self, previous: float, period: float, now: float) -> float:
        """The next instant of a fixed grid after ``now`` (ticks missed while we were
        stalled are skipped, not fired in a burst)."""
        if previous + period > now + EPSILON:
            return previous + period
        missed = math.floor((now + EPSILON - previous) / period)
        return previous + (missed + 1) * period

    def _require_started(self) -> None:
        if self._started_at is None:
            raise LocalProtocolError("start() must be called first")


def _is_ipv4(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True
