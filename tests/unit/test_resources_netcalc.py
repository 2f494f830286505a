"""IPaddr's choices on data: interface, prefix, broadcast, alias label (protocol.md §6)."""

from __future__ import annotations

import re

import pytest

from hbnode.config.haresources import IPSpec
from hbnode.resources.errors import InterfaceError
from hbnode.resources.netcalc import (
    IfAddr,
    Placement,
    check_label,
    compute_broadcast,
    find_interface,
    find_vip,
    pick_alias,
    plan_placement,
)

LO = IfAddr("lo", 1, "127.0.0.1", 8, "lo")
ETH0 = IfAddr("eth0", 2, "192.168.0.10", 24, "eth0", "192.168.0.255")
ETH0_ALIAS = IfAddr("eth0", 2, "192.168.0.38", 24, "eth0:0", "192.168.0.255")
ETH1 = IfAddr("eth1", 3, "10.0.0.1", 8, "eth1")
ETH2 = IfAddr("eth2", 4, "10.1.2.1", 24, "eth2")
HOST = [LO, ETH0, ETH0_ALIAS, ETH1, ETH2]
IFNAMES = {"lo", "eth0", "eth1", "eth2", "eth3"}


@pytest.mark.parametrize(
    ("ip", "prefix", "expected"),
    [
        ("192.168.0.38", 24, "192.168.0.255"),
        ("10.1.2.3", 8, "10.255.255.255"),
        ("172.16.5.4", 22, "172.16.7.255"),
        ("10.0.0.1", 30, "10.0.0.3"),
        ("10.0.0.1", 31, None),
        ("10.0.0.1", 32, None),
        ("10.0.0.1", 0, "255.255.255.255"),
    ],
)
def test_compute_broadcast(ip: str, prefix: int, expected: str | None) -> None:
    assert compute_broadcast(ip, prefix) == expected


def test_find_interface_takes_the_longest_prefix() -> None:
    assert find_interface(HOST, "10.1.2.77") == ETH2  # both eth1 /8 and eth2 /24 hold it
    assert find_interface(HOST, "10.9.9.9") == ETH1
    assert find_interface(HOST, "192.168.0.200").ifname == "eth0"


def test_find_interface_ignores_loopback_and_host_routes() -> None:
    with pytest.raises(
        InterfaceError, match=re.escape("Unable to find an interface for 127.0.0.9")
    ):
        find_interface(HOST, "127.0.0.9")
    host_only = [IfAddr("eth5", 9, "172.20.0.1", 32, "eth5")]
    with pytest.raises(InterfaceError):
        find_interface(host_only, "172.20.0.1")


def test_find_interface_no_network() -> None:
    with pytest.raises(InterfaceError, match="no network holds it"):
        find_interface(HOST, "203.0.113.5")


def test_find_vip() -> None:
    assert find_vip(HOST, "192.168.0.38") == ETH0_ALIAS
    assert find_vip(HOST, "192.168.0.39") is None


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        ([], "eth0:0"),
        (["eth0"], "eth0:0"),
        (["eth0", "eth0:0"], "eth0:1"),
        (["eth0:0", "eth0:1", "eth0:3"], "eth0:2"),  # the first gap, as IPaddr scans from 0
        (["eth1:0", "eth0:web"], "eth0:0"),  # other interfaces' labels do not count
    ],
)
def test_pick_alias(used: list[str], expected: str) -> None:
    assert pick_alias("eth0", used) == expected


def test_pick_alias_respects_ifnamsiz() -> None:
    assert pick_alias("abcdefghijklm", []) == "abcdefghijklm:0"  # 15 characters
    with pytest.raises(InterfaceError, match="No free alias"):
        pick_alias("abcdefghijklmn", [])  # 16 characters would not fit
    with pytest.raises(InterfaceError):
        pick_alias("abcdefghijklm", [f"abcdefghijklm:{n}" for n in range(10)])  # :10 too long
    assert pick_alias("abcdefghijkl", [f"abcdefghijkl:{n}" for n in range(10)]).endswith(":10")


def test_check_label() -> None:
    assert check_label("eth0", "web") == "eth0:web"
    assert check_label("eth0", "eth0:web") == "eth0:web"
    with pytest.raises(InterfaceError, match="too long"):
        check_label("eth0", "averylonglabel")


def test_plan_placement_ipaddr_from_the_network() -> None:
    spec = IPSpec("192.168.0.40")
    assert plan_placement(spec, HOST, IFNAMES, keep_label=False) == Placement(
        "eth0", 24, "192.168.0.255", "eth0:1"
    )


def test_plan_placement_ipaddr_ignores_the_written_label() -> None:
    spec = IPSpec("192.168.0.40", 24, "eth0", "5")
    assert plan_placement(spec, HOST, IFNAMES, keep_label=False).label == "eth0:1"


def test_plan_placement_ipaddr2_keeps_the_label_or_none() -> None:
    labelled = IPSpec("192.168.0.40", 24, "eth0", "web")
    assert plan_placement(labelled, HOST, IFNAMES, keep_label=True).label == "eth0:web"
    bare = IPSpec("192.168.0.40", 24, "eth0")
    assert plan_placement(bare, HOST, IFNAMES, keep_label=True).label == "eth0"


def test_plan_placement_given_prefix_and_broadcast_win() -> None:
    spec = IPSpec("10.1.2.50", 25, None, None, "10.1.2.250")
    assert plan_placement(spec, HOST, IFNAMES, keep_label=False) == Placement(
        "eth2", 25, "10.1.2.250", "eth2:0"
    )


def test_plan_placement_given_nic() -> None:
    spec = IPSpec("10.1.2.50", None, "eth1")  # eth1's /8 holds it too; the nic decides
    assert plan_placement(spec, HOST, IFNAMES, keep_label=False) == Placement(
        "eth1", 8, "10.255.255.255", "eth1:0"
    )


def test_plan_placement_missing_nic() -> None:
    with pytest.raises(InterfaceError, match="Interface eth9 does not exist"):
        plan_placement(IPSpec("10.1.2.50", 24, "eth9"), HOST, IFNAMES, keep_label=False)


def test_plan_placement_nic_without_network_needs_bits() -> None:
    with pytest.raises(
        InterfaceError, match=re.escape("Unable to find netmask for 10.5.0.1 on eth3")
    ):
        plan_placement(IPSpec("10.5.0.1", None, "eth3"), HOST, IFNAMES, keep_label=False)
    placed = plan_placement(IPSpec("10.5.0.1", 16, "eth3"), HOST, IFNAMES, keep_label=False)
    assert placed == Placement("eth3", 16, "10.5.255.255", "eth3:0")


def test_plan_placement_no_network_no_nic() -> None:
    with pytest.raises(InterfaceError, match=re.escape("203.0.113.5")):
        plan_placement(IPSpec("203.0.113.5", 24), HOST, IFNAMES, keep_label=False)
