"""One scenario run in a fresh lab: bring it up, break it, watch, tear it down.

The watchers start before the fault (a pre-roll), every wait has a deadline, and
the lab is always taken down in ``finally``, whatever happened.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hbnode.core.timers import STARTUP_DT_PERIOD
from lab.backends import Lab, make_lab
from lab.bench.analysis import ARP_INTERVAL, metrics_of
from lab.bench.metrics import Metric
from lab.bench.model import RunResult
from lab.bench.scenarios import MIN_WINDOW_EXTRA, STABLE_EXTRA, Scenario, ScenarioName
from lab.bench.trace import Trace
from lab.bench.watchers import Capture, LogTail, NeighPoll, read_packets
from lab.errors import LabError
from lab.impls import Impl, parse_impls
from lab.probes import ArpWatch, HttpProbe
from lab.topology import REFERENCE

MASTER, SLAVE = "master", "slave"
STARTUP_TIMEOUT = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK")  # /proc/<pid>/stat's unit
DT_MARGIN = 0.25  # beyond the start-up window: the status with the plain dt is out
PRE_ROLL = 1.0  # seconds watched before the fault, so the picture shows the steady state
TAIL = 2.0  # seconds watched after the end state, to catch a flap
RECOVERY_TIMEOUT = 20.0  # end state reached → the client's page must be back within this
HTTP_INTERVAL = 0.02  # the 20 ms probe
HTTP_TIMEOUT = 0.1  # a probe that waits longer would hide the outage's end


class BenchError(RuntimeError):
    pass


def wait(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``predicate`` every 50 ms; the seconds it took, or BenchError at the deadline."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise BenchError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def wait_stable(predicate: Callable[[], bool], hold: float, timeout: float, what: str) -> float:
    """Poll until ``predicate`` has been true for ``hold`` seconds without a break."""
    started = time.monotonic()
    since: float | None = None
    while True:
        now = time.monotonic()
        if predicate():
            since = now if since is None else since
            if now - since >= hold:
                return since - started
        else:
            since = None
        if now - started > timeout:
            raise BenchError(f"not within {timeout:.0f} s: {what} (held for {hold:.1f} s)")
        time.sleep(0.05)


def impls_of(spec: str) -> dict[str, Impl]:
    """`heartbeat`, `hbnode` or a mixed `master=heartbeat,slave=hbnode`."""
    return parse_impls(spec, [h.name for h in REFERENCE.cluster_nodes])


def ensure_no_lab(backend: str | None = None) -> None:
    """A bench brings labs up and down: it must not take someone's running lab down."""
    if make_lab(backend).is_up:
        raise LabError(
            "a lab is up with this HBLAB_PREFIX/HBLAB_STATE_DIR: the bench needs its own "
            "(hblab down first, or run with HBLAB_PREFIX=hbb HBLAB_STATE_DIR=/var/lib/hbbench)"
        )


class StartupError(BenchError):
    """The cluster never reached its steady state: the implementation does not start."""


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def start_cluster(
    lab: Lab,
    impl_spec: str,
    profile: str,
    overrides: dict[str, str],
    fencing: bool = False,
    daemons: bool = True,
) -> None:
    """Bring the lab up and wait until master holds the VIP (the tutorial's start);
    ``daemons=False``: boot the nodes only (the start-up scenario starts them)."""
    try:
        lab.up(impls_of(impl_spec), profile, overrides, None, daemons, fencing=fencing)
    except Exception as exc:
        # e.g. `service heartbeat start` failed: keep its last line, the actual error.
        lines = str(exc).strip().splitlines()
        raise StartupError(f"at startup: {lines[-1] if lines else type(exc).__name__}") from exc
    if not daemons:
        return
    try:
        wait(holders_are(lab, MASTER), STARTUP_TIMEOUT, "master takes the VIP")
        # The VIP alone is not the steady state: a node may take its resources before
        # it has heard its peer. Both must have logged the other as active.
        for node, peer in ((MASTER, SLAVE), (SLAVE, MASTER)):
            wait(sees_active(lab, node, peer), STARTUP_TIMEOUT, f"{node} sees {peer} active")
        # Nor is a daemon's first 5 s: it advertises dt = deadtime + 2 s (Heartbeat's
        # rule, hbnode's too), so its peer would declare it dead 2 s late. hbnode holds
        # the VIP within a second of its start, Heartbeat after 11 s: without this wait
        # only hbnode's failovers would be measured inside that window.
        wait(past_start_window(lab), STARTUP_TIMEOUT, "both daemons past their first 5 s")
    except BenchError as exc:
        raise StartupError(f"at startup: {exc}") from None


