"""The Prometheus endpoint: metrics from real node snapshots, served over real HTTP.

Two whole nodes are stepped through start-up and a failover in virtual time; the
snapshot each one answers (``hbnode status --json``) is turned into metrics,
served by prometheus_client on 127.0.0.1 (an ephemeral port) and scraped back
with urllib, then read with prometheus_client's own text parser.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hbnode.control import ControlError
from hbnode.control_commands import snapshot
from hbnode.loopwatch import LoopWatch
from hbnode.metrics import MetricsServer, StatusCollector
from hbnode.rm import Action, ActionKind
from hbnode.takeovers import BUCKETS, TakeoverStats
from tests.harness.stepped_pair import SteppedPair

GROUP = "192.168.0.38/24/eth0:0"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def render(snap: dict[str, Any]) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(lambda: snap))
    return samples(generate_latest(registry).decode())


@pytest.fixture
def pair(tmp_path: Path) -> SteppedPair:
    pair = SteppedPair(tmp_path)
    pair.start("master")
    pair.start("slave")
    pair.step(15.0)
    return pair


def status(pair: SteppedPair, node: str, **extra: Any) -> dict[str, Any]:
    snap = snapshot(pair.nodes[node], pair.clock.now, pid=1)
    return {**snap, **extra}


def test_states_holdings_and_link_ages_of_a_settled_cluster(pair: SteppedPair) -> None:
    master = render(status(pair, "master"))
    slave = render(status(pair, "slave"))
    assert value(master, "hbnode_up") == 1
    assert value(master, "hbnode_info", node="master", version="0.1.0") == 1
    for state, expected in (("active", 1), ("dead", 0), ("init", 0), ("up", 0)):
        labels = {"node": "slave", "type": "normal", "state": state}
        assert value(master, "hbnode_node_state", **labels) == expected
    assert value(master, "hbnode_link_up", node="slave", type="normal", link="eth1") == 1
    age = value(
        master, "hbnode_link_last_heartbeat_age_seconds", node="slave", type="normal", link="eth1"
    )
    assert 0 <= age <= 0.25  # keepalive 250ms
    assert value(master, "hbnode_resource_group_held", group=GROUP, owner="master") == 1
    assert value(slave, "hbnode_resource_group_held", group=GROUP, owner="master") == 0
    assert value(master, "hbnode_holdings", holdings="local") == 1
    assert value(master, "hbnode_resource_group_state", group=GROUP, state="held") == 1
    assert value(master, "hbnode_comm_up") == 1
    assert value(master, "hbnode_late_heartbeats_total") == 0
    assert value(master, "hbnode_messages_dropped_total", reason="malformed") == 0


def test_a_dead_peer_and_its_link_as_the_survivor_sees_them(pair: SteppedPair) -> None:
    pair.up["master"] = False
    pair.step(3.0)
    slave = render(status(pair, "slave"))
    labels = {"node": "master", "type": "normal"}
    assert value(slave, "hbnode_node_state", state="dead", **labels) == 1
    assert value(slave, "hbnode_link_up", link="eth1", **labels) == 0
    age = value(slave, "hbnode_link_last_heartbeat_age_seconds", link="eth1", **labels)
    assert 3.0 <= age <= 3.3  # heard last when the plug was pulled
    assert value(slave, "hbnode_resource_group_held", group=GROUP, owner="master") == 1
    assert value(slave, "hbnode_holdings", holdings="all") == 1


def test_io_counters_and_takeovers_from_the_daemon_s_part(pair: SteppedPair) -> None:
    stats = TakeoverStats()
    for n, (reason, seconds, ok) in enumerate(
        [
            ("initial", 0.2, True),
            ("mach_down", 0.7, True),
            ("mach_down", 40.0, True),
            ("mach_down", 3.0, False),
        ]
    ):
        action = Action(n, ActionKind.ACQUIRE, GROUP, reason)
        stats.submitted(action, 100.0)
        stats.finished(action, ok, 100.0 + seconds, 1_700_000_000.0 + n)
    io = {"datagrams_received": 10, "datagrams_sent": 12, "rejected": {"bad_digest": 3}}
    found = render(status(pair, "master", io=io, takeovers=stats.to_json()))
    assert value(found, "hbnode_datagrams_rejected_total", reason="bad_digest") == 3
    assert value(found, "hbnode_datagrams_received_total") == 10
    assert value(found, "hbnode_takeovers_total", group=GROUP, reason="mach_down", result="ok") == 2
    failed = {"group": GROUP, "reason": "mach_down", "result": "failed"}
    assert value(found, "hbnode_takeovers_total", **failed) == 1
    name = "hbnode_takeover_duration_seconds"
    assert value(found, f"{name}_count", reason="mach_down") == 2  # successes only
    assert value(found, f"{name}_sum", reason="mach_down") == pytest.approx(40.7)
    assert value(found, f"{name}_bucket", reason="mach_down", le="0.5") == 0
    assert value(found, f"{name}_bucket", reason="mach_down", le="1.0") == 1
    assert value(found, f"{name}_bucket", reason="mach_down", le="30.0") == 1
    assert value(found, f"{name}_bucket", reason="mach_down", le="60.0") == 2
    assert value(found, f"{name}_bucket", reason="mach_down", le="+Inf") == 2
    last = value(found, "hbnode_last_takeover_timestamp_seconds", group=GROUP, reason="mach_down")
    assert last == 1_700_000_003.0


def test_only_acquisitions_are_takeovers() -> None:
    stats = TakeoverStats()
    release = Action(1, ActionKind.RELEASE, GROUP, "standby")
    stats.submitted(release, 0.0)
    stats.finished(release, True, 1.0, 1.0)
    assert stats.to_json()["total"] == [] and stats.started == {}
    slow = Action(2, ActionKind.ACQUIRE, GROUP, "initial")
    stats.submitted(slow, 0.0)
    assert stats.to_json()["in_flight"] == 1
    stats.finished(slow, True, 500.0, 1.0)  # beyond the last bound: the +Inf slot
    assert stats.durations["initial"].counts == [0] * len(BUCKETS) + [1]


def test_the_endpoint_serves_and_says_when_the_loop_does_not_answer(pair: SteppedPair) -> None:
    answers: list[dict[str, Any] | None] = [status(pair, "master"), None]

    def fetch() -> dict[str, Any]:
        snap = answers.pop(0)
        if snap is None:
            raise ControlError(0, "cannot reach hbnode")
        return snap

    server = MetricsServer("127.0.0.1", 0, fetch)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            assert reply.headers["Content-Type"].startswith("text/plain")
            first = samples(reply.read().decode())
        with urllib.request.urlopen(url, timeout=5) as reply:
            second = samples(reply.read().decode())
    finally:
        server.close()
    assert value(first, "hbnode_up") == 1 and ("hbnode_comm_up", ()) in first
    assert any(name.startswith("process_") for name, _ in first)  # the daemon's own
    assert value(second, "hbnode_up") == 0
    assert not any(n.startswith("hbnode_") and n != "hbnode_up" for n, _ in second)
    assert not server.thread.is_alive()


def test_a_taken_port_fails_at_construction() -> None:
    first = MetricsServer("127.0.0.1", 0, dict)
    try:
        with pytest.raises(OSError):
            MetricsServer("127.0.0.1", first.port, dict)
    finally:
        first.close()


def test_the_daemon_s_own_lateness(pair: SteppedPair) -> None:
    watch = LoopWatch(keepalive=0.25)
    watch.ran(due=10.0, now=18.25)
    found = render(status(pair, "master", loop=watch.to_json()))
    assert value(found, "hbnode_main_loop_late_total") == 1
    assert value(found, "hbnode_main_loop_worst_late_seconds") == 8.25
