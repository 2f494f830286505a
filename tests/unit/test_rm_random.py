"""Seeded random scenarios: whatever happened, a settled cluster holds each group once.

Crashes, orderly stops, restarts, partitions and heals, operator requests, and
(in some seeds) failing starts, in random order and at random moments. After the
storm the network heals and every node runs; once the cluster has settled,
every group must run on exactly one node and every node must be stable.
"""

from __future__ import annotations

import random

import pytest

from hbnode.config.hacf import AutoFailback
from tests.harness.rm_sim import NODES, RmClusterSim

MODES = [AutoFailback.ON, AutoFailback.OFF, AutoFailback.LEGACY]


def storm(c: RmClusterSim, rng: random.Random, steps: int, *, rough: bool = False) -> None:
    for _ in range(steps):
        node = rng.choice(NODES)
        other = next(n for n in NODES if n != node)
        running = c.sims[node].rm is not None
        choice = rng.randrange(11 if rough else 8)
        if choice == 0 and running:
            c.crash(node)
        elif choice == 1 and running and not c.rm(node).shutdown_done():
            c.stop(node)
        elif choice == 2 and not running:
            c.boot(node)
        elif choice == 3:
            c.partition(node, other)
        elif choice == 4:
            c.heal(node, other)
        elif choice == 5 and running and c.auto_failback is not AutoFailback.LEGACY:
            what = rng.choice(["all", "local", "foreign", "failback"])
            c.call(node, lambda rm, w=what: rm.standby(w, c.now))
        elif choice == 6 and running and c.auto_failback is not AutoFailback.LEGACY:
            what = rng.choice(["all", "local", "foreign", "failback"])
            c.call(node, lambda rm, w=what: rm.takeover(w, c.now))
        elif choice == 8:
            c.ping_cut.symmetric_difference_update({node})
        elif choice == 9:
            group = rng.choice(c.groups).key
            c.fail_next(node, rng.choice(["acquire", "release"]), group, rng.choice([1, 2, 12]))
        elif choice == 10:
            c.partition(node, other)
            c.ping_cut.add(node)  # the node's only cable: peer and ping nodes gone
        c.run(rng.choice([0.05, 0.3, 1.0, 3.0, 11.0, 25.0]))


@pytest.mark.parametrize("seed", range(150))
def test_settles_to_one_holder_per_group(seed: int) -> None:
    rng = random.Random(seed)
    c = RmClusterSim(auto_failback=MODES[seed % 3])
    c.boot(*NODES)
    c.run(rng.choice([0.1, 5.0, 15.0]))
    storm(c, rng, 12)
    c.cut.clear()
    c.run(2)  # a node that was stopping has exited by now
    for name in NODES:
        if c.sims[name].rm is None:
            c.boot(name)
    c.run(90)
    holders = {g.key: sorted(n for n in NODES if g.key in c.running[n]) for g in c.groups}
    assert all(len(h) == 1 for h in holders.values()), (seed, holders)
    assert all(c.rm(n).stable() for n in NODES), seed
    # What each node claims agrees with what really runs there.
    for name in NODES:
        status = c.rm(name).status()
        for key, entry in status.items():
            assert isinstance(entry, dict)
            assert (entry["state"] == "held") == (key in c.running[name]), (seed, name, key)


@pytest.mark.parametrize("seed", range(150))
def test_with_ping_nodes_isolation_and_failures(seed: int) -> None:
    rng = random.Random(1000 + seed)
    c = RmClusterSim(
        auto_failback=MODES[seed % 3], ping_nodes=["10.0.0.254"], isolation=seed % 2 == 0
    )
    c.boot(*NODES)
    c.run(rng.choice([0.1, 5.0, 15.0]))
    storm(c, rng, 14, rough=True)
    c.cut.clear()
    c.ping_cut.clear()
    c.fail.clear()
    c.run(2)
    for name in NODES:
        if c.sims[name].rm is None:
            c.boot(name)
    c.run(120)
    holders = {g.key: sorted(n for n in NODES if g.key in c.running[n]) for g in c.groups}
    # A group whose start failed where nobody could take it stays down: at most one,
    # and nobody only if a start of it failed somewhere.
    assert all(len(h) <= 1 for h in holders.values()), (seed, holders)
    for key, holder in holders.items():
        states = {n: c.rm(n).status()[key] for n in NODES}
        failed = [n for n, st in states.items() if isinstance(st, dict) and st["state"] == "failed"]
        assert holder or failed, (seed, key, states)
    assert all(c.rm(n).stable() for n in NODES), seed
