"""The tutorial's failover scenarios, run against each implementation in HBLAB_IMPLS.

Margins: a takeover must complete within deadtime plus TAKEOVER_MARGIN (the real
Heartbeat runs shell resource scripts after declaring the peer dead).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from .badnews import CABLE_PULLED, LATE_AFTER_HEAL, PARTITION_RETURN, ExpectedLog
from .helpers import Cluster, holds_for, wait_until

pytestmark = pytest.mark.failover

TAKEOVER_MARGIN = 6.0
STARTUP_TIMEOUT = 60.0


def test_startup_master_takes_vip_and_nginx(
    lab_factory: Callable[..., Cluster], impl_spec: str, measure: Callable[..., None]
) -> None:
    cluster = lab_factory(impl_spec)
    took = cluster.startup("master", STARTUP_TIMEOUT)
    measure("startup_vip_s", took, impl=impl_spec)
    assert cluster.page() == "master"
    ifconfig = cluster.lab.run("master", ["ifconfig"], check=True).stdout
    assert "eth0:0" in ifconfig and "192.168.0.38" in ifconfig
    ps = cluster.lab.run("master", ["ps", "aux"], check=True).stdout
    assert "nginx: master process" in ps
    assert "nginx: master process" not in cluster.lab.run("slave", ["ps", "aux"]).stdout
    assert cluster.nodestatus("slave", "master") == "active"
    assert cluster.nodestatus("master", "slave") == "active"


def test_takeover_on_poweroff(
    lab_factory: Callable[..., Cluster], impl_spec: str, measure: Callable[..., None]
) -> None:
    cluster = lab_factory(impl_spec)
    cluster.startup("master", STARTUP_TIMEOUT)
    cluster.lab.poweroff("master")
    took = cluster.wait_holder("slave", cluster.deadtime + TAKEOVER_MARGIN)
    cluster.wait_page("slave", 5.0)
    measure("takeover_poweroff_s", took, impl=impl_spec, deadtime=cluster.deadtime)
    assert "node master: is dead" in cluster.log("slave")


def test_takeover_on_daemon_crash(
    lab_factory: Callable[..., Cluster], impl_spec: str, measure: Callable[..., None]
) -> None:
    cluster = lab_factory(impl_spec)
    cluster.startup("master", STARTUP_TIMEOUT)
    cluster.lab.crash("master")
    # kill -9 leaves the VIP on master (Heartbeat cannot release it): slave takes it too.
    took = wait_until(
        lambda: "slave" in cluster.holders(),
        cluster.deadtime + TAKEOVER_MARGIN,
        "slave takes the VIP after a crash",
    )
    measure("takeover_crash_s", took, impl=impl_spec)


@pytest.mark.parametrize("failback", ["on", "off"])
def test_auto_failback(
    lab_factory: Callable[..., Cluster], impl_spec: str, failback: str, measure: Callable[..., None]
) -> None:
    cluster = lab_factory(impl_spec, {"auto_failback": failback})
    cluster.startup("master", STARTUP_TIMEOUT)
    cluster.lab.poweroff("master")
    cluster.wait_holder("slave", cluster.deadtime + TAKEOVER_MARGIN)
    with cluster.arp_watch() as watch:
        cluster.lab.poweron("master")
        wait_until(
            lambda: cluster.nodestatus("slave", "master") == "active",
            30.0,
            "slave sees master active again",
        )
        if failback == "on":
            took = cluster.settles_on("master", 30.0)
            measure("failback_s", took, impl=impl_spec)
        else:
            holds_for(
                cluster.held_by("slave"),
                3 * cluster.deadtime,
                "the VIP stays on slave with auto_failback off",
            )
            assert cluster.page() == "slave"
    windows = watch.windows()
    measure(f"failback_{failback}_two_macs_s", round(windows.two_holders, 3), impl=impl_spec)
    measure(f"failback_{failback}_no_mac_s", round(windows.longest_no_holder, 3), impl=impl_spec)


def test_split_brain_and_heal(
    lab_factory: Callable[..., Cluster],
    impl_spec: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    expect_log(PARTITION_RETURN, "the split is healed")
    expect_log(LATE_AFTER_HEAL, "the split is healed")
    expect_log(r"Both machines own .* resources!", "both nodes hold the VIP until the heal")
    # Heartbeat's classic split-brain: no ping-based isolation policy in the way.
    cluster = lab_factory(impl_spec, {"hbnode_isolation": "off"})
    if not cluster.lab.pulls_carrier:  # a system engine: hblab link sets eth1 down
        expect_log(CABLE_PULLED, "master's eth1 is set down while the cable is out", ["master"])
    cluster.startup("master", STARTUP_TIMEOUT)
    with cluster.arp_watch() as watch:
        cluster.lab.link("master", "eth1", up=False)
        split = wait_until(
            cluster.held_by("master", "slave"),
            cluster.deadtime + TAKEOVER_MARGIN,
            "both nodes hold the VIP",
        )
        cluster.lab.link("master", "eth1", up=True)
        # auto_failback on: the owner ends up with it, and keeps it. Heartbeat
        # restarts both nodes after a heal (some 20 s); hbnode keeps one holder.
        healed = cluster.settles_on("master", 90.0)
    windows = watch.windows()
    measure("split_brain_after_s", split, impl=impl_spec)
    measure("heal_converged_s", healed, impl=impl_spec)
    measure("split_two_macs_s", round(windows.two_holders, 3), impl=impl_spec)
    measure("heal_longest_no_mac_s", round(windows.longest_no_holder, 3), impl=impl_spec)
    assert windows.two_holders > 0, "ARP never showed two holders during the split"


@pytest.mark.parametrize("ping", ["ping", "noping"])
def test_the_tutorial_split_brain_demo_ends_on_master(
    lab_factory: Callable[..., Cluster],
    impl_spec: str,
    ping: str,
    measure: Callable[..., None],
) -> None:
    """Pull master's eth1 for a while, plug it back: with auto_failback on, master holds
    the VIP in the end and keeps it (it once went to slave for good: ipfail acted on a
    ping count measured while cut off). One lab, cuts of several lengths in turn."""
    overrides = {} if ping == "ping" else {"ping": "", "respawn": ""}
    cluster = lab_factory(impl_spec, overrides)
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
