"""The wire during a lab test: what the nodes said to each other, and the checks on it.

:func:`trace_for` builds the :class:`~lab.wiretrace.WireTrace` the ``wire_trace``
fixture starts: heartbeats on every ha.cf medium of both nodes (``ucast eth1`` in
the reference topology), ARP where the client sees the VIP, and ICMP where the
ping node answers. Every datagram is decoded and its signature checked with the
lab's authkeys by the lab's own codec. The helpers below state, once, what a
failover looks like on the wire; each was measured first on both implementations
(the real Heartbeat 3.0.6 and hbnode) and on the mixed clusters, and says where
they differ.

Times are kernel receive stamps; a datagram seen on both nodes' taps counts once
where it matters (:meth:`~lab.wirequery.Timeline.intervals`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lab.backends import Lab
from lab.forge import Forged
from lab.hafiles import AUTHKEYS
from lab.hbcodec import parse_authkeys
from lab.topology import Host, Interface, Topology
from lab.wireevents import HeartbeatEvent, PingEvent
from lab.wirequery import Query, garp, msg
from lab.wiretrace import WireTrace

from .helpers import Cluster, wait_until

NODES = ("master", "slave")  # the reference cluster's nodes
FAILURE_WINDOW = 10.0  # seconds of the trace a failed test prints
KEEPALIVE_TOLERANCE = 0.20  # the issue's "keepalive ±20 %"
CADENCE_SHARE = 0.9  # share of the gaps that must be within it (a busy 2-core machine)
DETECTION_SLACK = 1.5  # seconds a death may be declared after the dead interval (tick, load)
# Fields hbnode adds on purpose (docs/differences.md); a 3.0.6 node ignores them.
HBNODE_FIELDS = {("resource", "hbnode_quickstart"), ("resource", "hbnode_heal")}
# What a node sends when it gives something up: never from a node whose power was cut.
RELEASES = ("resource", "ask_resources", "shutdone", "ip-request", "ip-request-resp")


# -- the trace ------------------------------------------------------------------------------------
def trace_for(lab: Lab) -> WireTrace:
    """A trace (not started) on ``lab``: heartbeats on each node's media, ARP on the
    client's service LAN, ICMP on the ping node's heartbeat-side interface."""
    topo = lab.topo
    nodes = [h.name for h in topo.cluster_nodes]
    media = sorted({m.iface for m in topo.media})
    heartbeat = [f"{n}:{iface}" for n in nodes for iface in media]
    arp = [f"{h.name}:{i.name}" for h in _clients(topo) for i in _vip_side(topo, h)]
    icmp = [f"{h.name}:{i.name}" for h in topo.ping_nodes for i in _node_side(topo, h)]
    hosts = {label.partition(":")[0] for label in (*heartbeat, *arp, *icmp)}
    netns = {name: lab.netns_of(name) for name in hosts}
    keys = parse_authkeys(AUTHKEYS)
    return WireTrace.on_nodes(netns, keys, heartbeat=heartbeat, arp=arp, icmp=icmp)


def _clients(topo: Topology) -> list[Host]:
    cluster = {h.name for h in (*topo.cluster_nodes, *topo.ping_nodes)}
    return [h for h in topo.hosts if h.name not in cluster]


def _vip_side(topo: Topology, host: Host) -> list[Interface]:
    vip_segments = {
        i.segment for h in topo.cluster_nodes for i in h.interfaces if i.name == topo.vip_iface
    }
    return [i for i in host.interfaces if i.segment in vip_segments]


def _node_side(topo: Topology, host: Host) -> list[Interface]:
    node_segments = {i.segment for h in topo.cluster_nodes for i in h.interfaces}
    return [i for i in host.interfaces if i.segment in node_segments]


def failure_report(trace: WireTrace, window: float = FAILURE_WINDOW) -> str:
    """The last ``window`` seconds of the trace, for a failed test's output."""
    events = trace.events
    if not events:
        return "----- wire: nothing recorded -----"
    since = events[-1].time - window
    shown = [e for e in events if e.time >= since]
    head = f"----- wire: the last {window:g} s ({len(shown)} of {len(events)} events) -----"
    notes = [f"summary {trace.summary()}"]
    notes += [f"tap error: {e}" for e in trace.errors]
    notes += [f"link down {label} at {when:.6f}" for when, label in trace.link_downs]
    return "\n".join([head, *notes, trace.render(shown)])


