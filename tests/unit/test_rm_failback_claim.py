"""auto_failback on a claim, as Heartbeat's PerformAutoFailback: what we say we hold,
not which groups run.

Found by ``hblab cts --impl master=hbnode,slave=heartbeat`` (50 iterations, seed 41):
after a partition or a start alone, the hbnode master claims ``all``; the real
Heartbeat slave, back, read its own side as taken ("Local Resource acquisition
completed. (none)") and waited for the failback exchange that a Heartbeat master
sends, which hbnode skipped because the slave owns no group. The slave never logged
``Initial resource acquisition complete``: 6 of 33 CTS tests failed.
"""

from __future__ import annotations

from pathlib import Path

from tests.harness.node_pair import NodePair


def test_a_peer_back_while_we_claim_its_side_is_given_it_back_even_if_it_owns_nothing(
    tmp_path: Path,
) -> None:
    """master started alone and holds ``all``; the slave (which owns no group) starts.
    As Heartbeat's PerformAutoFailback does, master gives the foreign side back with
    the standby exchange: a real Heartbeat slave logs ``Initial resource acquisition
    complete`` only when that exchange ends (CTS's start criterion). Without the
    ipfail client, whose policy gives foreign groups up on its own, only failback
    can send it."""
    pair = NodePair(tmp_path, ipfail=False)
    pair.start("master")
    pair.run(14.0)
    assert pair.holders() == ["master"]
    since = len(pair.delivered["slave"])
    pair.start("slave")
    pair.run(6.0)
    asked = pair.received("slave", "ask_resources", since)
    assert [(m.get("rsc_hold"), m.get("info")) for m in asked if m.get("src") == "master"] == [
        ("foreign", "me"),
        ("foreign", "done"),
    ], asked
    assert pair.holders() == ["master"]
