"""CTS's start and stop tests (cts/CTStests.py), as R1 runs them.

Each class keeps CTS's name, its statistics (calls, success, failure, skipped,
auditfail, and what each test counts of its own), its actions and its pass
criteria. The helpers CTS never registers (StartTest, StopTest, SimulStartLite,
SimulStopLite) are here too: the registered tests are built from them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from lab.cts.cm import LabCM, Status
from lab.cts.patterns import ALL_STOPPED, THEY_STARTED, THEY_STOPPED, WE_STOPPED


class CTSTest:
    """A cluster test with its own statistics (CTStests.CTSTest)."""

    name = "the unnamed test"

    def __init__(self, cm: LabCM) -> None:
        self.cm = cm
        self.stats: Counter[str] = Counter(calls=0, success=0, failure=0, skipped=0, auditfail=0)
        self.figures: dict[str, float] = {}  # DetectionTime's min/max/totaltime
        self.reasons: list[str] = []

    def __call__(self, node: str) -> bool:
        raise NotImplementedError

    def is_applicable(self) -> bool:
        return True

    def errorstoignore(self) -> tuple[str, ...]:
        return ()

    def incr(self, key: str) -> None:
        self.stats[key] += 1

    def success(self) -> bool:
        self.incr("success")
        return True

    def failure(self, reason: str = "none") -> bool:
        self.incr("failure")
        self.reasons.append(reason)
        self.cm.log(f"Test {self.name} failed [reason:{reason}]")
        return False

    def skipped(self) -> bool:
        self.incr("skipped")
        return True

    def to_json(self) -> dict[str, Any]:
        return {**self.stats, **self.figures}


class StopTest(CTSTest):
    """Stop the cluster manager on a node; it says it stopped, the others that it is dead."""

    name = "Stop"

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        cm = self.cm
        if cm.should_be[node] is not Status.UP:
            return self.skipped()
        patterns = [WE_STOPPED % node]
        patterns += [
            THEY_STOPPED % (other, node)
            for other in cm.nodes
            if other != node and cm.should_be[other] is Status.UP
        ]
        watch = cm.watcher(patterns, cm.timing.stop_watch)
        watch.setwatch()
        self.incr("all" if cm.upcount() <= 1 else "them")
        cm.stop(node)
        watch.lookforall()
        for regex in watch.unmatched:
            cm.log(f"ERROR: Shutdown pattern not found: {regex}")
        cm.cluster_stable(cm.timing.dead_time)
        if not watch.unmatched or cm.upcount() == 0:
            return self.success()
        return self.failure("Missing shutdown pattern: " + "||".join(watch.unmatched))


class StartTest(CTSTest):
    """Start the cluster manager on a node (StartaCM's criterion)."""

    name = "start"

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        self.incr("us" if self.cm.upcount() == 0 else "them")
        if self.cm.should_be[node] is not Status.DOWN:
            return self.skipped()
        if self.cm.start(node):
            return self.success()
        return self.failure(f"Startup heartbeat on node {node} failed")


class SimulStopLite(CTSTest):
    """Stop every active node at about the same time; each says shutdown complete."""

    name = "SimulStopLite"

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        cm = self.cm
        up = [n for n in cm.nodes if cm.should_be[n] is Status.UP]
        if not up:
            return self.skipped()
        watch = cm.watcher([ALL_STOPPED % n for n in up], cm.timing.lite_watch)
        watch.setwatch()
        for n in up:
            cm.stop_noblock(n)
        found = watch.lookforall()
        cm.join_background()
        if found:
            return self.success()
        still_up = [n for n in cm.nodes if cm.stat(n)]
        if still_up:
            return self.failure(f"Active nodes exist: {still_up}")
        cm.log(f"Warn: All nodes stopped but CTS didnt detect: {watch.unmatched}")
        return self.failure(f"Missing log message: {watch.unmatched}")


class SimulStartLite(CTSTest):
    """Start every stopped node at about the same time; each says its start-up is done."""

    name = "SimulStartLite"

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        cm = self.cm
        down = [n for n in cm.nodes if cm.should_be[n] is Status.DOWN]
        if not down:
            return self.skipped()
        watch = cm.watcher([THEY_STARTED % n for n in down], cm.timing.lite_start_watch)
        watch.setwatch()
        for n in down:
            cm.start_noblock(n)
        found = watch.lookforall()
        cm.join_background()
        if found:
            cm.cluster_stable()
            return self.success()
        unstarted = [n for n in cm.nodes if not cm.stat(n)]
        if unstarted:
            return self.failure(f"Unstarted nodes exist: {unstarted}")
        cm.log(f"ERROR: All nodes started but CTS didnt detect: {watch.unmatched}")
        return self.failure(f"Missing log message: {watch.unmatched}")


class FlipTest(CTSTest):
    """If it's running, stop it; if it's stopped, start it."""

    name = "Flip"

    def __init__(self, cm: LabCM) -> None:
        super().__init__(cm)
        self.start, self.stop = StartTest(cm), StopTest(cm)

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        if self.cm.should_be[node] is Status.UP:
            self.incr("stopped")
            ok, kind = self.stop(node), "up->down"
            # CTS: "Give the cluster time to recognize it's gone" (sleep StableTime)
            self.cm.cluster_stable()
        elif self.cm.should_be[node] is Status.DOWN:
            self.incr("started")
            ok, kind = self.start(node), "down->up"
        else:
            return self.skipped()
        self.incr(kind)
        return self.success() if ok else self.failure(f"{kind} failure")


class RestartTest(CTSTest):
    """Stop and restart a node (a stopped one is started first)."""

    name = "Restart"

    def __init__(self, cm: LabCM) -> None:
        super().__init__(cm)
        self.start, self.stop = StartTest(cm), StopTest(cm)

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        self.incr(f"node:{node}")
        # CTS tests StataCM() here and then calls start(), which skips a running
        # node: a stopped one was never started first. Start it, as CTS meant to.
        if not self.cm.stat(node):
            self.incr("WasStopped")
            if not self.start(node):
                return self.failure(f"start (setup) failure: {node}")
        if not self.stop(node):
            return self.failure(f"stop failure: {node}")
        if not self.start(node):
            return self.failure(f"start failure: {node}")
        return self.success()


class StartOnebyOne(CTSTest):
    """Stop every node, then start them one by one."""

    name = "StartOnebyOne"

    def __init__(self, cm: LabCM) -> None:
        super().__init__(cm)
        self.stopall, self.start = SimulStopLite(cm), StartTest(cm)

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        if not self.stopall(node):
            return self.failure("Test setup failed")
        failed = [n for n in self.cm.nodes if not self.start(n)]
        if failed:
            return self.failure(f"Some node failed to start: {failed}")
        return self.success()


class SimulStart(CTSTest):
    """Stop every node, then start them all at about the same time."""

    name = "SimulStart"

    def __init__(self, cm: LabCM) -> None:
        super().__init__(cm)
        self.stopall, self.startall = SimulStopLite(cm), SimulStartLite(cm)

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        if not self.stopall(node):
            return self.failure("Setup failed")
        if not self.startall(node):
            return self.failure("Startall failed")
        return self.success()


class SimulStop(CTSTest):
    """Start every node, then stop them all at about the same time."""

    name = "SimulStop"

    def __init__(self, cm: LabCM) -> None:
        super().__init__(cm)
        self.startall, self.stopall = SimulStartLite(cm), SimulStopLite(cm)

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        if not self.startall(node):
            return self.failure("Setup failed")
        if not self.stopall(node):
            return self.failure("Stopall failed")
        return self.success()


class StopOnebyOne(CTSTest):
    """Start every node, then stop them one by one."""

    name = "StopOnebyOne"

    def __init__(self, cm: LabCM) -> None:
        super().__init__(cm)
        self.startall, self.stop = SimulStartLite(cm), StopTest(cm)

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        if not self.startall(node):
            return self.failure("Setup failed")
        failed = [n for n in self.cm.nodes if not self.stop(n)]
        if failed:
            return self.failure(f"Some node failed to stop: {failed}")
        return self.success()


class RestartOnebyOne(CTSTest):
    """Start every node, then restart them one by one."""

    name = "RestartOnebyOne"

    def __init__(self, cm: LabCM) -> None:
        super().__init__(cm)
        self.startall = SimulStartLite(cm)

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        if not self.startall(node):
            return self.failure("Setup failed")
        restart = RestartTest(self.cm)
        failed = [n for n in self.cm.nodes if not restart(n)]
        if failed:
            return self.failure(f"Could not restart {len(failed)} nodes: {failed}")
        return self.success()


class SpecialTest1(CTSTest):
    """Stop every node, restart the chosen one, then start the rest."""

    name = "SpecialTest1"

    def __init__(self, cm: LabCM) -> None:
        super().__init__(cm)
        self.stopall, self.startall = SimulStopLite(cm), SimulStartLite(cm)
        self.restart1 = RestartTest(cm)

    def __call__(self, node: str) -> bool:
        self.incr("calls")
        if not self.stopall(node):
            return self.failure("stopall failed")
        if not self.restart1(node):
            return self.failure(f"restart of {node} failed")
        if not self.startall(node):
            return self.failure("startall failed")
        return self.success()