def dump(trace: WireTrace, directory: str | None, name: str) -> None:
    """The whole trace, one line per event, into ``directory``/``name``.txt (if set)."""
    if not directory:
        return
    path = Path(directory) / f"{re.sub(r'[^A-Za-z0-9_.=-]+', '_', name)}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(trace.render() + "\n")
    print(f"----- wire: the whole trace is in {path} -----")


# -- where things are ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Where:
    """The lab's addresses the checks need (reference topology names)."""

    topo: Topology

    def mac(self, node: str, iface: str | None = None) -> str:
        """A node's MAC on ``iface``; by default the one it announces the VIP with."""
        name = iface or self.topo.vip_iface
        interface = self._host(node).interface(name)
        assert interface is not None, f"{node} has no {name}"
        return interface.mac

    def ip(self, node: str, iface: str = "eth1") -> str:
        interface = self._host(node).interface(iface)
        assert interface is not None, f"{node} has no {iface}"
        return str(interface.address.ip)

    @property
    def vip(self) -> str:
        return str(self.topo.vip.ip)

    @property
    def media(self) -> list[str]:
        return sorted({m.iface for m in self.topo.media})

    def _host(self, node: str) -> Host:
        host = self.topo.host(node)
        assert host is not None, f"no host {node}"
        return host


def where(cluster: Cluster) -> Where:
    return Where(cluster.lab.topo)


# -- the kernel under the wire --------------------------------------------------------------------
def keep_resolved(cluster: Cluster, node: str, peer: str) -> None:
    """Mark ``node``'s ARP entries for ``peer``'s media addresses confirmed now, so
    that for the kernel's reachable time (15 to 45 s) after a power cut, what ``node``
    sends to ``peer`` still leaves it and the trace can see it.

    A unicast heartbeat to a dead peer leaves the node only while its neighbour entry
    resolves: UDP confirms no neighbour, so the entry goes stale, is probed, and once
    the probes fail the kernel drops every datagram queued for it. A cut inside that
    probe window hides all the survivor says afterwards, though it says it (CI of
    bfd8145: 10 s with no datagram from slave on its eth1, its log complete). Both
    implementations meet the same kernel; a check of what a daemon sends needs the
    entry fresh. The lab's own namespace or container is the only one changed."""
    at = where(cluster)
    for iface in at.media:  # the topology's MACs are the nodes' own, on both backends
        address, mac = at.ip(peer, iface), at.mac(peer, iface)
        replace = ["ip", "neigh", "replace", address, "lladdr", mac, "dev", iface]
        cluster.lab.run(node, [*replace, "nud", "reachable"], check=True)


# -- waiting on the wire -------------------------------------------------------------------------
def wait_quiet(
    trace: WireTrace, seconds: float, timeout: float = 20.0, nodes: Iterable[str] = NODES
) -> None:
    """Wait until ``seconds`` have passed with nothing but status, ACK and ipfail
    chatter on the wire: the start-up exchange is over, the cluster is steady.

    The quiet is what the trace saw from this call on, with a status from every
    node in it: a trace started on a steady cluster has heard nothing yet, and
    nothing heard is no proof of quiet (nor leaves a last status to judge by)."""
    watched = time.time()
    senders = tuple(nodes)

    def quiet() -> bool:
        busy = trace.last(where=lambda e: e.t not in QUIET_TYPES)
        since = watched if busy is None else max(busy.time, watched)
        heard = all(trace.last("status", n, after=since) for n in senders)
        return heard and time.time() - since >= seconds

    wait_until(quiet, timeout, f"{seconds:g} s without resource traffic on the wire")


QUIET_TYPES = ("status", "NS_ackmsg", "num_ping_nodes", "abort_giveup", "hbapi-clstat")


def wait_messages(trace: WireTrace, queries: Iterable[Query], timeout: float, after: float) -> None:
    """Block until each query has a match after ``after`` (each within ``timeout``)."""
    for query in queries:
        trace.wait_for(query, timeout, after=after)


# -- what every trace must show -----------------------------------------------------------------
def assert_all_signed(trace: WireTrace, impl_of: Callable[[str], str]) -> None:
    """Every datagram parsed, verified with the cluster's key, and is what a 3.0.6 node
    sends; the only extra field allowed is hbnode's own, and only from hbnode nodes."""
    assert trace.bad_signatures() == [], trace.render(trace.bad_signatures())
    assert trace.undecodable() == [], trace.render(trace.undecodable())
    off = []
    for event, issues in trace.nonconforming():
        kept = [
            i
            for i in issues
            if not (_hbnode_field(event, i) and impl_of(event.src or "") == "hbnode")
        ]
        if kept:
            off.append(f"{event} {kept}")
    assert off == [], "\n".join(off)
    assert trace.errors == [], trace.errors


