"""hblab cts, the parts that need no lab: patterns, timing, the log watcher, the audit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.cts import patterns
from lab.cts.logwatch import LogWatcher
from lab.cts.patterns import BAD_REGEXES, SPLIT_BRAIN_IGNORED, Timing
from lab.cts.resources import (
    Prober,
    Resource,
    audit_once,
    parse_groups,
    resource_audit,
    stopped_node_audit,
)

# Lines as the lab's nodes write them (hbnode and Heartbeat 3.0.6 alike).
STARTED = "Nov 30 16:02:41 master heartbeat: [137]: info: Initial resource acquisition complete"
DEAD = "Nov 30 16:05:01 slave heartbeat: [88]: WARN: node master: is dead"
STOPPED = "Nov 30 16:04:15 master heartbeat: [137]: info: master Heartbeat shutdown complete."


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses = 0

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.now += seconds
        self.pauses += 1


def _watcher(
    tmp_path: Path, regexes: list[str], timeout: float = 1.0
) -> tuple[LogWatcher, dict[str, Path], FakeClock]:
    files = {n: tmp_path / f"{n}.log" for n in ("master", "slave")}
    for path in files.values():
        path.write_text("old line: ERROR: before the watch\n")
    clock = FakeClock()
    watch = LogWatcher(files, regexes, timeout, clock=clock, pause=clock.pause)
    watch.setwatch()
    return watch, files, clock


def _append(path: Path, *lines: str) -> None:
    with path.open("a") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


@pytest.mark.parametrize(
    ("pattern", "args", "line"),
    [
        (patterns.WE_STARTED, "master", STARTED),
        (patterns.THEY_STOPPED, ("slave", "master"), DEAD),
        (patterns.THEY_STOPPED, ("", "master"), DEAD),  # DetectionTime's form
        (patterns.WE_STOPPED, "master", STOPPED),
        (patterns.ALL_STOPPED, "master", STOPPED),
        (patterns.THEY_DEAD, "master", DEAD),
    ],
)
def test_cm_hb_patterns_match_the_lines_the_nodes_write(
    pattern: str, args: str | tuple[str, str], line: str
) -> None:
    assert re.search(pattern % args, line)


def test_patterns_name_the_node() -> None:
    assert not re.search(patterns.WE_STARTED % "slave", STARTED)
    assert not re.search(patterns.THEY_STOPPED % ("master", "master"), DEAD)


@pytest.mark.parametrize(
    ("line", "bad"),
    [
        ("heartbeat: [1]: ERROR: Cannot rexmit pkt 12 for slave: seqno too low", True),
        ("heartbeat: [1]: CRIT: Resource STOP failure. Reboot required!", True),
        ("heartbeat: [1]: ERROR: Both machines own our resources!", True),
        ("heartbeat: [1]: info: Shutting down.", True),
        ("heartbeat: [1]: info: Authentication reparsing error, exiting.", True),
        ("heartbeat: [1]: WARN: node master: is dead", False),
        ("heartbeat: [1]: info: Heartbeat shutdown in progress. (137)", False),
    ],
)
def test_bad_regexes(line: str, bad: bool) -> None:
    assert any(re.search(r, line) for r in BAD_REGEXES) is bad


def test_split_brain_ignores_its_own_bad_news() -> None:
    line = "heartbeat: [9]: CRIT: Cluster node slave returning after partition."
    assert any(re.search(r, line) for r in SPLIT_BRAIN_IGNORED)


def test_timing_scales_cts_times_by_deadtime_over_30() -> None:
    fast = Timing(1.5)
    assert fast.scale == pytest.approx(0.05)
    assert fast.dead_time == pytest.approx(1.5)
    assert fast.stable_time == pytest.approx(1.5)
    assert fast.start_time == pytest.approx(4.5)
    assert fast.start_watch == pytest.approx(24.5)  # StartTime + 10 + RQSTDELAY
    assert fast.lite_watch == pytest.approx(11.5)  # the 10 is kept
    assert fast.lite_start_watch == pytest.approx(21.5)
    assert fast.partition_watch == pytest.approx(61.5)
    assert fast.stonith_up_watch == pytest.approx(45.0)
    assert fast.detection_watch == pytest.approx(3.0)
    seed = Timing(30.0)  # the tutorial's timers: CTS's own values
    assert (seed.dead_time, seed.stable_time, seed.start_time) == (30.0, 30.0, 90.0)
    assert [row[0] for row in fast.table()][:3] == ["DeadTime", "StableTime", "StartTime"]


def test_look_sees_only_lines_after_the_mark(tmp_path: Path) -> None:
    watch, files, clock = _watcher(tmp_path, ["ERROR:"], timeout=0)
    assert watch.look() is None  # the old ERROR line is before setwatch()
    assert clock.pauses == 0  # timeout 0: read to the end once, no waiting
    _append(files["slave"], "x heartbeat: [2]: ERROR: new")
    assert watch.look() == "x heartbeat: [2]: ERROR: new"
    assert watch.matched[-1][0] == "slave"
    assert watch.look() is None


def test_look_times_out_after_timeout_plus_one_second(tmp_path: Path) -> None:
    watch, _, clock = _watcher(tmp_path, ["never"], timeout=1.5)
    assert watch.look() is None
    assert clock.now == pytest.approx(2.5, abs=0.03)


def test_lookforall_needs_every_regex_on_any_file(tmp_path: Path) -> None:
    regexes = [patterns.THEY_STOPPED % ("slave", "master"), patterns.WE_STOPPED % "master"]
    watch, files, _ = _watcher(tmp_path, regexes, timeout=0)
    _append(files["master"], STOPPED)
    assert watch.lookforall() is None
    assert watch.unmatched == [regexes[0]]
    watch.setwatch()
    _append(files["master"], STOPPED)
    _append(files["slave"], "noise", DEAD)
    assert watch.lookforall() == [STOPPED, DEAD]
    assert watch.unmatched == []
    assert watch.regexes == regexes  # kept for the next look, as CTS restores them


def test_a_partial_line_waits_for_its_end(tmp_path: Path) -> None:
    watch, files, _ = _watcher(tmp_path, ["is dead"], timeout=0)
    with files["slave"].open("a") as handle:
        handle.write("slave heartbeat: node master: is de")
    assert watch.look() is None
    with files["slave"].open("a") as handle:
        handle.write("ad\n")
    assert watch.look() == "slave heartbeat: node master: is dead"


def test_a_truncated_log_is_read_from_its_start(tmp_path: Path) -> None:
    watch, files, _ = _watcher(tmp_path, ["ERROR:"], timeout=0)
    files["master"].write_text("ERROR: after truncation\n")
    assert watch.look() == "ERROR: after truncation"


def test_bad_regex_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(re.error):
        LogWatcher({}, ["(unclosed"])


HARESOURCES = """# the tutorial's
master 192.168.0.38/24/eth0:0 nginx
slave IPaddr::10.0.0.5 \\
  apache   # a comment on a continued line
