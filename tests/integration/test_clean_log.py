"""The reference runs clean: a start, a failover, a failback and an orderly stop leave
no bad news (CTS's BadNews, tests/integration/badnews.py) in either node's ha-log.

What the lab's machine causes whatever the lab does (lab.memlock) is declared by the
lab_factory fixture; docs/heartbeat-in-the-lab.md tells every line that stays and why.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .badnews import ExpectedLog, scan, shutdone_standby_race
from .helpers import Cluster, wait_until

pytestmark = pytest.mark.failover  # the suite CI also runs on containers

STARTUP_TIMEOUT = 60.0
TAKEOVER_MARGIN = 6.0


def test_start_failover_failback_stop_leave_a_clean_log(
    lab_factory: Callable[..., Cluster], impl_spec: str, expect_log: ExpectedLog
) -> None:
    # Heartbeat's own race, not a line the scenario may leave by any fault of ours.
    why = "slave's orderly stop meets master's own standby step (a real Heartbeat's race)"
    expect_log(shutdone_standby_race("master"), why, ["master"])
    cluster = lab_factory(impl_spec)
    lab = cluster.lab
    cluster.startup("master", STARTUP_TIMEOUT)
    lab.poweroff("master")
    cluster.wait_holder("slave", cluster.deadtime + TAKEOVER_MARGIN)
    lab.poweron("master")
    cluster.wait_holder("master", 30.0)
    cluster.wait_page("master", 5.0)
    for node in ("slave", "master"):  # slave first: master's stop then has no one to hand to
        lab.service(node, "heartbeat", "stop")
    wait_until(lambda: not cluster.holders(), 10.0, "no VIP holder after the orderly stops")
    for node in ("master", "slave"):
        assert lab.daemon_pid(node) is None, f"{node}'s daemon still runs after its stop"
    assert scan(lab, expect_log) == []
    # The log is the whole scenario's: each node logged its own start.
    for node in ("master", "slave"):
        assert cluster.log(node).count("\n") > 10
