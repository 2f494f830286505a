"""One soak cycle: power off the VIP holder, wait for the takeover, power it on, wait
until the cluster has converged again, and measure what the client saw meanwhile.

The client's probes are the bench's (an HTTP GET every 20 ms, an ARP who-has every
20 ms), started before the poweroff and stopped when the cycle ends; every wait
polls with a deadline (lab.bench.runner.wait).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.backends import Lab
from lab.bench.analysis import ARP_INTERVAL
from lab.bench.runner import HTTP_INTERVAL, HTTP_TIMEOUT, BenchError, holders_are, wait
from lab.probes import ArpWatch, HttpProbe, windows_of
from lab.soak.growth import DaemonSample
from lab.soak.leaks import fd_kinds, status_field
from lab.soak.stats import failure_runs
from lab.topology import REFERENCE

TAKEOVER_TIMEOUT = 30.0  # poweroff → the survivor alone holds the VIP
CONVERGE_TIMEOUT = 90.0  # poweron → back to the steady state (Heartbeat may wait RQSTDELAY)
ONE_HOLDER_TIMEOUT = 10.0  # at a cycle's start: the previous one may still be settling
PROBE_SECONDS = TAKEOVER_TIMEOUT + CONVERGE_TIMEOUT + 30.0
# A node advertises deadtime + 2 s for its first 5 s (protocol.md §4.1), so a poweroff
# sooner than that would measure the start-up grace, not the failover. The cycle keeps
# watching until then: the converged state must also hold that long.
STEADY_AFTER_POWERON = 5.5


@dataclass
class CycleResult:
    cycle: int
    victim: str = ""  # the node powered off (the VIP holder)
    takeover_s: float | None = None  # poweroff → the other node alone holds the VIP
    converge_s: float | None = None  # poweron → converged
    outage_s: float | None = None  # longest run of failed HTTP probes
    outage_total_s: float | None = None  # all failed runs of the cycle together
    outages: int = 0  # how many separate runs of failed probes
    two_holders_s: float | None = None  # two MACs answered ARP for the VIP
    no_holder_s: float | None = None  # no MAC answered
    one_holder: bool = False  # ended with exactly one holder, the expected one, on the wire too
    holders_at_end: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    daemons: dict[str, dict[str, Any]] = field(default_factory=dict)  # node → DaemonSample

    @property
    def ok(self) -> bool:
        return self.error is None and self.one_holder

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def log_size(lab: Lab, node: str) -> int:
    try:
        return (lab.log_dir(node) / "ha-log").stat().st_size
    except OSError:
        return 0


def sees_active_since(lab: Lab, node: str, peer: str, offset: int) -> Callable[[], bool]:
    """``node``'s ha-log, from ``offset`` on, says ``peer`` is active (both implementations
    log this line), i.e. they have found each other again after the poweron."""
    needle = f"Status update for node {peer}: status active".encode()
    path = lab.log_dir(node) / "ha-log"

    def check() -> bool:
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                return needle in handle.read()
        except OSError:
            return False

    return check


def _macs() -> dict[str, str]:
    return {
        h.name: i.mac for h in REFERENCE.cluster_nodes for i in h.interfaces if i.name == "eth0"
    }


class Probes:
    """The client's HTTP and ARP probes for one cycle."""

    def __init__(self, lab: Lab) -> None:
        client = lab.netns_of("client")
        vip = str(REFERENCE.vip.ip)
        client_host = REFERENCE.host("client")
        address = client_host.address_on("eth0") if client_host else None
        if address is None:
            raise BenchError("the topology has no client on eth0")
        self.http = HttpProbe(client, vip, HTTP_INTERVAL, HTTP_TIMEOUT, PROBE_SECONDS)
        self.arp = ArpWatch.on(client, "eth0", vip, str(address.ip), ARP_INTERVAL, PROBE_SECONDS)

    def start(self) -> None:
        self.http.start()
        self.arp.start()

    def stop(self) -> None:
        self.http.stop()
        self.arp.stop()

    def serves(self, node: str) -> bool:
        """The newest HTTP probe got ``node``'s page."""
        samples = self.http.samples
        return bool(samples) and samples[-1].ok and samples[-1].server == node

    def fresh_arp(self, after: float, timeout: float = 2.0) -> frozenset[str] | None:
        """The MACs of the first ARP sample sent after ``after`` (waited for, bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            newer = [s for s in self.arp.samples if s.sent_at > after]
            if newer:
                return newer[0].macs
            time.sleep(ARP_INTERVAL)
        return None


def run_cycle(lab: Lab, number: int, expected_owner: str | None) -> CycleResult:
    """One cycle; ``expected_owner`` holds at the end (auto_failback on), or with None
    the node that took over keeps the VIP. Failures are returned in ``error``."""
    began = time.monotonic()
    result = CycleResult(number)
    _power_on_all(lab)
    try:
        wait(lambda: len(lab.vip_holders()) == 1, ONE_HOLDER_TIMEOUT, "one holder at the start")
    except BenchError as exc:
        result.error, result.holders_at_end = str(exc), lab.vip_holders()
        return result
    victim = lab.vip_holders()[0]
    survivor = REFERENCE.peer_of(victim).name
    expected = expected_owner or survivor
    result.victim = victim
    probes = Probes(lab)
    probes.start()
    try:
        _power_cycle(lab, probes, result, victim, survivor, expected)
    except BenchError as exc:
        result.error = str(exc)
    except Exception as exc:  # e.g. a boot that failed: recorded, the soak goes on
        lines = str(exc).strip().splitlines()
        result.error = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
    finally:
        probes.stop()
        result.seconds = round(time.monotonic() - began, 3)
    _figures(result, probes, time.monotonic())
    result.holders_at_end = lab.vip_holders()
    result.daemons = {
        host.name: sample.to_json()
        for host in REFERENCE.cluster_nodes
        if (sample := daemon_sample(lab, host.name)) is not None
    }
    return result


def daemon_sample(lab: Lab, node: str) -> DaemonSample | None:
    """The node's heartbeat daemon (the main process): PID, RSS, fds, threads."""
    pid = lab.daemon_pid(node) if lab.is_on(node) else None
    if pid is None:
        return None
    fds = sum(fd_kinds(pid).values())
    return DaemonSample(pid, status_field(pid, "VmRSS"), fds, status_field(pid, "Threads"))


