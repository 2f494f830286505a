"""A topology file drives the lab: the redundant-links example heartbeats on both
segments, so cutting either cable alone is no failover."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .helpers import Cluster, holds_for

REDUNDANT = Path(__file__).resolve().parents[2] / "lab" / "topologies" / "redundant-links.yaml"


def test_cutting_one_of_two_media_is_no_failover(
    lab_factory: Callable[..., Cluster], impl_spec: str
) -> None:
    # One lab for both cables, one after the other: each cut is healed and the cluster
    # settled on master before the next, so the second starts from the state a fresh
    # lab would have (and a real Heartbeat's start-up, 11 s, is paid once).
    cluster = lab_factory(impl_spec, topology=REDUNDANT)
    cluster.startup("master", 60.0)
    hacf = cluster.lab.node_file("master", "/etc/ha.d/ha.cf").read_text()
    assert "bcast eth0" in hacf and "ucast eth1 172.16.254.28" in hacf
    assert cluster.lab.status()["nodes"]["master"]["netns"].endswith("-master")
    for iface in ("eth1", "eth0"):
        cluster.lab.link("master", iface, up=False)
        # No death, no takeover: the other medium carries the heartbeats.
        holds_for(
            lambda: (
                cluster.holders() == ["master"]
                and cluster.nodestatus("slave", "master") == "active"
            ),
            3 * cluster.deadtime,
            f"master keeps the VIP and slave sees it active with {iface} cut",
        )
        assert "is dead" not in cluster.log("slave"), f"with {iface} cut"
        cluster.lab.link("master", iface, up=True)
        cluster.settles_on("master", 10.0)
