"""One nemesis run: a fresh lab, the schedule played while the recorder samples,
the cluster watched until it settles, a leak check, the lab down, the verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lab.backends import Lab, make_lab
from lab.cts.resources import first_owner
from lab.errors import LabError
from lab.nemesis.checker import Bounds, Violation, check, overlap_stats
from lab.nemesis.play import Done, Player, play
from lab.nemesis.recorder import Recorder
from lab.nemesis.schedule import Schedule
from lab.nemesis.timeline import StepRecord, Timeline
from lab.nodelogs import keep_logs

SETTLED_EXTRA = 1.0  # seconds recorded past the settled state, so its end is seen too
LEAK_SETTLE = 20.0  # a leak must persist this long (an ARP burst holds a socket ~10 s)
# The baseline is taken once the processes have stayed the same this long: longer than
# the real Heartbeat's gratuitous ARP burst after the group starts (10 ARPs 500 ms
# apart), which seeds 52 and 53 counted in the baseline and then as lost.
BASELINE_STILL = 6.0
BASELINE_SETTLE = 40.0


@dataclass
class RunResult:
    schedule: Schedule
    timeline: Timeline | None = None
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None
    left_after_down: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.violations and not self.left_after_down

    @property
    def invariants(self) -> set[str]:
        found = {v.invariant for v in self.violations}
        return found | ({"error"} if self.error else set())

    def to_json(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule.to_json(),
            "violations": [v.to_json() for v in self.violations],
            "overlaps": overlap_stats(self.timeline) if self.timeline else {},
            "error": self.error,
            "left_after_down": self.left_after_down,
            "seconds": round(self.seconds, 1),
            "ok": self.ok,
        }


def run_schedule(
    schedule: Schedule,
    backend: str | None,
    say: Callable[[str], None],
    logs_to: Path | None = None,
) -> RunResult:
    """Play ``schedule`` in a lab of its own and check what happened. A run that
    broke an invariant or failed leaves its nodes' logs in ``logs_to`` (if given):
    the timeline says what happened, the daemons' logs say why."""
    from lab.bench.runner import impls_of, serves, start_cluster, wait

    result = RunResult(schedule)
    began = time.monotonic()
    lab = make_lab(backend)
    if lab.is_up:
        raise LabError("a lab is up with this HBLAB_PREFIX/HBLAB_STATE_DIR: nemesis needs its own")
    try:
        start_cluster(lab, schedule.impl, schedule.profile, schedule.overrides)
        wait(serves(lab, "master"), 10, "the client gets master's page at startup")
        impls = {n: i.value for n, i in impls_of(schedule.impl).items()}
        result.timeline = _observe(lab, schedule, impls, say)
        result.violations = check(result.timeline)
    except Exception as exc:  # the lab still goes down; what was recorded is kept
        lines = str(exc).strip().splitlines()
        result.error = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
    finally:
        if logs_to is not None and (result.violations or result.error):
            for kept in keep_logs(lab, logs_to):
                say(f"kept {kept}")
        lab.down()
        result.left_after_down = lab.leftovers()
        result.seconds = time.monotonic() - began
    return result


def _observe(
    lab: Lab, schedule: Schedule, impls: dict[str, str], say: Callable[[str], None]
) -> Timeline:
    from lab.soak import leaks

    deadtime = lab.timers().deadtime
    take = _snapshotter(lab)
    at_start = leaks.expected_addresses(lab.topo, "master")
    history: list[tuple[float, leaks.Snapshot]] = []

    def steady(snap: leaks.Snapshot) -> list[str]:
        """The start-up's addresses, and the same processes for BASELINE_STILL seconds
        (a start script still running must not become part of the baseline)."""
        history.append((time.monotonic(), snap))
        moving = leaks.not_still(history, BASELINE_STILL)
        return leaks.unexpected_addresses(at_start, snap.addresses) + moving

    baseline, unsteady = leaks.settle(take, steady, BASELINE_SETTLE)
    if unsteady:
        raise LabError("the lab never kept still for a baseline: " + "; ".join(unsteady))
    timeline = Timeline(impls, deadtime, schedule.duration)
    haresources = lab.node_file("master", "/etc/ha.d/haresources").read_text()
    timeline.owner = first_owner(haresources) or "master"
    bounds = Bounds(deadtime, timeline.hbnode_only)
    t0 = time.monotonic()
    recorder = Recorder(lab, timeline, t0)
    player = Player(lab, impls)
    recorder.start()
    done: list[Done] = []
    try:

        def said(record: Done) -> None:
            error = f" FAILED: {record.error}" if record.error else ""
            say(f"{record.started - t0:7.2f} s  {record.step.describe()}{error}")

        done = play(player, schedule, t0, said)
        last = max((d.ended for d in done), default=t0)
        timeline.steps = [_record(d, t0) for d in done]
        _watch_settle(timeline, bounds, last + bounds.settle + bounds.hold + 2.0)
    finally:
        player.release()
        recorder.stop()
        timeline.steps = [_record(d, t0) for d in done]
    holders = lab.vip_holders()
    expected = leaks.expected_addresses(lab.topo, holders[0] if len(holders) == 1 else None)

    moved_to = holders[0] if len(holders) == 1 else "master"  # the baseline's holder: master

    def compare(snap: leaks.Snapshot) -> list[str]:
        procs = leaks.follow_the_vip(baseline.processes, snap.processes, "master", moved_to)
        found = leaks.diff(replace(baseline, processes=procs), snap, addresses=False)
        return found + leaks.unexpected_addresses(expected, snap.addresses)

    _, timeline.leaks = leaks.settle(take, compare, LEAK_SETTLE)
    return timeline


def _watch_settle(timeline: Timeline, bounds: Bounds, until: float) -> None:
    """Keep recording until one holder has lasted ``hold`` after the faults (then a
    little more), or until ``until``: the state that lasts, bounded."""
    from lab.nemesis.checker import settled_window

    while time.monotonic() < until:
        window = settled_window(timeline, bounds)
        if window is not None:
            stop_at = time.monotonic() + SETTLED_EXTRA
            while time.monotonic() < stop_at:
                time.sleep(0.1)
            return
        time.sleep(0.2)


def _record(done: Done, t0: float) -> StepRecord:
    step = done.step
    return StepRecord(
        action=step.action.value,
        node=step.node,
        episode=step.episode,
        at=step.at,
        started=round(done.started - t0, 3),
        ended=round(done.ended - t0, 3),
        iface=step.iface,
        percent=step.percent,
        error=done.error,
    )


def _snapshotter(lab: Lab) -> Callable[[], Any]:
    from lab.soak import leaks

    return leaks.snapshotter(lab)
