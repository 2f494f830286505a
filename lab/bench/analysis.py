"""The figures of one run, computed from its trace (pure: unit-tested on made-up traces)."""

from __future__ import annotations

from lab.bench.metrics import Metric
from lab.bench.trace import Trace
from lab.probes import windows_of

ARP_INTERVAL = 0.02  # the ArpWatch interval the runner uses (the last sample's width)
HB_LINK = "eth1"  # the heartbeat medium (ucast eth1); ICMP on it is labelled "eth1 icmp"


def outage(http: list[tuple[float, bool, str | None]], end: float) -> float:
    """Longest run of failed probes at t >= 0: first failure → next success.

    A run still failing when the observation ends counts up to ``end``.
    """
    longest, started = 0.0, None
    for t, ok, _server in http:
        if t < 0:
            continue
        if not ok and started is None:
            started = t
        elif ok and started is not None:
            longest, started = max(longest, t - started), None
    if started is not None:
        longest = max(longest, end - started)
    return longest


def arp_switch(trace: Trace) -> float | None:
    """When the client's ARP entry for the VIP first names the expected holder's MAC."""
    wanted = {mac for mac, node in trace.macs.items() if node == trace.expected_holder}
    return next((t for t, mac in trace.neigh if t >= 0 and mac in wanted), None)


def dead_declared_at(trace: Trace) -> float | None:
    """When the observer's log first said ``node PEER: is dead`` (seen by polling)."""
    needle = f"node {trace.peer}: is dead"
    for t, node, line in trace.log_lines:
        if t >= 0 and node == trace.observer and needle in line:
            return t
    return None


def detection(trace: Trace) -> float | None:
    """Last heartbeat packet from the peer on the observer's eth1 → declared dead.

    Only UDP 694 counts: a dying node's kernel may still answer with ICMP errors.
    """
    dead = dead_declared_at(trace)
    if dead is None:
        return None
    heard = [
        t
        for t, sender, link in trace.packets
        if sender == trace.peer and link == HB_LINK and t <= dead
    ]
    return dead - max(heard) if heard else None


def detection_from_events(trace: Trace) -> float | None:
    """hbnode's own account: peer_dead.ts − the last_heartbeat_heard before it.

    hbnode writes ``last_heartbeat_heard`` with ``ts`` = when it last heard the peer
    (usually before the fault, so t < 0), immediately followed by ``peer_dead``.
    """
    heard: float | None = None
    for event in trace.events:
        if event.get("node") != trace.peer or event.get("source") != trace.observer:
            continue
        if event.get("step") == "last_heartbeat_heard":
            heard = float(event["t"])
        elif event.get("step") == "peer_dead" and float(event["t"]) >= 0:
            return float(event["t"]) - heard if heard is not None else None
    return None


def metrics_of(trace: Trace) -> dict[str, float | None]:
    after = [(t, frozenset(macs)) for t, macs in trace.arp if t >= 0]
    windows = windows_of(after, ARP_INTERVAL)
    return {
        Metric.OUTAGE.value: outage(trace.http, trace.end),
        Metric.ARP_SWITCH.value: arp_switch(trace),
        Metric.TWO_HOLDERS.value: windows.two_holders,
        Metric.NO_HOLDER.value: windows.no_holder,
        Metric.DETECTION.value: detection(trace),
        Metric.DETECTION_EVENTS.value: detection_from_events(trace),
        Metric.SERVES.value: first_served(trace),
    }


def first_served(trace: Trace) -> float | None:
    """Start-up: seconds from the fault (both daemons started) to the first page the
    expected holder serves through the VIP. None for other scenarios (the page was
    served before the fault) or if it never came."""
    if not trace.fault.startswith("start"):
        return None
    served = [
        t for t, ok, server in trace.http if t >= 0 and ok and server == trace.expected_holder
    ]
    return round(served[0], 3) if served else None
