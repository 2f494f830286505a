"""CTS's power-loss, standby, detection-time and split-brain tests (cts/CTStests.py).

Stonith is CTS's reset test without a STONITH device: the lab pulls the plug and
the machine boots again. Split_brain keeps CTS's criteria, except its last one
("both nodes restart") for the hbnode nodes of the cluster, which heal a
partition without restarting (docs/differences.md). For them it is replaced by
a stronger one: the daemon did not restart, and the configured owner alone holds
the VIP and keeps it for 3 x deadtime (between two hbnode nodes within DeadTime +
10 s of the heal, with no moment of two holders after it; beside a real
Heartbeat, which still restarts, within CTS's DeadTime + 60 s).
"""

from __future__ import annotations

import re
import time

from lab.cts.cm import LabCM, Status
from lab.cts.logwatch import LogWatcher
from lab.cts.patterns import (
    DETECTION_IGNORED,
    RETURN_PARTITION,
    SPLIT_BRAIN_IGNORED,
    STANDBY_NONE,
    STANDBY_OK,
    STANDBY_RETRIES,
    STANDBY_RETRY_PAUSE,
    STANDBY_TRANSIENT,
    THEY_STARTED,
    THEY_STOPPED,
    WE_STARTED,
)
from lab.cts.tests import CTSTest, SimulStartLite, StartTest
from lab.probes import AddrWatch

HOLD_DEADTIMES = 3  # the state that lasts: the owner keeps the VIP this many deadtimes
HEAL_EXTRA = 10.0  # hbnode's heal: the owner alone holds within DeadTime + this


class StonithTest(CTSTest):
    """Power loss: the node goes, its peer sees it die, it boots and starts again."""

    name = "Stonith"

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        cm = self.cm
        stop_patterns = [
            THEY_STOPPED % (other, node)
            for other in cm.nodes
            if other != node and cm.should_be[other] is Status.UP
        ]
        # A node whose heartbeat is not running dies unnoticed.
        stopwatch = bool(stop_patterns) and cm.should_be[node] is Status.UP
        alone = cm.upcount() == 1 and cm.should_be[node] is Status.UP
        uppat = (WE_STARTED if alone else THEY_STARTED) % node
        upwatch = cm.watcher([uppat], cm.timing.stonith_up_watch)
        watch = cm.watcher(stop_patterns, cm.timing.lite_watch)
        watch.setwatch()
        cm.reset(node)
        upwatch.setwatch()
        if stopwatch and not watch.lookforall():
            for regex in watch.unmatched:
                cm.log(f"Warn: STONITH pattern not found: {regex}")
            if len(watch.unmatched) == len(stop_patterns):
                cm.boot(node)
                cm.stat(node)
                return self.failure(f"No-one saw {node} die")
        cm.boot(node)  # the reset machine's reboot
        came_up = upwatch.look() is not None
        if not came_up:
            cm.log(f"Warn: Startup pattern not found: {uppat}")
        cm.should_be[node] = Status.UP
        if not came_up and cm.stat(node):
            came_up = True
        cm.cluster_stable()
        return self.success() if came_up else self.failure(f"Node {node} did not restart")


class StandbyTest(CTSTest):
    """hb_standby on a node: the resources move (or nobody answers, if it is alone)."""

    name = "standby"

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        cm = self.cm
        if cm.should_be[node] is Status.DOWN:
            return self.skipped()
        if cm.upcount() < 2:
            self.incr("nostandby")
            pattern = STANDBY_NONE
        else:
            self.incr("standby")
            pattern = STANDBY_OK
        for _ in range(STANDBY_RETRIES):
            watch = cm.watcher([pattern, STANDBY_TRANSIENT], cm.timing.lite_watch)
            watch.setwatch()
            cm.standby(node)
            match = watch.look()
            if match is None:
                break  # "No point in retrying..."
            if not re.search(STANDBY_TRANSIENT, match):
                return self.success()
            self.incr("retries")
            time.sleep(STANDBY_RETRY_PAUSE)  # CTS's pause before asking again
        return self.failure(f"did not find pattern {pattern}")


class DetectionTimeTest(CTSTest):
    """kill -9 of a node's heartbeat holding nothing: how long until its peer says dead."""

    name = "DetectionTime"

    def __init__(self, cm: LabCM) -> None:
        super().__init__(cm)
        self.start, self.startall = StartTest(cm), SimulStartLite(cm)
        self.standby = StandbyTest(cm)
        self.times: list[float] = []
        self.figures.update(min=0.0, max=0.0, totaltime=0.0)

    def errorstoignore(self) -> tuple[str, ...]:
        return DETECTION_IGNORED

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        cm = self.cm
        if not self.startall(node):
            return self.failure("Test setup failed")
        if cm.upcount() < 2:
            return self.skipped()
        if not self.standby(node):  # "Make sure they're not holding any resources"
            return self.failure("standby failed")
        stopwatch = cm.watcher([THEY_STOPPED % ("", node)], cm.timing.detection_watch)
        stopwatch.setwatch()
        if not cm.kill_daemon(node):
            return self.failure("Couldn't kill cluster manager")
        started = time.monotonic()
        seen = stopwatch.look()
        cm.should_be[node] = Status.DOWN
        if seen is None:
            self.start(node)
            return self.failure("Didn't find the log message")
        detection = stopwatch.matched[-1][2] - started
        self.record(detection)
        cm.log(f"...failure detection time: {int(detection * 1000 + 0.5)} ms")
        self.start(node)
        return self.success()

    def record(self, seconds: float) -> None:
        self.times.append(seconds)
        figures = self.figures
        figures["totaltime"] += seconds
        figures["min"] = seconds if figures["min"] == 0 else min(figures["min"], seconds)
        figures["max"] = max(figures["max"], seconds)


