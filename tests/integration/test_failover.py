"""The tutorial's failover scenarios that a scenario file cannot say, run against each
implementation in HBLAB_IMPLS.

Start-up, takeover on poweroff and crash, auto_failback and split brain are scenario
files now (tests/scenarios, run by test_scenarios.py). What stays here loops on one
lab: a cut of several lengths in turn, each judged by the state that lasts.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from .badnews import CABLE_PULLED, LATE_AFTER_HEAL, PARTITION_RETURN, ExpectedLog
from .helpers import Cluster

pytestmark = pytest.mark.failover

STARTUP_TIMEOUT = 60.0


@pytest.mark.parametrize("ping", ["ping", "noping"])
def test_the_tutorial_split_brain_demo_ends_on_master(
    lab_factory: Callable[..., Cluster],
    impl_spec: str,
    ping: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    """Pull master's eth1 for a while, plug it back: with auto_failback on, master holds
    the VIP in the end and keeps it (it once went to slave for good: ipfail acted on a
    ping count measured while cut off). One lab, cuts of several lengths in turn."""
    overrides = {} if ping == "ping" else {"ping": "", "respawn": ""}
    expect_log(PARTITION_RETURN, "each cut longer than deadtime heals")
    expect_log(LATE_AFTER_HEAL, "each cut longer than deadtime heals")
    expect_log(r"Both machines own .* resources!", "both nodes hold the VIP until the heal")
    cluster = lab_factory(impl_spec, overrides)
    if not cluster.lab.pulls_carrier:  # a system engine: hblab link sets eth1 down
        expect_log(CABLE_PULLED, "master's eth1 is set down while the cable is out", ["master"])
    cluster.startup("master", STARTUP_TIMEOUT)
    # hbnode heals without a restart: master within deadtime + 1 s, whatever the cut. A
    # real Heartbeat node restarts itself after a partition (give up, sleep deadtime +
    # 1 s, start again, some 20 s): one cut, and a wider limit.
    cuts = (0.5, 2.0, 6.0) if cluster.hbnode_only else (6.0,)
    limit = cluster.deadtime + 1.0 if cluster.hbnode_only else 90.0
    for cut in cuts:
        cluster.lab.link("master", "eth1", up=False)
        time.sleep(cut)  # the length of the cut: the fault itself, not a wait for anything
        cluster.lab.link("master", "eth1", up=True)
        took = cluster.settles_on("master", limit)
        measure(f"heal_{ping}_{cut:g}s_master_after_s", round(took, 3), impl=impl_spec)
