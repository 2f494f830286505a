"""Figures and timeline data from a made-up trace of a takeover (pure)."""

from __future__ import annotations

import pytest

from lab.bench.analysis import arp_switch, detection, detection_from_events, metrics_of, outage
from lab.bench.timeline import NodeState, Segment, build, state_marks, state_segments
from lab.bench.trace import Trace

MASTER_MAC, SLAVE_MAC = "02:4c:61:62:00:12", "02:4c:61:62:00:1c"


def takeover() -> Trace:
    """master is powered off at t = 0; slave declares it dead at 1.60 and takes over."""
    trace = Trace(
        "hbnode",
        "poweroff",
        1,
        "poweroff master",
        "slave",
        "master",
        "slave",
        1.5,
        {MASTER_MAC: "master", SLAVE_MAC: "slave"},
        start=-1.0,
        end=3.0,
    )
    trace.http = [
        (-0.5, True, "master"),
        (0.02, False, None),
        (0.5, False, None),
        (1.9, True, "slave"),
        (2.0, False, None),
        (2.1, True, "slave"),
    ]
    trace.arp = [
        (-0.04, [MASTER_MAC]),
        (0.0, [MASTER_MAC]),
        (0.02, []),
        (1.72, [SLAVE_MAC]),
        (1.74, [SLAVE_MAC, MASTER_MAC]),
        (1.76, [SLAVE_MAC]),
    ]
    trace.neigh = [(-0.5, MASTER_MAC), (0.5, None), (1.78, SLAVE_MAC)]
    trace.packets = [
        (-0.75, "master", "eth1"),
        (-0.07, "master", "eth1"),
        (0.05, "master", "eth1 icmp"),
        (-0.05, "slave", "eth1"),
        (0.2, "slave", "eth1"),
    ]
    trace.log_lines = [
        (-1.0, "master", "info: Local status now set to: 'active'"),
        (-1.0, "slave", "info: Local status now set to: 'active'"),
        (1.0, "slave", "WARN: Late heartbeat: Node master"),
        (1.6, "slave", "heartbeat[9]: WARN: node master: is dead"),
    ]
    trace.events = [
        {"t": -0.07, "step": "last_heartbeat_heard", "node": "master", "source": "slave"},
        {"t": 1.58, "step": "peer_dead", "node": "master", "source": "slave"},
        {"t": 1.65, "step": "VIP added", "ip": "192.168.0.38", "source": "slave"},
        {"t": 1.0, "step": "link", "node": "master", "source": "slave"},
    ]
    trace.actions = [(0.0, "poweroff master")]
    return trace


def test_outage_is_the_longest_failed_run_after_the_fault() -> None:
    trace = takeover()
    assert outage(trace.http, trace.end) == pytest.approx(1.88)
    # Still failing at the end of the window: counts up to the end.
    assert outage([(0.1, True, "m"), (0.5, False, None)], 3.0) == pytest.approx(2.5)
    assert outage([(-1.0, False, None), (0.1, True, "m")], 3.0) == 0.0


def test_arp_switch_and_detection() -> None:
    trace = takeover()
    assert arp_switch(trace) == pytest.approx(1.78)
    # The ICMP at +0.05 (a dying kernel's error) is not a heartbeat: last one is -0.07.
    assert detection(trace) == pytest.approx(1.67)
    assert detection_from_events(trace) == pytest.approx(1.65)


def test_metrics_of_windows_two_and_no_holder() -> None:
    figures = metrics_of(takeover())
    assert figures["two_holders_s"] == pytest.approx(0.02)
    assert figures["no_holder_s"] == pytest.approx(1.70)
    assert figures["outage_s"] == pytest.approx(1.88)


def test_no_dead_line_no_detection() -> None:
    trace = takeover()
    trace.log_lines = trace.log_lines[:3]
    trace.events = []
    assert detection(trace) is None and detection_from_events(trace) is None


def test_state_marks_from_logs_and_actions() -> None:
    marks = state_marks(takeover())
    assert (0.0, "master", NodeState.OFF) in marks
    assert (1.6, "master", NodeState.DEAD) in marks
    assert marks == sorted(marks, key=lambda m: m[0])


def test_state_segments_keep_a_powered_off_node_off() -> None:
    segments = state_segments(state_marks(takeover()), "master", -1.0, 3.0)
    assert segments == [Segment(-1.0, 0.0, "active"), Segment(0.0, 3.0, "off")]
    assert state_segments([], "slave", -1.0, 3.0) == [Segment(-1.0, 3.0, "?")]


def test_state_segments_poweron_clears_off() -> None:
    marks = [
        (0.0, "m", NodeState.OFF),
        (1.0, "m", NodeState.DEAD),
        (2.0, "m", NodeState.INIT),
        (2.5, "m", NodeState.ACTIVE),
    ]
    assert state_segments(marks, "m", -1.0, 3.0) == [
        Segment(-1.0, 0.0, "?"),
        Segment(0.0, 2.0, "off"),
        Segment(2.0, 2.5, "init"),
        Segment(2.5, 3.0, "active"),
    ]


def test_build_timeline_lanes_and_marks() -> None:
    timeline = build(takeover())
    assert timeline.nodes == ["master", "slave"]
    assert timeline.states["slave"] == [Segment(-1.0, 3.0, "active")]
    assert timeline.ticks == {
        "master eth1": [-0.75, -0.07],
        "master eth1 icmp": [0.05],
        "slave eth1": [-0.05, 0.2],
    }
    assert timeline.holders["master"] == [
        Segment(-0.04, 0.02, "master"),
        Segment(1.74, 1.76, "master"),
    ]
    assert timeline.holders["slave"][0].start == 1.72
    assert timeline.http_fail == [0.02, 0.5, 2.0]
    labels = [(m.node, m.label) for m in timeline.marks]
    # hbnode's events name the steps (noisy "link" left out); its ha-log lines are not repeated.
    assert labels == [
        ("slave", "last_heartbeat_heard master"),
        ("master", "poweroff master"),
        ("slave", "peer_dead master"),
        ("slave", "VIP added"),
    ]


def test_build_uses_heartbeat_log_lines_without_an_event_log() -> None:
    trace = takeover()
    trace.events = []
    trace.log_lines.append((1.7, "slave", "mach_down[3]: info: Taking over resource group 192"))
    labels = [m.label for m in build(trace).marks]
    assert labels == ["poweroff master", "peer_dead master", "takeover"]


def test_build_clips_to_a_window() -> None:
    timeline = build(takeover(), 1.0, 2.0)
    assert timeline.start == 1.0 and timeline.http_ok == [1.9]
    assert all(1.0 <= m.t <= 2.0 for m in timeline.marks)