def _hbnode_field(event: HeartbeatEvent, issue: str) -> bool:
    return any(event.t == t and f"'{name}'" in issue for t, name in HBNODE_FIELDS)


def assert_cadence(
    trace: WireTrace, src: str, keepalive: float, after: float, before: float, iface: str
) -> None:
    """``src`` sent status at keepalive ±20 %: the median gap, and nearly every gap
    (CADENCE_SHARE: a loaded machine delays the odd one), with none twice as late."""
    stats = trace.intervals(src, "status", iface, after, before)
    assert stats.count >= 4, f"too few status messages from {src} to judge: {stats}"
    low, high = keepalive * (1 - KEEPALIVE_TOLERANCE), keepalive * (1 + KEEPALIVE_TOLERANCE)
    assert stats.median is not None and low <= stats.median <= high, str(stats)
    within = sum(1 for gap in stats.gaps if low <= gap <= high)
    assert within >= CADENCE_SHARE * len(stats.gaps), (
        f"{src}: only {within} of {len(stats.gaps)} gaps within keepalive ±20 %: {stats.gaps}"
    )
    assert stats.max is not None and stats.max < 2 * keepalive, str(stats)


def last_status(trace: WireTrace, src: str, before: float | None = None) -> HeartbeatEvent:
    found = trace.last("status", src, before=before)
    assert found is not None, f"no status from {src} on the wire"
    return found


def current_generation(trace: WireTrace, src: str, timeout: float = 10.0) -> int:
    """``src``'s generation now: the hg of a status it sends from now on (waited for:
    a trace started with the lab may not have heard it yet)."""
    event = trace.wait_for(msg("status", src), timeout, after=time.time())
    assert isinstance(event, HeartbeatEvent) and event.hg is not None, str(event)
    return event.hg


def generation(trace: WireTrace, src: str, after: float | None, before: float | None) -> set[int]:
    """The generations (hg) of ``src``'s status messages in the window."""
    return {e.hg for e in trace.messages("status", src, after=after, before=before) if e.hg}


# -- takeover after a power cut --------------------------------------------------------------------
def assert_takeover_after_power_cut(
    trace: WireTrace, cluster: Cluster, dead: str, taker: str, cut: float, until: float
) -> HeartbeatEvent:
    """What a takeover by mach_down looks like, the same for both implementations
    (measured): ``dead``'s stream stops at the cut, with nothing released after its
    last status; ``taker`` keeps its keepalive, waits out a full deadtime of silence,
    then sends ``stonith node=dead result=n_stnth`` (no STONITH device),
    ``resource rsc_hold=all info=req_our_resources()``, takes the group (gratuitous
    ARP for the VIP from its MAC) and reports ``resource rsc_hold=foreign
    info=mach_down``. Returns ``dead``'s last status (the death instant)."""
    at = where(cluster)
    deadtime, keepalive = cluster.deadtime, cluster.timers["keepalive"]
    death = last_status(trace, dead, before=until)
    assert death.time <= cut, f"{dead}'s status went on after the power cut: {death}"
    after_death = trace.messages(src=dead, after=death, before=until)
    assert [e for e in after_death if e.t in RELEASES] == [], trace.render(after_death)
    assert [e for e in after_death if e.time > cut] == [], trace.render(after_death)
    stonith, mach_down = trace.sequence(
        msg("stonith", taker, node=dead, result="n_stnth"),
        msg("resource", taker, rsc_hold="foreign", info="mach_down"),
        after=death,
        before=until,
    )
    announced = trace.first_gratuitous_arp(at.vip, mac=at.mac(taker), after=death, before=until)
    assert announced is not None, f"no gratuitous ARP for {at.vip} from {taker} after {death}"
    assert trace.first("resource", taker, rsc_hold="all", after=death, before=mach_down)
    # Declared dead only after a full dead interval of silence: the dt the dead node
    # advertised last (deadtime, or deadtime + 2 s in its first 5 s, §4.1). The 3.0.6
    # tick adds up to 250 ms, a busy machine more; nothing may be taken early.
    interval = (death.number("dt") or deadtime * 1000) / 1000
    silence = stonith.time - death.time
    assert interval * 0.95 <= silence <= interval + DETECTION_SLACK, (
        f"{taker} declared {dead} dead {silence:.3f} s after its last status (dt {interval} s)"
    )
    assert announced.time > stonith.time
    assert_cadence(trace, taker, keepalive, death.time, until, f"{taker}:{at.media[0]}")
    return death