def past_start_window(lab: Lab) -> Callable[[], bool]:
    """Both daemons have run longer than the start-up dt window, plus a keepalive for
    the status that advertises the plain deadtime."""
    window = STARTUP_DT_PERIOD + lab.timers().keepalive + DT_MARGIN

    def past() -> bool:
        ages = [daemon_age(lab.daemon_pid(node)) for node in (MASTER, SLAVE)]
        return all(age is not None and age >= window for age in ages)

    return past


def daemon_age(pid: int | None) -> float | None:
    """Seconds since process ``pid`` started (/proc), or None if it is gone."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return None
    started_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime
    return uptime - started_ticks / CLK_TCK


def fresh_lab(backend: str | None = None) -> Lab:
    lab = make_lab(backend)
    if lab.is_up:
        lab.down()  # a killed bench left its lab: remove what it recorded
        lab = make_lab(backend)
    return lab


def _host_addr(name: str, segment: str) -> str:
    host = REFERENCE.host(name)
    addr = host.address_on(segment) if host else None
    if addr is None:
        raise BenchError(f"the topology has no {name} on {segment}")
    return str(addr.ip)


def page(lab: Lab) -> str | None:
    """The node named by http://VIP/ as the client sees it now, or None."""
    probe = HttpProbe(lab.netns_of("client"), str(REFERENCE.vip.ip), timeout=1.0)
    probe.probe_once(time.monotonic())
    sample = probe.samples[-1]
    return sample.server if sample.ok else None


def holders_are(lab: Lab, *nodes: str) -> Callable[[], bool]:
    return lambda: sorted(lab.vip_holders()) == sorted(nodes)


def sees_active(lab: Lab, node: str, peer: str) -> Callable[[], bool]:
    """``node``'s ha-log says its peer is active (Heartbeat and hbnode log the same line)."""
    log = lab.log_dir(node) / "ha-log"
    needle = f"Status update for node {peer}: status active"

    def check() -> bool:
        try:
            return needle in log.read_text(errors="replace")
        except OSError:
            return False

    return check


def serves(lab: Lab, node: str) -> Callable[[], bool]:
    return lambda: page(lab) == node


@dataclass
class Watchers:
    """Everything recorded during a run; start() before the fault, stop() in finally."""

    lab: Lab
    pcap: Path

    def __post_init__(self) -> None:
        vip, client = str(REFERENCE.vip.ip), self.lab.netns_of("client")
        self.logs = LogTail({n: self.lab.log_dir(n) for n in (MASTER, SLAVE)})
        self.http = HttpProbe(client, vip, HTTP_INTERVAL, HTTP_TIMEOUT)
        self.arp = ArpWatch.on(client, "eth0", vip, _host_addr("client", "eth0"), ARP_INTERVAL)
        self.neigh = NeighPoll(client, vip)
        self.capture = Capture(self.lab, SLAVE, "eth1", self.pcap, "udp port 694 or icmp")

    def start(self) -> None:
        self.logs.start()
        self.capture.start()
        self.http.start()
        self.arp.start()
        self.neigh.start()

    def stop(self) -> None:
        for watcher in (self.http, self.arp, self.neigh, self.logs):
            watcher.stop()
        self.capture.stop()


def _prepare(lab: Lab, scenario: Scenario, deadtime: float, run: int) -> None:
    """Bring the cluster into the state the fault starts from."""
    if scenario.name is ScenarioName.FAILBACK:
        lab.poweroff(MASTER)
        wait(holders_are(lab, SLAVE), deadtime + 30, "slave takes over before the failback")
        wait(serves(lab, SLAVE), 10, "the client gets slave's page before the failback")
    elif scenario.name is ScenarioName.HEAL:
        lab.link(MASTER, "eth1", up=False)
        wait(holders_are(lab, MASTER, SLAVE), deadtime + 30, "a split brain before the heal")
    elif scenario.name is ScenarioName.HEAL_PING:
        lab.link(MASTER, "eth1", up=False)
        # The cable stays out this long (the fault's length, not a wait for anything).
        time.sleep(scenario.cut_seconds[(run - 1) % len(scenario.cut_seconds)])


