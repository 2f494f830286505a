"""CTS's RandomTests (cts/CTStests.py): tests in a seeded random order, audits after each.

Before the first test the scenario (InitClusterManager) stops heartbeat
everywhere and starts it everywhere. Each iteration picks a test and a node with
the run's random generator, runs the test, checks that every machine is up, and
audits: the bad-news scan over every log line since the previous audit (the
test's own ignore list applies), then ResourceAudit. A bad-news line or a failed
audit is counted against the test that ran (CTS's "BadNews" and "auditfail").
At the end heartbeat is stopped everywhere and audited once more.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lab.cts.cm import LabCM, Status
from lab.cts.logwatch import LogWatcher
from lab.cts.patterns import ALWAYS_IGNORED, BAD_REGEXES
from lab.cts.resources import Prober, Resource, parse_groups, resource_audit, stopped_node_audit
from lab.cts.special import DetectionTimeTest, SplitBrainTest, StandbyTest, StonithTest
from lab.cts.tests import (
    CTSTest,
    FlipTest,
    RestartOnebyOne,
    RestartTest,
    SimulStart,
    SimulStop,
    SpecialTest1,
    StartOnebyOne,
    StopOnebyOne,
)

# CTStests.AllTestClasses that apply to the heartbeat (R1) cluster manager, in
# CTS's order. docs/cts.md says why each of the others is left out.
R1_TESTS: tuple[type[CTSTest], ...] = (
    FlipTest,
    RestartTest,
    StonithTest,
    StartOnebyOne,
    SimulStart,
    SimulStop,
    StopOnebyOne,
    RestartOnebyOne,
    StandbyTest,
    DetectionTimeTest,
    SplitBrainTest,
    SpecialTest1,
)
MAX_BADNEWS = 1000  # CTS: "Big problems.  Shutting down." after this many in one audit


@dataclass
class RunStats:
    overall: Counter[str] = field(default_factory=Counter)
    badnews: list[dict[str, str]] = field(default_factory=list)  # test, line
    audits: list[dict[str, Any]] = field(default_factory=list)  # test, audit, problems
    log: list[dict[str, Any]] = field(default_factory=list)  # one entry per iteration
    stopped_early: str | None = None


class RandomTests:
    def __init__(
        self,
        cm: LabCM,
        tests: list[CTSTest],
        rng: random.Random,
        prober: Prober,
        say: Callable[[str], None],
    ) -> None:
        self.cm, self.tests, self.rng, self.prober, self.say = cm, tests, rng, prober, say
        self.groups: list[list[Resource]] = parse_groups(cm.haresources)
        self.stats = RunStats()
        self.badnews = LogWatcher(cm.logs, list(BAD_REGEXES), timeout=0)

    # -- audits ---------------------------------------------------------------------------
    def audit(self, test: CTSTest | None) -> None:
        name = test.name if test else "(setup/teardown)"
        ignore = list(ALWAYS_IGNORED) + list(test.errorstoignore() if test else ())
        found = 0
        while found < MAX_BADNEWS:
            line = self.badnews.look(0)
            if line is None:
                break
            if any(re.search(pattern, line) for pattern in ignore):
                continue
            self.say(f"BadNews: {line}")
            self.stats.overall["BadNews"] += 1
            self.stats.badnews.append({"test": name, "line": line})
            found += 1
        up = [n for n in self.cm.nodes if self.cm.should_be[n] is Status.UP]
        results = [("ResourceAudit", resource_audit(self.groups, lambda: up, self.prober))]
        down = [n for n in self.cm.nodes if self.cm.should_be[n] is Status.DOWN]
        down = [n for n in down if self.cm.lab.is_on(n)]
        results.append(("StoppedNodeAudit", stopped_node_audit(self.groups, down, self.prober)))
        for audit, result in results:
            if result.ok:
                continue
            self.say(f"Audit {audit} FAILED: {result.problems}")
            self.stats.overall["auditfail"] += 1
            self.stats.audits.append({"test": name, "audit": audit, "problems": result.problems})
            if test is not None:
                test.incr("auditfail")

    # -- the run ----------------------------------------------------------------------------
    def set_up(self) -> bool:
        """InitClusterManager: stop everywhere, start everywhere."""
        self.badnews.setwatch()
        self.cm.prepare()
        self.say("Stopping Cluster Manager on all nodes")
        self.cm.stopall()
        self.say("Starting Cluster Manager on all nodes.")
        if not self.cm.startall():
            self.stats.stopped_early = "the cluster manager did not start on every node"
            return False
        self.cm.cluster_stable()  # CTS: time.sleep(30) before the first audit
        self.audit(None)
        return True

    def tear_down(self) -> None:
        self.say("Stopping Cluster Manager on all nodes")
        self.cm.stopall()
        self.audit(None)

    def schedule(self, iterations: int, once_each: bool) -> list[tuple[CTSTest, str]]:
        """The (test, node) pairs to run, drawn from the run's generator."""
        if once_each:
            order = list(self.tests)
            self.rng.shuffle(order)
            return [(test, self.rng.choice(self.cm.nodes)) for test in order]
        return [
            (self.rng.choice(self.tests), self.rng.choice(self.cm.nodes)) for _ in range(iterations)
        ]

    def run(self, plan: list[tuple[CTSTest, str]], minutes: float = 0.0) -> RunStats:
        began = time.monotonic()
        if not self.set_up():
            return self.stats
        for count, (test, node) in enumerate(plan, start=1):
            if minutes and time.monotonic() - began > minutes * 60:
                self.stats.stopped_early = f"time limit of {minutes:g} min reached"
                break
            self.say(f"Running test {test.name} ({node}) \t[{count}]")
            started = time.monotonic()
            ok = test(node)
            if not self._all_machines_up():
                self.stats.stopped_early = "One or more nodes will not come up - exiting"
                break
            took = time.monotonic() - started
            self.stats.overall["success" if ok else "failure"] += 1
            if not ok:
                self.say(f"Test {test.name} ({node}) \t[FAILED]")
                self.cm.stat_all()
            else:
                self.say(f"Test {test.name} ({node}) \t[passed in {took:.1f} s]")
            self._times(test, took)
            before = (self.stats.overall["BadNews"], self.stats.overall["auditfail"])
            self.audit(test)
            after = (self.stats.overall["BadNews"], self.stats.overall["auditfail"])
            self.stats.log.append(
                {
                    "n": count,
                    "test": test.name,
                    "node": node,
                    "ok": ok,
                    "seconds": round(took, 2),
                    "badnews": after[0] - before[0],
                    "auditfail": after[1] - before[1],
                }
            )
        self.tear_down()
        return self.stats

    def _all_machines_up(self) -> bool:
        """CTS's WaitForAllNodesToComeUp: every machine is powered (a test that
        powered one off has booted it again)."""
        return all(self.cm.lab.is_on(n) for n in self.cm.nodes)

    @staticmethod
    def _times(test: CTSTest, took: float) -> None:
        figures = test.figures
        figures["elapsed_time"] = figures.get("elapsed_time", 0.0) + took
        figures["min_time"] = min(figures.get("min_time", took), took)
        figures["max_time"] = max(figures.get("max_time", took), took)