# -- the standby protocol (protocol.md §4.5) ------------------------------------------------------
def standby_steps(going: str, other: str, scope: str) -> list[Query]:
    """G asks (info=me), O agrees (info=other), G reports what it keeps with
    info=standby, releases and says done; then O takes and says done."""
    return [
        msg("ask_resources", going, rsc_hold=scope, info="me"),
        msg("ask_resources", other, rsc_hold=scope, info="other"),
        msg("resource", going, info="standby"),
        msg("ask_resources", going, rsc_hold=scope, info="done"),
    ]


def assert_standby_exchange(
    trace: WireTrace,
    cluster: Cluster,
    going: str,
    other: str,
    scope: str,
    after: float,
    timeout: float = 20.0,
) -> list[HeartbeatEvent]:
    """The three-step standby exchange in order, the group's new holder announcing
    the VIP only after the old one said it had released (its ``info=done``), and the
    old holder announcing it no more. Both implementations send exactly these
    steps (measured); returns the matched events."""
    at = where(cluster)
    steps = standby_steps(going, other, scope)
    closing = msg("ask_resources", other, rsc_hold=scope, info="done")
    wait_messages(trace, [*steps, closing], timeout, after)
    found = trace.sequence(*steps, closing, after=after)
    released = found[3]
    # The new owner: whichever node holds the group when the exchange ends.
    taker = other if _gives_away_own(going, scope, cluster) else going
    announced = trace.wait_for(garp(at.vip, mac=at.mac(taker)), timeout, after=found[1])
    assert announced.time > released.time, (
        f"{taker} announced the VIP at {announced.time:.3f} before {going} released it ({released})"
    )
    giver = going if taker == other else other
    late = trace.gratuitous_arps(at.vip, mac=at.mac(giver), after=announced)
    assert late == [], f"{giver} still announced the VIP after {taker} took it: {late}"
    return [e for e in found if isinstance(e, HeartbeatEvent)]


def _gives_away_own(going: str, scope: str, cluster: Cluster) -> bool:
    """Does ``going`` hand the VIP group to the other node? (master owns it)."""
    owner = cluster.lab.topo.vip_owner
    if scope == "all":
        return True
    return (scope == "local") == (going == owner)


def assert_failback(
    trace: WireTrace, cluster: Cluster, owner: str, holder: str, back: float, timeout: float
) -> None:
    """auto_failback on, after ``owner`` came back (its new generation already
    checked): it says ``starting``, ``holder`` answers with a full report holding
    ``all``, then gives ``owner`` its group back through the standby protocol for its
    ``foreign`` groups (protocol.md §4.4), the owner announcing the VIP only after
    the holder's release. Both implementations send exactly this (measured); nice
    mode has no ``ip-request`` (that is legacy mode's failback)."""
    starting, report = trace.sequence(
        msg("starting", owner),
        msg("resource", holder, rsc_hold="all", rtype="full"),
        after=back,
    )
    assert_standby_exchange(trace, cluster, holder, owner, "foreign", starting.time, timeout)
    assert trace.messages("ip-request", after=back) == []
    assert report.time > starting.time


def assert_standby_exchanges_complete(
    trace: WireTrace, cluster: Cluster, after: float, timeout: float = 10.0
) -> None:
    """Every standby request on the wire was agreed to, and both sides said done.

    A request may have just gone out: the real Heartbeat's ipfail asks to give up
    foreign groups ("Ping node count is balanced", auto_failback on) about 5 s after
    its start, whether it holds any or not. So each exchange gets ``timeout`` to end.
    """
    for ask in trace.messages("ask_resources", info="me", after=after):
        going, scope = ask.src or "", ask.get("rsc_hold")
        other = cluster.lab.topo.peer_of(going).name
        agreed = trace.wait_for(
            msg("ask_resources", other, rsc_hold=scope, info="other"), timeout, after=ask
        )
        for side in (going, other):
            trace.wait_for(msg("ask_resources", side, rsc_hold=scope, info="done"), timeout, agreed)


# -- pings and silence --------------------------------------------------------------------------
def crossing(
    trace: WireTrace, cluster: Cluster, iface: str, after: float, before: float
) -> list[str]:
    """Heartbeat packets that crossed ``iface`` between the nodes in the window: any
    packet on a node's tap that the other node sent."""
    found = []
    for node in (h.name for h in cluster.lab.topo.cluster_nodes):
        for event in trace.messages(iface=f"{node}:{iface}", after=after, before=before):
            if event.src != node:
                found.append(str(event))
    return found


