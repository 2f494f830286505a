"""Fencing in the lab (hblab up --fencing): real ipmi_sim BMCs, real ipmitool, real
cluster-glue ``stonith`` and its external/ipmi plugin, on every pairing.

Each scenario is judged by the state that lasts and by the BMCs' own event log
(lab.bmc.agent: when a reset or power command reached a BMC). Where the real
Heartbeat behaves differently from hbnode, the test says so.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from lab.bmc import launch

from .badnews import BOTH_OWN, CABLE_PULLED, LATE_AFTER_HEAL, PARTITION_RETURN, ExpectedLog
from .helpers import Cluster, wait_until

NO_PING = {"ping": ""}  # the scenarios of the issue: no ping node to tell the sides apart
# A real Heartbeat takes over a fenced node's groups when its STONITH completes, even
# when the node is already back and holds them (an hbnode node is, within a second):
# it logs this until hbnode asks it to go standby (hbnode.rm.partition).
LATE_MACH_DOWN = r"ERROR: Both machines own foreign resources!"
# A reset that cannot reach the BMC, in both implementations' words (and the plugin's).
RESET_FAILED = (
    r"ERROR: (stonith -T reset master: exit \d+|Host master not reset!"
    r"|STONITH of master failed\.  Retrying\.\.\."
    r"|glib: external_reset_req: 'ipmi reset' for host master failed with rc \d+)"
)


def _late_mach_down(c: Cluster, expect_log: ExpectedLog) -> None:
    if c.impl("slave") == "heartbeat" and c.impl("master") == "hbnode":
        why = "slave's STONITH of master completes after master is back"
        expect_log(LATE_MACH_DOWN, why, ["slave"])


def _events(c: Cluster, since: float, event: str) -> list[dict[str, Any]]:
    return [e for e in launch.events(c.lab) if e["t"] >= since and e.get("event") == event]


def _power_offs(c: Cluster, since: float) -> list[str]:
    return [e["node"] for e in _events(c, since, "power_off")]


def _impl(c: Cluster, node: str) -> str:
    return c.impl(node)


def _both_seconds(
    samples: list[tuple[float, frozenset[str]]], after: float = 0.0, before: float = float("inf")
) -> float:
    """Seconds during which two nodes held the VIP (sampled), between ``after`` and
    ``before`` (monotonic)."""
    total = 0.0
    for (t0, nodes), (t1, _) in itertools.pairwise(samples):
        if len(nodes) > 1 and after <= t0 < before:
            total += t1 - t0
    return total


def _none_seconds(samples: list[tuple[float, frozenset[str]]]) -> float:
    return sum(t1 - t0 for (t0, n), (t1, _) in itertools.pairwise(samples) if not n)


def _fenced_cluster(
    lab_factory: Callable[..., Cluster], impl_spec: str, expect_log: ExpectedLog
) -> Cluster:
    """A lab with BMCs and no ping node, master holding the VIP."""
    c = lab_factory(impl_spec, NO_PING, fencing=True)
    _late_mach_down(c, expect_log)
    c.startup("master")
    return c


def test_the_bmcs_answer_ipmi_from_the_other_node(lab_factory: Callable[..., Cluster]) -> None:
    c = lab_factory("hbnode", fencing=True)
    c.startup("master")
    for node, bmc in (("slave", "192.168.100.118"), ("master", "192.168.100.128")):
        # lanplus as people type it (-C 3: ipmi_sim 2.0.33 does not answer the cipher
        # suite query, see lab.bmc), and IPMI 1.5 as the stonith_host line uses it.
        for iface in (["-I", "lanplus", "-C", "3"], ["-I", "lan"]):
            argv = ["ipmitool", *iface, "-H", bmc, "-U", "admin", "-P", "hbfence"]
            done = c.lab.run(node, [*argv, "chassis", "power", "status"], timeout=30)
            assert done.stdout.strip() == "Chassis Power is on", done.stderr
    status = c.lab.status()["nodes"]
    assert status["masterbmc"]["bmc"] == {
        "bmc_for": "master",
        "ipmi": "192.168.100.118:623",
        "answers": "on",
    }
    check = c.lab.run("master", ["hbnode", "check"], timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


def test_eth1_cut_without_ping_node_exactly_one_node_survives(
    lab_factory: Callable[..., Cluster],
    impl_spec: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    c = lab_factory(impl_spec, NO_PING, fencing=True)
    if not c.lab.pulls_carrier:  # an engine the lab cannot reach into: eth1 is set down
        expect_log(CABLE_PULLED, "the nodes' eth1 are set down while the cables are out")
    if c.impl("slave") == "heartbeat":
        # A real Heartbeat slave may take the group over while its cable is out (it has
        # no fence-race delay and resets master at each boot), so the replug is the heal
        # of a split brain: both hold the VIP until master's claim (seen in CI once).
        why = "the cables are plugged back while a Heartbeat slave holds the group"
        expect_log(BOTH_OWN, why)
        expect_log(PARTITION_RETURN, why)
        expect_log(LATE_AFTER_HEAL, why)
    c.startup("master")
    addrs = c.addr_watch()
    addrs.start()
    try:
        cut, cut_wall = time.monotonic(), time.time()
        c.lab.link("master", "eth1", False)  # both lose the heartbeat link at once
        c.lab.link("slave", "eth1", False)
        wait_until(lambda: bool(_power_offs(c, cut_wall)), 60, "a BMC powered a node off")
        fenced_at = time.monotonic()
        if c.impl("slave") == "hbnode":
            # hbnode's fence-race delay: slave waits, so only it is reset (by master,
            # of either implementation); master keeps the VIP. Slave boots with its
            # cable still out and, never having heard master since, neither resets it
            # nor takes anything (hbnode.rm.fencing).
            c.settles_on("master", 60)
            assert _power_offs(c, cut_wall) == ["slave"]
        offs = _power_offs(c, cut_wall)
        # A reboot does not plug a cable back. A real Heartbeat has no tie-break and no
        # such guard: it resets its peer again at every boot while the cables are out
        # (a STONITH deathmatch). The operator plugs both back; master ends with it.
        replugged = time.monotonic()
        for node in ("master", "slave"):
            c.lab.replug(node, "eth1", 60)
        c.settles_on("master", 120)
    finally:
        addrs.stop()
    measure("fenced_nodes", ",".join(offs))
    measure("fence_after_cut_s", round(fenced_at - cut, 3))
    measure("two_holders_before_fence_s", round(_both_seconds(addrs.samples), 3))
    measure("two_holders_after_fence_s", round(_both_seconds(addrs.samples, fenced_at), 3))
    measure("no_holder_s", round(_none_seconds(addrs.samples), 3))
    # None once the fence acted, until the cables are back (after that, a real Heartbeat
    # slave that took the group over while cut off hands it back as any heal does).
    assert _both_seconds(addrs.samples, fenced_at + 0.2, replugged) == 0.0


@pytest.mark.parametrize("spec", ["hbnode", "master=hbnode,slave=heartbeat"])
def test_a_holder_back_before_the_peers_fence_delay_ends_leaves_its_owner_the_group(
    lab_factory: Callable[..., Cluster], spec: str, measure: Callable[..., None]
) -> None:
    """Slave holds master's group and is reset; it is back before master's fence-race
    delay ends, so master calls its reset off. That restart was the reset: master
    takes its group back (CI of 38be7fc, where a reset queued before master's own
    reboot reached slave late, and the group stayed on nobody for good)."""
    # A delay no boot outlasts, so the reset is called off on every machine.
    c = lab_factory(spec, {**NO_PING, "hbnode_stonith_delay": "20"}, fencing=True)
    c.startup("master")
    done = c.tool("master", "hb_standby", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    c.settles_on("slave", 20)  # the exchange is over (a reset inside it: the unit tests)
    reset_wall = time.time()
    c.lab.poweroff("slave")  # a reset (of a machine slower to boot than deadtime)
    wait_until(
        lambda: "STONITH: resetting slave in 20 s" in c.log("master"),
        30,
        "master declares slave dead and waits to reset it",
    )
    c.lab.poweron("slave")
    wait_until(
        lambda: "STONITH of slave called off: it is alive" in c.log("master"),
        30,
        "master calls its reset of slave off",
    )
    took = c.settles_on("master", 30)
    measure("master_holds_after_call_off_s", round(took, 3), impl=spec)
    assert "slave restarted: 192.168.0.38/24/eth0:0 run nowhere" in c.log("master")
    assert _power_offs(c, reset_wall) == []  # nobody was reset through a BMC


def test_kill9_of_the_holders_daemon_the_peer_fences_then_takes_over(
    lab_factory: Callable[..., Cluster],
    impl_spec: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    c = _fenced_cluster(lab_factory, impl_spec, expect_log)
    addrs = c.addr_watch()
    addrs.start()
    try:
        killed, killed_wall = time.monotonic(), time.time()
        c.lab.crash("master")  # the VIP and nginx stay behind
        wait_until(lambda: _power_offs(c, killed_wall) == ["master"], 60, "master reset")
        reset = time.monotonic() - killed
        c.settles_on("master", 90)  # master rebooted, came back; auto_failback
    finally:
        addrs.stop()
    slave_log = c.log("slave")
    assert "Resetting node master with" in slave_log
    assert "node master now reset." in slave_log
    measure("reset_after_kill_s", round(reset, 3))
    measure("two_holders_s", round(_both_seconds(addrs.samples), 3))
    if c.impl("slave") == "heartbeat" and c.impl("master") == "hbnode":
        # The real Heartbeat takes master's group when its reset completes, even when
        # master is back and holds it already: hbnode's master asks it to go standby
        # (hbnode.rm.partition: after 2 s, then its standby exchange).
        assert _both_seconds(addrs.samples) < 8.0
    else:
        assert _both_seconds(addrs.samples) == 0.0  # without fencing: 2.3-2.6 s


def test_poweroff_of_the_holder_the_bmc_answers_off(
    lab_factory: Callable[..., Cluster],
    impl_spec: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    c = _fenced_cluster(lab_factory, impl_spec, expect_log)
    bmc = c.lab.host("masterbmc")
    off_wall = time.time()
    c.lab.poweroff("master")
    wait_until(lambda: launch.ipmi_power(c.lab, bmc) == "off", 10, "masterbmc answers off")
    # external/ipmi's reset of a node that is off is "power on" (its reset action checks
    # the status first): the fence boots master again, on both implementations.
    wait_until(
        lambda: any(e.get("request") == "power 1" for e in _events(c, off_wall, "request")),
        60,
        "the fence powered master on",
    )
    took = wait_until(lambda: "node master now reset." in c.log("slave"), 60, "reset reported")
    measure("reset_reported_s", round(took, 3))
    c.settles_on("master", 90)


def test_an_unreachable_bmc_means_no_takeover_until_it_is_back(
    lab_factory: Callable[..., Cluster],
    impl_spec: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    c = _fenced_cluster(lab_factory, impl_spec, expect_log)
    expect_log(RESET_FAILED, "master's BMC is unreachable: each reset fails", ["slave"])
    c.lab.link("masterbmc", "eth0", False)  # master's BMC loses its cable
    killed_wall = time.time()
    c.lab.crash("master")
    failed = "STONITH of master failed.  Retrying..."
    # With a real Heartbeat master, two failed resets, not one. With the BMC back
    # after the first, the reset came 27 s after the crash, and once (CI of 897dfbd)
    # the slave's late takeover met the rebooted master's start: a real Heartbeat
    # slave then never fails back, and only an hbnode owner asks for its group
    # (hbnode/rm/owed.py; RELIABILITY.md, "Fencing"). Two failures move the reset
    # away from that race.
    resets = 1 if c.impl("master") == "hbnode" else 2
    wait_until(lambda: c.log("slave").count(failed) >= resets, 120, f"{resets} failed reset(s)")
    assert c.holders() == ["master"]  # no takeover: master's VIP is still the only one
    assert "Host master not reset!" in c.log("slave")
    assert _power_offs(c, killed_wall) == []
    back = time.monotonic()
    c.lab.link("masterbmc", "eth0", True)
    wait_until(lambda: _power_offs(c, killed_wall) == ["master"], 90, "the retry resets master")
    measure("reset_after_bmc_back_s", round(time.monotonic() - back, 3))
    c.settles_on("master", 90)
