"""The core harness itself (tests/harness/core_sim.py): two nodes come up, the network is seeded."""

from __future__ import annotations

import random

from hbnode.core import events as ev
from tests.harness.core_sim import CoreClusterSim, FakeNetwork


def test_two_nodes_come_up_and_stay_up() -> None:
    cluster = CoreClusterSim()
    cluster.start_all()
    cluster.run_until(10.0)
    for name, peer in (("master", "slave"), ("slave", "master")):
        core = cluster.cores[name]
        assert core.comm_up()
        assert core.node_status(peer) == "active"
        assert core.node_status(name) == "active"
        assert core.link_status(peer, "eth1") == "up"
        assert core.link_status(name, "eth1") == "up"  # our own echo
        # Both heard each other's st=init and st=up at once: comm up once reqnodes
        # is answered, and the peer's next status says active.
        links = [(e.now, e.node, e.new) for e in cluster.of_type(name, ev.LinkStatusChanged)]
        assert sorted(links) == [(0.001, "master", "up"), (0.001, "slave", "up")]
        assert [e.now for e in cluster.of_type(name, ev.CommUp)] == [0.003]
        assert cluster.status_changes(name, peer) == [
            (0.001, "init", "up"),
            (0.004, "up", "active"),
        ]
        counters = core.counters()
        assert counters["lost"] == counters["duplicate"] == counters["malformed"] == 0


def test_network_loses_duplicates_and_reorders_with_a_seed() -> None:
    net = FakeNetwork(["eth1"], random.Random(7))
    net.set_all(loss=0.5, duplicate=0.5, jitter=1.0)
    for index in range(200):
        net.send("a", ["b"], bytes([index]), now=0.0)
    arrivals = [item.data[0] for item in net.pop_due(10.0)]
    assert 60 < len(set(arrivals)) < 140  # about half lost
    assert len(arrivals) > len(set(arrivals))  # some duplicated
    assert arrivals != sorted(arrivals)  # reordered