def answered_pings(
    trace: WireTrace, pinger_ip: str, after: float, before: float
) -> tuple[list[PingEvent], list[PingEvent]]:
    """(requests, replies) between ``pinger_ip`` and the ping node in the window."""
    requests = trace.pings(pinger_ip, after=after, before=before, reply=False)
    replies = trace.pings(pinger_ip, after=after, before=before, reply=True)
    return requests, replies


def restarted(
    trace: WireTrace, node: str, old_hg: int, timeout: float, after: float
) -> HeartbeatEvent:
    """Wait for ``node`` to come back with a new generation: status ``st=init``,
    seq 1, hg above ``old_hg`` (protocol.md §3.5)."""
    event = trace.wait_for(
        msg("status", node, st="init", where=lambda e: (e.hg or 0) > old_hg),
        timeout,
        after=after,
    )
    assert isinstance(event, HeartbeatEvent)
    assert event.seq == 1, f"{node} came back with seq {event.seq}: {event}"
    return event


# -- retransmission (protocol.md §3.4) -----------------------------------------------------------
@dataclass
class Rexmit:
    """One missing message a node asked for (its first ``NS_rexmit``) and what came of it."""

    request: HeartbeatEvent
    sender: str  # the node asked to send it again
    seq: int
    hg: int | None  # the sender's generation when asked
    earlier: HeartbeatEvent | None = None  # a copy seen on the wire before the request
    resent: HeartbeatEvent | None = None  # the message sent again
    refused: HeartbeatEvent | None = None  # NS_nak_rexmit for it

    def __str__(self) -> str:
        outcome = self.resent or self.refused or "unanswered"
        return f"{self.request.src} asked {self.sender} for seq {self.seq:x}: {outcome}"


def rexmits(trace: WireTrace, after: float, before: float | None = None) -> list[Rexmit]:
    """Each (sender, seq) some node asked to have retransmitted in the window, first
    request only, with the answer: the message itself (same generation and seq) or
    a refusal. ``firstseq`` is decimal in a request, hex in a refusal (§3.2)."""
    found: dict[tuple[str, int], Rexmit] = {}
    for request in trace.messages("NS_rexmit", after=after, before=before):
        sender, first = request.get("dest") or "", request.get("firstseq") or ""
        if not first.isdigit() or (sender, int(first)) in found:
            continue
        seq = int(first)
        current = trace.last(src=sender, before=request, where=lambda e: e.seq is not None)
        hg = current.hg if current is not None else None

        def same(event: HeartbeatEvent, s: int = seq, g: int | None = hg) -> bool:
            return event.seq == s and event.hg == g

        def refusal(event: HeartbeatEvent, s: int = seq) -> bool:
            return _hex(event.get("firstseq")) == s

        found[(sender, seq)] = Rexmit(
            request,
            sender,
            seq,
            hg,
            earlier=trace.first(src=sender, before=request, where=same),
            resent=trace.first(src=sender, after=request, where=same),
            refused=trace.first("NS_nak_rexmit", sender, after=request, where=refusal),
        )
    return list(found.values())


def _hex(text: str | None) -> int | None:
    try:
        return int(text or "", 16)
    except ValueError:
        return None


# -- forgeries (lab/forge.py) -------------------------------------------------------------------
@dataclass(frozen=True)
class Forgery:
    """A forged message and where the trace saw it arrive."""

    forged: Forged
    seen: HeartbeatEvent  # on the target's tap

    @property
    def time(self) -> float:
        return self.seen.time


def forgery_on_the_wire(
    trace: WireTrace,
    forged: Forged,
    victim: str,
    target: str,
    *,
    authentic: bool = True,
    timeout: float = 5.0,
) -> Forgery:
    """The forged message reached the target (its signature verifying with the
    cluster's key, or not when ``authentic`` is False) and the victim never sent it:
    it is not among the victim's outgoing packets."""
    kind = forged.message.get("t")
    stamp = forged.message.get("ts")

    def same(event: HeartbeatEvent) -> bool:
        return (
            event.seq == forged.seq
            and event.hg == forged.hg
            and event.get("ts") == stamp
            and event.t == kind
        )

    media = where_media(trace, target)
    seen = trace.wait_for(msg(kind, victim, media, auth=authentic, where=same), timeout)
    assert isinstance(seen, HeartbeatEvent)
    own = trace.messages(kind, victim, where=same, outgoing=True)
    assert own == [], f"{victim} did send it: {trace.render(own)}"
    return Forgery(forged, seen)


def where_media(trace: WireTrace, node: str) -> list[str]:
    """The labels of ``node``'s heartbeat taps in ``trace``."""
    return [tap.label for tap in trace.taps if tap.heartbeat and tap.label.startswith(f"{node}:")]
