"""The watchers of one scenario run, started before its first step, stopped in a finally.

They are the bench's own (lab.bench.watchers.LogTail, lab.probes.ArpWatch,
HttpProbe, AddrWatch, at the bench's intervals) and the wire trace
(lab.wiretrace.WireTrace), so a scenario's "two holders" or "outage" is the figure
`make bench` would give. Only the watchers a scenario's checks need are started.
Every time handed out is wall-clock seconds (time.time()): log lines are stamped
on the monotonic clock when seen, and converted with one offset taken at start.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lab.backends import Lab
from lab.bench.analysis import ARP_INTERVAL
from lab.bench.runner import HTTP_INTERVAL, HTTP_TIMEOUT
from lab.bench.watchers import LogTail
from lab.hafiles import AUTHKEYS
from lab.hbcodec import AuthkeysError, Keyring, parse_authkeys
from lab.probes import AddrWatch, ArpWatch, HttpProbe
from lab.scenario.model import CheckKind, Expectation, Scenario
from lab.topology import Role
from lab.wiretrace import WireTrace

MAX_SECONDS = 600.0  # the probes' own bound: no run may outlast its watchers
ADDR_INTERVAL = 0.05


@dataclass
class Needs:
    """Which watchers the checks of a run read."""

    arp: bool = False
    addr: bool = False
    http: bool = False
    heartbeat_taps: set[str] = field(default_factory=set)  # node:iface
    arp_taps: set[str] = field(default_factory=set)

    def add(self, exp: Expectation) -> None:
        by_addr = exp.spec.get("by") == "addr"
        if exp.kind in (CheckKind.TWO_HOLDERS, CheckKind.NO_HOLDER):
            self.addr |= by_addr
            self.arp |= not by_addr
        elif exp.kind is CheckKind.OUTAGE:
            self.http = True
        elif exp.kind is CheckKind.PACKET:
            self.heartbeat_taps.add(exp.spec["on"])
        elif exp.kind is CheckKind.GARP:
            self.arp_taps.add(exp.spec["on"])
        elif exp.kind is CheckKind.ORDER:
            for kind, spec in exp.spec["items"]:
                if kind in (CheckKind.PACKET, CheckKind.GARP):
                    self.add(Expectation(CheckKind(kind), spec, exp.line))


def needs_of(expectations: Iterable[Expectation]) -> Needs:
    needs = Needs()
    for exp in expectations:
        needs.add(exp)
    return needs


def every_check(scenario: Scenario) -> list[Expectation]:
    return [e for s in scenario.steps for e in s.expect] + [*scenario.expect, *scenario.check]


def lab_keys(lab: Lab) -> Keyring:
    """The cluster's authkeys as the first node that is on has it (signatures: auth ok/bad)."""
    for host in lab.topo.cluster_nodes:
        if lab.is_on(host.name):
            try:
                return parse_authkeys(lab.node_file(host.name, "/etc/ha.d/authkeys").read_text())
            except (OSError, AuthkeysError):
                break
    return parse_authkeys(AUTHKEYS)


class Recorders:
    def __init__(self, lab: Lab, needs: Needs) -> None:
        self.lab, self.needs = lab, needs
        nodes = [h.name for h in lab.topo.cluster_nodes]
        self.logs = LogTail({n: lab.log_dir(n) for n in nodes})
        self.arp: ArpWatch | None = None
        self.http: HttpProbe | None = None
        self.addr: AddrWatch | None = None
        self.trace: WireTrace | None = None
        self.tap_errors: dict[str, str] = {}  # node:iface → why it is not sniffed
        self.offset = time.time() - time.monotonic()
        self.started = time.time()

    def start(self) -> None:
        """Start what is needed; a pre-existing log is read (and stamped) before returning."""
        self.offset = time.time() - time.monotonic()
        self.started = time.time()
        self.logs.poll(time.monotonic())  # lines already written are stamped now, not later
        self.logs.start()
        vip, client = str(self.lab.topo.vip.ip), self._client()
        if client is not None and self.needs.arp:
            netns, iface, address = client
            self.arp = ArpWatch.on(netns, iface, vip, address, ARP_INTERVAL, MAX_SECONDS)
            self.arp.start()
        if client is not None and self.needs.http:
            self.http = HttpProbe(client[0], vip, HTTP_INTERVAL, HTTP_TIMEOUT, MAX_SECONDS)
            self.http.start()
        if self.needs.addr:
            self.addr = AddrWatch(self.lab.vip_holders, ADDR_INTERVAL, MAX_SECONDS)
            self.addr.start()
        if self.needs.heartbeat_taps or self.needs.arp_taps:
            self._start_trace()

    def _client(self) -> tuple[str, str, str] | None:
        """The client's namespace, its interface on the VIP's segment, and its address."""
        for host in self.lab.topo.hosts:
            iface = host.interface(self.lab.topo.vip_iface)
            if host.role is Role.CLIENT and iface is not None and self.lab.is_on(host.name):
                return self.lab.netns_of(host.name), iface.name, str(iface.address.ip)
        return None

    def _start_trace(self) -> None:
        labels = self.needs.heartbeat_taps | self.needs.arp_taps
        netns: dict[str, str] = {}
        for label in sorted(labels):
            node = label.partition(":")[0]
            if self.lab.is_on(node):
                netns[node] = self.lab.netns_of(node)
            else:
                self.tap_errors[label] = f"{node} was powered off when the sniffing began"
        live = {label for label in labels if label not in self.tap_errors}
        self.trace = WireTrace.on_nodes(
            netns,
            lab_keys(self.lab),
            heartbeat=sorted(live & self.needs.heartbeat_taps),
            arp=sorted(live & self.needs.arp_taps),
            max_seconds=MAX_SECONDS,
        )
        self.trace.start()

    def stop(self) -> None:
        for watcher in (self.arp, self.http, self.addr, self.trace):
            if watcher is not None:
                watcher.stop()
        self.logs.stop()

    @property
    def seconds(self) -> float:
        """How long the watchers have run."""
        return time.time() - self.started

    # -- what they saw, on the wall clock --------------------------------------------------------
    def log_lines(self, node: str) -> list[tuple[float, str]]:
        return [(t + self.offset, line) for t, n, line in list(self.logs.lines) if n == node]

    def events(self, node: str) -> list[dict[str, Any]]:
        return [e for e in list(self.logs.events) if e.get("source") == node]

    def arp_samples(self, start: float, end: float) -> list[tuple[float, frozenset[str]]]:
        if self.arp is None:
            return []
        samples = [(s.sent_at + self.offset, s.macs) for s in list(self.arp.samples)]
        return [(t, macs) for t, macs in samples if start <= t <= end]

    def addr_samples(self, start: float, end: float) -> list[tuple[float, frozenset[str]]]:
        if self.addr is None:
            return []
        samples = [(t + self.offset, nodes) for t, nodes in list(self.addr.samples)]
        return [(t, nodes) for t, nodes in samples if start <= t <= end]

    def http_samples(self, start: float, end: float) -> list[tuple[float, bool, str | None]]:
        if self.http is None:
            return []
        samples = [(s.sent_at + self.offset, s.ok, s.server) for s in list(self.http.samples)]
        return [(t, ok, server) for t, ok, server in samples if start <= t <= end]

    def page_back(self) -> bool:
        """The client's last probe got a page (the outage, if any, is over)."""
        return self.http is not None and bool(self.http.samples) and self.http.samples[-1].ok
