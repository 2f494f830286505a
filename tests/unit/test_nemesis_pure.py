"""hblab nemesis without a lab: the generator, schedules as data, the checker, ddmin."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.nemesis.checker import Bounds, allowance_windows, check, overlap_stats, settled_window
from lab.nemesis.recorder import holders_of
from lab.nemesis.schedule import CLOSES, OPENS, Action, Schedule, Step, generate
from lab.nemesis.shrink import after_violation, compact, ddmin
from lab.nemesis.timeline import ProcSample, StepRecord, Timeline

DEADTIME = 1.5


def test_the_same_seed_gives_the_same_schedule() -> None:
    first = generate(7, 60.0, DEADTIME)
    assert first.to_json() == generate(7, 60.0, DEADTIME).to_json()
    assert first.to_json() != generate(8, 60.0, DEADTIME).to_json()


@pytest.mark.parametrize("seed", range(40))
def test_every_fault_is_ended_and_steps_make_sense(seed: int) -> None:
    schedule = generate(seed, 90.0, DEADTIME)
    steps = schedule.steps
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    open_: dict[int, Step] = {}
    off: set[str] = set()
    for step in steps:
        if step.action in OPENS:
            assert step.episode not in open_
            open_[step.episode] = step
            assert step.node not in off, f"{step.describe()} on a node that is off"
        if step.action in CLOSES:
            opener = open_.pop(step.episode)
            assert OPENS[opener.action] is step.action and opener.node == step.node
            assert opener.iface == step.iface
        if step.action is Action.POWEROFF:
            off.add(step.node)
        if step.action is Action.POWERON:
            off.discard(step.node)
        if step.action is Action.LOSS:
            assert step.percent in (20, 40, 60) and step.iface == "eth1"
    assert not open_, "every fault is ended at the end"
    kinds = {s.action for s in steps}
    assert len(kinds) >= 4


def test_generator_uses_every_fault_over_many_seeds() -> None:
    seen = {s.action for seed in range(30) for s in generate(seed, 120.0, DEADTIME).steps}
    assert seen == set(Action)
    ifaces = {s.iface for seed in range(30) for s in generate(seed, 120.0, DEADTIME).steps}
    assert {"eth0", "eth1"} <= ifaces


def test_schedule_round_trips_through_json(tmp_path: Path) -> None:
    schedule = generate(3, 40.0, DEADTIME, impl="master=heartbeat,slave=hbnode")
    path = tmp_path / "s.json"
    schedule.save(path)
    again = Schedule.load(path)
    assert again.to_json() == schedule.to_json()
    assert again.steps == schedule.steps


def test_without_takes_episodes_out_whole() -> None:
    schedule = generate(5, 60.0, DEADTIME)
    victim = schedule.steps[0].episode
    smaller = schedule.without({victim})
    assert all(s.episode != victim for s in smaller.steps)
    assert len(smaller.steps) < len(schedule.steps)


def test_compact_cuts_the_idle_lead_in() -> None:
    steps = [
        Step(30.0, Action.CUT, "master", 1, "eth1"),
        Step(33.0, Action.HEAL, "master", 1, "eth1"),
    ]
    small = compact(Schedule("hbnode", 1, 40.0, steps))
    assert [s.at for s in small.steps] == [1.0, 4.0]
    assert small.duration == 11.0


def test_after_violation_names_episodes_begun_later() -> None:
    steps = [
        Step(1.0, Action.CUT, "master", 0, "eth1"),
        Step(9.0, Action.HEAL, "master", 0, "eth1"),
        Step(10.0, Action.STANDBY, "slave", 1),
    ]
    assert after_violation(Schedule("hbnode", 1, 20.0, steps), 5.0) == {1}


def test_ddmin_finds_the_two_episodes_that_matter() -> None:
    culprits = {3, 11}
    calls: list[set[int]] = []

    def fails(removed: set[int]) -> bool:
        calls.append(removed)
        return not (culprits & removed)

    assert sorted(ddmin(list(range(16)), fails, budget=100)) == [3, 11]
    assert len(calls) <= 100


def test_ddmin_respects_its_budget() -> None:
    calls = []

    def fails(removed: set[int]) -> bool:
        calls.append(1)
        return False

    ddmin(list(range(50)), fails, budget=7)
    assert len(calls) == 7


# -- the checker ------------------------------------------------------------------------
def _timeline(
    holders: list[tuple[float, list[str]]],
    steps: list[StepRecord] | None = None,
    hbnode: bool = True,
) -> Timeline:
    impl = "hbnode" if hbnode else "heartbeat"
    tl = Timeline({"master": impl, "slave": "hbnode"}, DEADTIME, 10.0)
    tl.holders = holders
    tl.arp = [(t, h) for t, h in holders]
    tl.http = [(t, bool(h), h[0] if len(h) == 1 else None) for t, h in holders]
    tl.steps = steps or []
    for t, h in holders:
        for node in ("master", "slave"):
            tl.procs.append(ProcSample(t, node, True, 100 if node == "master" else 200, node in h))
    tl.end = holders[-1][0] if holders else 0.0
    return tl


def _held(node: str, start: float, end: float, step: float = 0.1) -> list[tuple[float, list[str]]]:
    count = round((end - start) / step)
    return [(round(start + i * step, 3), [node]) for i in range(count)]


def _step(
    action: str, node: str, episode: int, start: float, end: float, iface: str | None = None
) -> StepRecord:
    return StepRecord(action, node, episode, start, start, end, iface)


def test_a_quiet_run_keeps_every_invariant() -> None:
    tl = _timeline(_held("master", 0.0, 10.0))
    assert check(tl) == []
    assert settled_window(tl, Bounds(DEADTIME, True)) is not None


def test_two_holders_outside_any_window_is_a_violation() -> None:
    holders = [*_held("master", 0.0, 3.0), (3.0, ["master", "slave"]), *_held("master", 3.1, 10.0)]
    found = check(_timeline(holders))
    assert [v.invariant for v in found] == ["two_holders", "two_holders"]  # netlink and ARP
    assert found[0].t == 3.0


def test_two_holders_inside_a_freeze_window_are_allowed() -> None:
    steps = [_step("freeze", "master", 0, 1.0, 1.1), _step("thaw", "master", 0, 2.0, 2.1)]
    bounds = Bounds(DEADTIME, True)
    holders = [*_held("master", 0.0, 3.0), (3.0, ["master", "slave"]), *_held("slave", 3.1, 12.0)]
    assert allowance_windows(steps, bounds) == [(1.0, 2.1 + bounds.heal, "freeze master")]
    assert [v.invariant for v in check(_timeline(holders, steps))] == []


def test_an_eth1_cut_allows_no_overlap_between_hbnode_nodes_only() -> None:
    steps = [
        _step("cut", "master", 0, 1.0, 1.1, "eth1"),
        _step("heal", "master", 0, 2.0, 2.1, "eth1"),
    ]
    holders = [*_held("master", 0.0, 3.0), (3.0, ["master", "slave"]), *_held("master", 3.1, 12.0)]
    assert {v.invariant for v in check(_timeline(holders, steps))} == {"two_holders"}
    assert check(_timeline(holders, steps, hbnode=False)) == []


def test_no_single_holder_after_the_faults_is_no_settle() -> None:
    steps = [_step("poweroff", "master", 0, 1.0, 1.2), _step("poweron", "master", 0, 2.0, 3.0)]
    found = check(_timeline([(t / 10, []) for t in range(200)], steps))
    assert [v.invariant for v in found] == ["no_settle"]


def test_a_late_settle_is_a_violation() -> None:
    steps = [_step("stop", "master", 0, 0.5, 0.6), _step("start", "master", 0, 1.0, 1.5)]
    late = Bounds(DEADTIME, True).settle + 3
    holders = [(t / 10, []) for t in range(int(late * 10))] + _held("master", late, late + 6)
    found = check(_timeline(holders, steps))
    assert [v.invariant for v in found] == ["no_settle"]


def test_service_on_a_node_without_the_vip() -> None:
    tl = _timeline(_held("master", 0.0, 10.0))
    tl.procs.append(ProcSample(9.0, "slave", True, 200, True))
    tl.procs.sort(key=lambda p: p.t)
    assert [v.invariant for v in check(tl)] == ["service_without_vip"]


def test_an_unexplained_daemon_restart_and_a_traceback() -> None:
    tl = _timeline(_held("master", 0.0, 10.0))
    tl.procs = [
        p if not (p.node == "slave" and p.t > 5) else ProcSample(p.t, p.node, True, 999, False)
        for p in tl.procs
    ]
    tl.logs = [(6.0, "slave", "Traceback (most recent call last):")]
    kinds = [v.invariant for v in check(tl)]
    assert kinds == ["daemon_crash", "daemon_restart"]


def test_a_kill_explains_the_daemon_going() -> None:
    steps = [_step("kill", "slave", 0, 4.9, 5.0), _step("restart", "slave", 0, 6.0, 6.5)]
    tl = _timeline(_held("master", 0.0, 12.0), steps)
    procs = []
    for p in tl.procs:
        if p.node == "slave" and 5.0 < p.t < 6.2:
            p = ProcSample(p.t, p.node, True, None, False)
        elif p.node == "slave" and p.t >= 6.2:
            p = ProcSample(p.t, p.node, True, 201, False)
        procs.append(p)
    tl.procs = procs
    assert check(tl) == []


def test_views_must_agree_with_the_lab() -> None:
    tl = _timeline(_held("master", 0.0, 10.0))
    # slave holding only its own (empty) local set says "local": that agrees.
    tl.views = [(8.0, "master", {"rscstatus": "all"}), (8.0, "slave", {"rscstatus": "local"})]
    assert check(tl) == []
    tl.views.append((9.0, "slave", {"rscstatus": "foreign"}))  # claims master's group
    assert [v.invariant for v in check(tl)] == ["view_disagrees"]
    group = {"192.168.0.38/24/eth0:0": {"holder": "slave"}}
    tl.views = [(8.0, "master", {"rscstatus": "all", "resources": group})]
    assert [v.detail for v in check(tl)] == [
        "master says ['slave'] hold(s) the group; the VIP is on master"
    ]


def test_leaks_are_violations() -> None:
    tl = _timeline(_held("master", 0.0, 10.0))
    tl.leaks = ["master processes: nginx: worker process: 2 (baseline 1)"]
    assert [v.invariant for v in check(tl)] == ["leak"]


def test_timeline_round_trips_through_json() -> None:
    steps = [_step("cut", "master", 0, 1.0, 1.1, "eth1")]
    tl = _timeline(_held("master", 0.0, 2.0), steps)
    tl.views = [(1.0, "master", {"rscstatus": "all"})]
    again = Timeline.from_json(tl.to_json())
    assert again == tl


def test_overlap_stats_name_the_fault_that_allows_it() -> None:
    steps = [
        _step("freeze", "master", 0, 1.0, 1.1),
        _step("cut", "slave", 1, 1.5, 1.6, "eth0"),
        _step("thaw", "master", 0, 3.0, 3.1),
        _step("heal", "slave", 1, 3.5, 3.6, "eth0"),
    ]
    holders = [
        *_held("master", 0.0, 2.0),
        *[(round(2.0 + i / 10, 3), ["master", "slave"]) for i in range(15)],
        *_held("slave", 3.5, 12.0),
    ]
    stats = overlap_stats(_timeline(holders, steps))
    assert stats["freeze"]["episodes"] == 1
    assert stats["freeze"]["two_holders_s"] == pytest.approx(1.5)
    assert stats["freeze"]["past_end_s"] == pytest.approx(0.4)
    assert stats["cut eth0"] == {"episodes": 1, "two_holders_s": 0.0, "past_end_s": 0.0}


def test_two_holders_only_when_one_is_seen_around_the_other() -> None:
    # a hand-over read between the nodes' reads: master gone, slave there
    assert holders_of([("master", True), ("slave", True), ("master", False), ("slave", True)]) == [
        "slave"
    ]
    # master seen before and after slave: both held at slave's read
    assert holders_of([("master", True), ("slave", True), ("master", True), ("slave", False)]) == [
        "master",
        "slave",
    ]
    assert holders_of([("master", False), ("slave", True), ("master", True), ("slave", True)]) == [
        "master",
        "slave",
    ]
    # a move back the other way, read in between
    assert holders_of([("master", False), ("slave", True), ("master", True), ("slave", False)]) == [
        "master"
    ]
    assert holders_of([("master", False), ("slave", False)] * 2) == []
    assert holders_of([("master", True), ("slave", False)] * 2) == ["master"]


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize(
    "path",
    sorted([*FIXTURES.glob("nemesis/*.json"), *FIXTURES.glob("nemesis-long/*.json")]),
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_every_kept_schedule_loads_and_ends_its_faults(path: Path) -> None:
    """The CI replays (nemesis/) and the hand runs (nemesis-long/) stay playable."""
    schedule = Schedule.load(path)
    assert schedule.impl == "hbnode" and schedule.note
    opened = [s for s in schedule.steps if s.action in OPENS]
    assert all(
        any(c.action in CLOSES and c.episode == s.episode for c in schedule.steps) for s in opened
    )