"""


def test_parse_groups_reads_haresources_as_heartbeat_does() -> None:
    groups = parse_groups(HARESOURCES)
    assert groups == [
        [Resource("IPaddr", "192.168.0.38/24/eth0:0"), Resource("nginx")],
        [Resource("IPaddr", "10.0.0.5"), Resource("apache")],
    ]
    assert repr(groups[0][1]) == "{nginx}"
    assert "status" in groups[0][0].status_script()


class FakeProber(Prober):
    def __init__(self, running: dict[str, set[str]], working: bool = True) -> None:
        self.running = running  # resource type -> nodes
        self.working = working
        self.asked = 0

    def is_running_on(self, resource: Resource, node: str) -> bool:
        self.asked += 1
        return node in self.running.get(resource.type, set())

    def is_working_correctly(self, resource: Resource, node: str) -> bool:
        return self.working


GROUPS = parse_groups("master 192.168.0.38/24/eth0:0 nginx\n")
UP = ["master", "slave"]


def test_audit_passes_with_the_group_on_one_node() -> None:
    prober = FakeProber({"IPaddr": {"slave"}, "nginx": {"slave"}})
    assert audit_once(GROUPS, UP, prober) == (False, [])


def test_audit_twice_is_fatal_at_once() -> None:
    prober = FakeProber({"IPaddr": {"master", "slave"}, "nginx": {"master"}})
    fatal, problems = audit_once(GROUPS, UP, prober)
    assert fatal
    assert (
        problems[0]
        == "Resource {IPaddr::192.168.0.38/24/eth0:0} served too many times: ['master', 'slave']"
    )
    pauses: list[float] = []
    result = resource_audit(GROUPS, lambda: UP, prober, pauses.append)
    assert not result.ok and pauses == []  # "no tolerance granted"


def test_audit_split_group_and_not_working_are_fatal() -> None:
    split = FakeProber({"IPaddr": {"master"}, "nginx": {"slave"}})
    fatal, problems = audit_once(GROUPS, UP, split)
    assert fatal and "running on different nodes" in problems[0]
    broken = FakeProber({"IPaddr": {"master"}, "nginx": {"master"}}, working=False)
    fatal, problems = audit_once(GROUPS, UP, broken)
    assert fatal and "not operating properly" in problems[0]


def test_audit_unserved_is_retried_five_times_a_second_apart() -> None:
    prober = FakeProber({})
    pauses: list[float] = []
    result = resource_audit(GROUPS, lambda: UP, prober, pauses.append)
    assert not result.ok
    assert pauses == [1.0, 1.0, 1.0, 1.0]
    assert result.problems[0].endswith("not served anywhere.")


def test_audit_without_quorum_asks_nobody() -> None:
    prober = FakeProber({"IPaddr": {"master"}})
    assert audit_once(GROUPS, [], prober) == (False, [])
    assert prober.asked == 0


def test_stopped_node_audit_finds_resources_left_behind() -> None:
    prober = FakeProber({"nginx": {"slave"}})
    result = stopped_node_audit(GROUPS, ["slave"], prober)
    assert not result.ok
    assert result.problems == ["Resource {nginx} running on slave, where heartbeat is stopped"]
    assert stopped_node_audit(GROUPS, ["master"], prober).ok