def _fault(lab: Lab, scenario: Scenario) -> None:
    name = scenario.name
    if name is ScenarioName.START:
        lab.service_at_once([MASTER, SLAVE], "heartbeat", "start")
    elif name in (ScenarioName.POWEROFF, ScenarioName.FENCE_POWEROFF):
        lab.poweroff(MASTER)
    elif name in (ScenarioName.CRASH, ScenarioName.FENCE_CRASH):
        lab.crash(MASTER)
    elif name is ScenarioName.FENCE_CUT:
        lab.link(MASTER, "eth1", up=False)
        lab.link(SLAVE, "eth1", up=False)
    elif name is ScenarioName.STOP:
        lab.service(MASTER, "heartbeat", "stop")
    elif name is ScenarioName.FAILBACK:
        lab.poweron(MASTER)
    elif name in (ScenarioName.CUT_PING, ScenarioName.CUT_NOPING):
        lab.link(MASTER, "eth1", up=False)
    elif name in (ScenarioName.HEAL, ScenarioName.HEAL_PING):
        lab.link(MASTER, "eth1", up=True)


REPLUG = "link master eth1 up; link slave eth1 up"
FENCE_TIMEOUT = 90.0  # cut → a node fenced and booted again (reset, then boot)


def _replug_after_fence(lab: Lab, since_wall: float) -> None:
    """fence-cut: a reset reboots the node but plugs no cable back. Once a BMC has
    powered a node off and the node has booted again, the operator plugs both cables
    back, as tests/integration/test_fencing.py does (without it, two real Heartbeats
    reset each other at every boot: a STONITH deathmatch)."""
    from lab.bmc import launch

    def fenced_and_back() -> bool:
        events = [e for e in launch.events(lab) if e.get("t", 0.0) >= since_wall]
        offs = [e for e in events if e.get("event") == "power_off"]
        return bool(offs) and any(
            e.get("event") == "booted" and e.get("node") == offs[0].get("node")
            for e in events[events.index(offs[0]) :]
        )

    wait(fenced_and_back, FENCE_TIMEOUT, "a node fenced and booted again")
    for node in (MASTER, SLAVE):
        try:
            lab.replug(node, "eth1", FENCE_TIMEOUT)
        except LabError as exc:
            raise BenchError(str(exc)) from exc


def _settled(lab: Lab, scenario: Scenario) -> Callable[[], bool]:
    """The end state: who holds the VIP once the scenario is over."""
    name = scenario.name
    if (
        name
        in (
            ScenarioName.START,
            ScenarioName.POWEROFF,
            ScenarioName.STOP,
            ScenarioName.FAILBACK,
            ScenarioName.HEAL,
            ScenarioName.HEAL_PING,
        )
        or scenario.fencing
    ):
        # The holder the configuration calls for, alone (auto_failback on: the owner).
        return holders_are(lab, scenario.expected_holder)
    # kill -9 leaves the VIP on master; a cut may leave it there too (split brain).
    return lambda: scenario.expected_holder in lab.vip_holders()


def run_once(
    impl_spec: str,
    scenario: Scenario,
    run: int,
    profile: str,
    overrides: dict[str, str],
    backend: str | None = None,
) -> tuple[RunResult, Trace | None]:
    """One run; a run that misses its end state is returned with ``error`` set."""
    started = time.monotonic()
    result = RunResult(impl_spec, scenario.name.value, run)
    lab = fresh_lab(backend)
    trace: Trace | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="hblab-bench-") as tmp:
            overrides = {**scenario.overrides, **overrides}
            starts = scenario.name is not ScenarioName.START
            start_cluster(lab, impl_spec, profile, overrides, scenario.fencing, starts)
            deadtime = lab.timers().deadtime  # the nodes' own ha.cf: --set deadtime= counts
            if starts:
                wait(serves(lab, MASTER), 10, "the client gets master's page at startup")
            _prepare(lab, scenario, deadtime, run)
            watchers = Watchers(lab, Path(tmp) / "eth1.pcap")
            try:
                trace, clocks = _observe(lab, watchers, scenario, impl_spec, run, deadtime, result)
            finally:
                watchers.stop()
            _finish_trace(trace, watchers, clocks)
            result.metrics = metrics_of(trace)
            if not scenario.detects:
                for metric in (Metric.DETECTION, Metric.DETECTION_EVENTS):
                    result.metrics[metric.value] = None
    except (BenchError, StartupError) as exc:
        result.error = str(exc)
    except Exception as exc:  # one broken run must not end a half-hour bench
        result.error = f"{type(exc).__name__}: {_first_line(exc)}"
    finally:
        lab.down()
        result.seconds = round(time.monotonic() - started, 2)
    return result, trace


