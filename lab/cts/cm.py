"""CTS's ClusterManager (cts/CTS.py, cts/CM_hb.py) on the lab's nodes.

It keeps, as CTS does, the status every node *should* have (``should_be``), and
does what CM_hb's commands did over ssh with the lab's own means:

* StartCmd/StopCmd (``heartbeat``, ``heartbeat -k``): ``service heartbeat
  start|stop`` in the node; the stop blocks until the daemon is gone, as ``-k``.
* StatusCmd (``heartbeat -s``, "stopped" in its output): ``service heartbeat
  status``, "stopped" in its output; a powered-off node is stopped.
* ``rsh.noBlock`` (StartaCMnoBlock, StopaCMnoBlock): the same command on a
  thread, joined before the test ends.
* BreakCommCmd/FixCommCmd (OnlyForTesting: 100 % send and receive loss inside
  the daemon, ping nodes included): the node's eth1 cable pulled and plugged
  back. Its peer and its ping node (gw, on eth1) go silent; the service LAN stays.
* the STONITH device's reset, after which the machine reboots and starts
  heartbeat: ``poweroff``, then ``poweron`` (boot, ``service heartbeat start``).
* ``killall -9 heartbeat`` (DetectionTime): SIGKILL to the daemon's process tree.
* Standby (``hb_standby``): the node's own hb_standby (hbnode's on hbnode nodes,
  /usr/share/heartbeat's on Heartbeat nodes).
* ``cluster_stable()``, a ``sleep(StableTime)`` in CTS: poll until the VIP's
  holders, the daemons' PIDs and the logs have not changed for StableTime
  (bounded): the state that lasts, never a blind sleep.
"""

from __future__ import annotations

import enum
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lab.backends import Lab
from lab.cts.logwatch import LogWatcher
from lab.cts.patterns import THEY_STARTED, WE_STARTED, Timing
from lab.cts.resources import first_owner
from lab.errors import LabError
from lab.labcore import SERVICE_TIMEOUT

STABLE_POLL = 0.1
STABLE_BOUND = 60.0  # cluster_stable gives up (and says so) after StableTime + this


class Status(enum.StrEnum):
    UP = "up"
    DOWN = "down"
    ANY = "any"  # CTS: between the start command and its answer