def _power_on_all(lab: Lab) -> None:
    """A failed cycle may have left its victim off: the next one starts with both on."""
    for host in REFERENCE.cluster_nodes:
        if not lab.is_on(host.name):
            lab.poweron(host.name)


def _power_cycle(
    lab: Lab, probes: Probes, result: CycleResult, victim: str, survivor: str, expected: str
) -> None:
    t0 = time.monotonic()
    lab.poweroff(victim)
    wait(holders_are(lab, survivor), TAKEOVER_TIMEOUT, f"{survivor} alone holds the VIP")
    result.takeover_s = round(time.monotonic() - t0, 3)
    offsets = {n: log_size(lab, n) for n in (victim, survivor)}
    t1 = time.monotonic()
    lab.poweron(victim)
    seen = [
        sees_active_since(lab, victim, survivor, offsets[victim]),
        sees_active_since(lab, survivor, victim, offsets[survivor]),
    ]
    held = holders_are(lab, expected)

    def converged() -> bool:
        return held() and probes.serves(expected) and all(check() for check in seen)

    wait(converged, CONVERGE_TIMEOUT, f"converged: {expected} holds and serves, both see active")
    result.converge_s = round(time.monotonic() - t1, 3)
    _holds_until(lambda: held() and probes.serves(expected), t1 + STEADY_AFTER_POWERON)
    # On the wire too: the next ARP request is answered by the expected holder alone.
    macs = probes.fresh_arp(time.monotonic())
    result.one_holder = macs == frozenset({_macs()[expected]}) and lab.vip_holders() == [expected]
    if not result.one_holder:
        result.error = f"not exactly one holder at the end: ARP {sorted(macs or [])}"


def _holds_until(predicate: Callable[[], bool], until: float) -> None:
    """Poll ``predicate`` until the monotonic time ``until``; BenchError if it breaks."""
    while time.monotonic() < until:
        if not predicate():
            raise BenchError("the converged state did not hold (flap after poweron)")
        time.sleep(0.05)


def _figures(result: CycleResult, probes: Probes, end: float) -> None:
    http = [(s.sent_at, s.ok) for s in probes.http.samples]
    if http:
        runs = failure_runs(http, end)
        result.outages = len(runs)
        result.outage_s = round(max(runs, default=0.0), 3)
        result.outage_total_s = round(sum(runs), 3)
    arp = [(s.sent_at, s.macs) for s in probes.arp.samples]
    if arp:
        windows = windows_of(arp, ARP_INTERVAL)
        result.two_holders_s = round(windows.two_holders, 3)
        result.no_holder_s = round(windows.no_holder, 3)


def cycle_line(result: CycleResult) -> str:
    """The figures of one cycle for the progress line."""
    if result.error:
        return f"FAILED: {result.error}"
    return (
        f"poweroff {result.victim}: outage {result.outage_s:.2f} s "
        f"(total {result.outage_total_s:.2f} s), two holders {result.two_holders_s:.3f} s, "
        f"takeover {result.takeover_s:.2f} s, converged {result.converge_s:.2f} s"
    )
