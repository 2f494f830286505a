"""Two whole Nodes (core + resource manager + glue) in virtual time.

This checks the glue: who tells whom, and the words in the log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hbnode.control_commands import answer, snapshot
from tests.harness.stepped_pair import SteppedPair


def test_start_up_takeover_and_failback(tmp_path: Path) -> None:
    pair = SteppedPair(tmp_path)
    pair.start("master")
    pair.start("slave")
    pair.step(15.0)
    assert pair.holds == {"master": {"192.168.0.38/24/eth0:0"}, "slave": set()}
    assert pair.nodes["master"].core.node_status("slave") == "active"
    assert "Link slave:eth1 up." in pair.log("master")
    # Power off master: slave takes over after deadtime.
    pair.up["master"] = False
    pair.step(3.0)
    assert pair.holds["slave"] == {"192.168.0.38/24/eth0:0"}
    assert "node master: is dead" in pair.log("slave")
    snap = snapshot(pair.nodes["slave"], pair.clock.now, pid=1)
    assert snap["rscstatus"] in ("all", "foreign")


@pytest.mark.parametrize("what", ["all"])
def test_standby_moves_the_group(tmp_path: Path, what: str) -> None:
    pair = SteppedPair(tmp_path)
    pair.start("master")
    pair.start("slave")
    pair.step(15.0)
    reply = answer(pair.nodes["master"], {"cmd": "standby", "what": what}, pair.clock.now, pid=1)
    assert reply.get("ok"), reply
    pair.step(3.0)
    assert pair.holds == {"master": set(), "slave": {"192.168.0.38/24/eth0:0"}}