class LabCM:
    """The heartbeat cluster manager, as CTS drives it, on a lab."""

    name = "heartbeat"

    def __init__(self, lab: Lab, timing: Timing, say: Callable[[str], None]) -> None:
        self.lab = lab
        self.timing = timing
        self.say = say
        self.nodes = [h.name for h in lab.topo.cluster_nodes]  # ha.cf's node lines
        self.should_be: dict[str, Status] = dict.fromkeys(self.nodes, Status.DOWN)
        self.logs = {n: lab.log_dir(n) / "ha-log" for n in self.nodes}
        self.warnings: list[str] = []
        self._threads: list[threading.Thread] = []
        self.impls = {n: lab.record(n).impl or "" for n in self.nodes}
        # CTS reads haresources where it runs; the lab's nodes share one.
        self.haresources = lab.node_file(self.nodes[0], "/etc/ha.d/haresources").read_text()
        self.owner = first_owner(self.haresources) or self.nodes[0]

    # -- what CTS's log() did -----------------------------------------------------------
    def log(self, text: str) -> None:
        self.say(text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self.say(text)

    def watcher(self, regexes: list[str], timeout: float) -> LogWatcher:
        return LogWatcher(self.logs, regexes, timeout)

    @property
    def hbnode_only(self) -> bool:
        return all(impl == "hbnode" for impl in self.impls.values())

    # -- status -------------------------------------------------------------------------
    def prepare(self) -> None:
        for node in self.nodes:
            self.should_be[node] = Status.UP if self.stat(node) else Status.DOWN

    def upcount(self) -> int:
        return sum(1 for n in self.nodes if self.should_be[n] is Status.UP)

    def running(self, node: str) -> bool:
        """The daemon's status command says it runs (a powered-off node does not)."""
        if not self.lab.is_on(node):
            return False
        try:
            done = self.lab.run(node, ["service", "heartbeat", "status"], timeout=30)
        except (LabError, OSError):
            return False
        return "stopped" not in done.stdout + done.stderr

    def stat(self, node: str) -> bool:
        """StataCM: the status, and should_be brought in line with it (said if it was not)."""
        up = self.running(node)
        now = Status.UP if up else Status.DOWN
        was = self.should_be.get(node)
        if was in (Status.UP, Status.DOWN) and was is not now:
            self.log(f"Node status for {node} is {now} but we think it should be {was}")
        self.should_be[node] = now
        return up

    def stat_all(self) -> dict[str, bool]:
        """statall: every node's status (after a failed test: what is the cluster doing?)"""
        return {node: self.stat(node) for node in self.nodes}

    # -- start and stop -----------------------------------------------------------------
    def _service(self, node: str, verb: str) -> bool:
        try:
            done = self.lab.run(node, ["service", "heartbeat", verb], timeout=SERVICE_TIMEOUT)
        except (LabError, OSError, subprocess.TimeoutExpired) as exc:
            # a command that hangs fails, as CTS's rsh did: the test fails, the run goes on
            self.log(f"service heartbeat {verb} on {node}: {exc}")
            return False
        return done.returncode == 0

    def start(self, node: str) -> bool:
        """StartaCM: start and wait for the start-up line; a daemon that runs also passes."""
        if self.should_be[node] is not Status.DOWN:
            return True
        pattern = (WE_STARTED if self.upcount() == 0 else THEY_STARTED) % node
        watch = self.watcher([pattern], self.timing.start_watch)
        watch.setwatch()
        self.should_be[node] = Status.ANY
        if self.running(node) and self.cluster_stable():
            self.log(f"{node} was already started")
            self.should_be[node] = Status.UP
            return True
        if not self._service(node, "start"):
            self.warn(f"Warn: Start command failed on node {node}")
            return False
        self.should_be[node] = Status.UP
        if watch.lookforall():
            self.cluster_stable()
            return True
        for regex in watch.unmatched:
            self.warn(f"Warn: Startup pattern not found: {regex}")
        if self.stat(node) and self.cluster_stable():
            return True
        self.warn(f"Warn: Start failed for node {node}")
        return False

    def stop(self, node: str) -> bool:
        """StopaCM: the blocking stop; should_be goes down when it worked."""
        if self.should_be[node] is not Status.UP:
            return True
        if self._service(node, "stop"):
            self.should_be[node] = Status.DOWN
            self.cluster_stable()
            return True
        self.log(f"Could not stop {self.name} on node {node}")
        return False

    def start_noblock(self, node: str) -> None:
        self._background(node, "start")
        self.should_be[node] = Status.UP

    def stop_noblock(self, node: str) -> None:
        self._background(node, "stop")
        self.should_be[node] = Status.DOWN

    def _background(self, node: str, verb: str) -> None:
        thread = threading.Thread(
            target=self._service, args=(node, verb), name=f"cts-{verb}-{node}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def join_background(self) -> None:
        """The commands started without blocking have returned (bounded)."""
        deadline = time.monotonic() + SERVICE_TIMEOUT + 5
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
        if self._threads:
            raise LabError("a start or stop command did not return")

    def startall(self) -> bool:
        ok = True
        for node in self.nodes:
            if self.should_be[node] is Status.DOWN and not self.start(node):
                ok = False
        return ok

    def stopall(self) -> bool:
        ok = True
        for node in self.nodes:
            if self.should_be[node] is Status.UP and not self.stop(node):
                ok = False
        return ok

    # -- faults ---------------------------------------------------------------------------
    def isolate(self, node: str) -> bool:
        """BreakCommCmd: the node hears neither its peer nor its ping node."""
        self.lab.link(node, "eth1", up=False)
        return True

    def unisolate(self, node: str) -> bool:
        self.lab.link(node, "eth1", up=True)
        return True

    def reset(self, node: str) -> bool:
        """The stonith reset's first half: the power goes."""
        self.lab.poweroff(node)
        return True

    def boot(self, node: str) -> None:
        """The reset machine boots and its init script starts heartbeat."""
        self.lab.poweron(node)

    def kill_daemon(self, node: str) -> bool:
        try:
            self.lab.crash(node)
        except LabError as exc:
            self.log(f"Couldn't kill cluster manager on {node}: {exc}")
            return False
        return True

    def standby_argv(self, node: str) -> list[str]:
        path = "hb_standby" if self.impls[node] == "hbnode" else "/usr/share/heartbeat/hb_standby"
        return [path]

    def standby(self, node: str) -> None:
        self.lab.run(node, self.standby_argv(node), timeout=30)

    # -- stability ------------------------------------------------------------------------
    def fingerprint(self) -> tuple[object, ...]:
        """What must stop changing for the cluster to be stable."""
        holders = tuple(self.lab.vip_holders())
        pids = tuple(self.lab.daemon_pid(n) if self.lab.is_on(n) else None for n in self.nodes)
        sizes = tuple(_size(p) for p in self.logs.values())
        return holders, pids, sizes

    def cluster_stable(self, hold: float | None = None) -> bool:
        """Wait until nothing has changed for StableTime (CTS slept that long)."""
        hold = self.timing.stable_time if hold is None else hold
        deadline = time.monotonic() + hold + STABLE_BOUND
        last, since = self.fingerprint(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(STABLE_POLL)
            now = self.fingerprint()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= hold:
                return True
        self.warn(f"Warn: the cluster did not keep still for {hold:.1f} s")
        return True  # CTS's cluster_stable always answers yes; the audit judges


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1
