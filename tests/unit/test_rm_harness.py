"""The resource manager harness itself (tests/harness/rm_sim.py): loopback, dest, deadtime."""

from __future__ import annotations

from tests.harness.rm_sim import RmClusterSim


def test_loopback_and_dest_filtering() -> None:
    c = RmClusterSim()
    c.boot("master", "slave")
    c.run(0.5)
    starting = c.messages(kind="starting")
    assert [m.get("src") for m in starting] == ["master", "slave"]
    # ip-request-resp to ourselves (HA_DONTASK) reaches nobody else.
    c.run(12)
    resp = c.messages(kind="ip-request-resp")
    assert {(m.get("src"), m.get("dest")) for m in resp} == {
        ("master", "master"),
        ("slave", "slave"),
    }


def test_membership_declares_a_silent_node_dead_after_deadtime() -> None:
    c = RmClusterSim()
    c.boot("master", "slave")
    c.run(15)
    c.crash("slave")
    c.run(9.5)
    assert c.rm("master").holdings() == "local"
    c.run(1.0)
    assert c.rm("master").holdings() == "all"