def _observe(
    lab: Lab,
    watchers: Watchers,
    scenario: Scenario,
    impl_spec: str,
    run: int,
    deadtime: float,
    result: RunResult,
) -> tuple[Trace, tuple[float, float]]:
    """Watch the fault; the trace (times not yet relative) and t0 on both clocks."""
    watchers.start()
    time.sleep(PRE_ROLL)  # the steady state before the fault, for the picture
    t0_mono, t0_wall = time.monotonic(), time.time()
    trace = Trace(
        impl_spec,
        scenario.name.value,
        run,
        scenario.fault,
        SLAVE,
        MASTER,
        scenario.expected_holder,
        deadtime,
        {i.mac: h.name for h in REFERENCE.cluster_nodes for i in h.interfaces if i.name == "eth0"},
        start=-PRE_ROLL,
    )
    trace.actions.append((0.0, scenario.fault))
    _fault(lab, scenario)
    if scenario.name is ScenarioName.FENCE_CUT:
        try:
            _replug_after_fence(lab, t0_wall)
            trace.actions.append((time.monotonic() - t0_mono, REPLUG))
        except BenchError as exc:
            result.error = str(exc)
    try:
        _wait_end_state(lab, scenario, watchers, deadtime)
    except BenchError as exc:
        result.error = str(exc)
    until = max(
        time.monotonic() + TAIL,
        t0_mono + scenario.min_window_deadtimes * deadtime + MIN_WINDOW_EXTRA,
    )
    time.sleep(max(0.0, until - time.monotonic()))
    trace.end = time.monotonic() - t0_mono
    result.notes["holders_at_end"] = lab.vip_holders()
    return trace, (t0_mono, t0_wall)


def _wait_end_state(lab: Lab, scenario: Scenario, watchers: Watchers, deadtime: float) -> None:
    """The end state (held long enough where it must be stable), then the page is back."""

    def page_back() -> bool:
        return bool(watchers.http.samples) and watchers.http.samples[-1].ok

    settled = _settled(lab, scenario)
    what = f"end state of {scenario.name}"
    if scenario.stable_deadtimes:
        hold = scenario.stable_deadtimes * deadtime + STABLE_EXTRA
        wait_stable(lambda: settled() and page_back(), hold, scenario.settle_timeout, what)
    else:
        wait(settled, scenario.settle_timeout, what)
    wait(page_back, RECOVERY_TIMEOUT, "the client gets the page through the VIP again")


def _finish_trace(trace: Trace, watchers: Watchers, clocks: tuple[float, float]) -> None:
    """Every sample relative to the fault (monotonic or wall clock, see lab.bench.trace)."""
    t0_mono, t0_wall = clocks
    trace.http = [(s.sent_at - t0_mono, s.ok, s.server) for s in watchers.http.samples]
    trace.arp = [(s.sent_at - t0_mono, sorted(s.macs)) for s in watchers.arp.samples]
    trace.neigh = [(t - t0_mono, mac) for t, mac in watchers.neigh.samples]
    trace.log_lines = [(t - t0_mono, node, line) for t, node, line in watchers.logs.lines]
    trace.events = [{**e, "t": round(float(e["ts"]) - t0_wall, 3)} for e in watchers.logs.events]
    names = {str(i.address.ip): h.name for h in REFERENCE.hosts for i in h.interfaces}
    trace.packets = [
        (t - t0_wall, sender, link) for t, sender, link in read_packets(watchers.pcap, names)
    ]