class SplitBrainTest(CTSTest):
    """Isolate a node; both say the other is dead; heal; both see the partition end."""

    name = "Split_brain"

    def __init__(self, cm: LabCM) -> None:
        super().__init__(cm)
        self.startall = SimulStartLite(cm)

    def errorstoignore(self) -> tuple[str, ...]:
        return SPLIT_BRAIN_IGNORED

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        cm = self.cm
        if not self.startall(node):
            return self.failure("Test setup failed")
        stop_patterns: list[str] = []
        for member in cm.nodes:
            if member != node:
                stop_patterns += [THEY_STOPPED % (node, member), THEY_STOPPED % (member, node)]
        watchstop = cm.watcher(stop_patterns, cm.timing.partition_watch)
        watchstop.setwatch()
        pids = {n: cm.lab.daemon_pid(n) for n in cm.nodes}
        cm.isolate(node)
        if not watchstop.lookforall():
            cm.unisolate(node)
            cm.log(f"Patterns not found: {watchstop.unmatched}")
            return self.failure("Didn't find the log 'dead' message")
        watchpartition = cm.watcher(
            [RETURN_PARTITION % m for m in cm.nodes], cm.timing.partition_watch
        )
        # Heartbeat nodes restart after a partition; hbnode nodes heal in place.
        restarters = [m for m in cm.nodes if cm.impls[m] != "hbnode"]
        in_place = [m for m in cm.nodes if cm.impls[m] == "hbnode"]
        watchstart = cm.watcher([WE_STARTED % m for m in restarters], cm.timing.partition_watch)
        nostart = cm.watcher([WE_STARTED % m for m in in_place], 0)
        for watch in (watchpartition, watchstart, nostart):
            watch.setwatch()
        holders = AddrWatch(cm.lab.vip_holders, interval=0.05)
        holders.start()
        try:
            cm.unisolate(node)
            healed = time.monotonic()
            if not watchpartition.lookforall():
                cm.log(f"Patterns not found: {watchpartition.unmatched}")
                return self.failure("Didn't find return from partition messages")
            if restarters and not watchstart.lookforall():
                cm.log(f"Patterns not found: {watchstart.unmatched}")
                return self.failure("Both nodes didn't restart")
            if in_place:
                return self._healed_in_place(in_place, nostart, pids, holders, healed)
        finally:
            holders.stop()
        return self.success()

    def _healed_in_place(
        self,
        in_place: list[str],
        nostart: LogWatcher,
        pids: dict[str, int | None],
        holders: AddrWatch,
        healed: float,
    ) -> bool:
        """hbnode's criterion in place of "both nodes restart" for its own nodes (said
        in the output): they did not restart, and the owner alone holds the VIP and
        keeps it, within DeadTime + 10 s of the heal between hbnode nodes (and with no
        moment of two holders after the heal), within CTS's DeadTime + 60 s when the
        peer is a Heartbeat that restarts."""
        cm = self.cm
        self.incr("heal-without-restart")
        restarted = [n for n in in_place if cm.lab.daemon_pid(n) != pids[n]]
        if restarted:
            return self.failure(f"[hbnode heal] daemons restarted: {restarted}")
        if nostart.look(0) is not None:
            return self.failure("[hbnode heal] an hbnode node went through start-up again")
        owner = cm.owner
        within = cm.timing.dead_time + HEAL_EXTRA if cm.hbnode_only else cm.timing.partition_watch
        if not _holds_alone(cm, owner, healed + within, HOLD_DEADTIMES * cm.timing.deadtime):
            return self.failure(
                f"[hbnode heal] {owner} did not hold the VIP alone, for "
                f"{HOLD_DEADTIMES:g} x deadtime, within {within:.1f} s of the heal "
                f"(holders: {cm.lab.vip_holders()})"
            )
        both = [at for at in holders.both_samples() if at >= healed]
        if cm.hbnode_only and both:
            return self.failure(
                f"[hbnode heal] two holders after the heal ({len(both)} samples, 50 ms apart)"
            )
        return self.success()


def _holds_alone(cm: LabCM, node: str, deadline: float, hold: float) -> bool:
    """``node`` alone holds the VIP, without a break for ``hold`` seconds, beginning
    before ``deadline``."""
    since: float | None = None
    while True:
        now = time.monotonic()
        if cm.lab.vip_holders() == [node]:
            since = now if since is None else since
            if now - since >= hold:
                return True
        else:
            since = None
        if since is None and now > deadline:
            return False
        time.sleep(0.05)
