"""The figures a bench reports, with their labels and units (one place for both)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Metric(enum.StrEnum):
    OUTAGE = "outage_s"  # longest run of failed HTTP probes through the VIP
    ARP_SWITCH = "arp_switch_s"  # fault → client's ARP entry names the new holder's MAC
    TWO_HOLDERS = "two_holders_s"  # total time two MACs answered ARP for the VIP
    NO_HOLDER = "no_holder_s"  # total time no MAC answered ARP for the VIP
    DETECTION = "detection_s"  # last packet heard from the peer → "is dead" in the log
    DETECTION_EVENTS = "detection_events_s"  # the same from hbnode's own event log (ms)
    SERVES = "serves_s"  # start: both daemons started → the owner's page through the VIP
    CPU = "cpu_pct"  # idle daemon CPU, % of one core
    PSS = "pss_kib"  # idle daemon memory, proportional set size
    PROCESSES = "processes"  # idle daemon: its processes (respawned clients included)


@dataclass(frozen=True, slots=True)
class MetricInfo:
    label: str
    unit: str  # "s", "%", "MiB": how the table shows it
    scale: float = 1.0  # stored value x scale = shown value


INFO: dict[Metric, MetricInfo] = {
    Metric.OUTAGE: MetricInfo("HTTP outage", "s"),
    Metric.ARP_SWITCH: MetricInfo("client ARP → new holder", "s"),
    Metric.TWO_HOLDERS: MetricInfo("two holders", "s"),
    Metric.NO_HOLDER: MetricInfo("no holder", "s"),
    Metric.DETECTION: MetricInfo("detection (capture → log)", "s"),
    Metric.DETECTION_EVENTS: MetricInfo("detection (event log)", "s"),
    Metric.SERVES: MetricInfo("start → the page through the VIP", "s"),
    Metric.CPU: MetricInfo("idle CPU per daemon", "%"),
    Metric.PSS: MetricInfo("idle PSS per daemon", "MiB", 1 / 1024),
    Metric.PROCESSES: MetricInfo("idle daemon processes", "count"),
}

FAILOVER_METRICS = (
    Metric.OUTAGE,
    Metric.ARP_SWITCH,
    Metric.TWO_HOLDERS,
    Metric.NO_HOLDER,
    Metric.DETECTION,
    Metric.DETECTION_EVENTS,
    Metric.SERVES,
)
IDLE_METRICS = (Metric.CPU, Metric.PSS, Metric.PROCESSES)
