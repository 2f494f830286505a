"""lab.wiring.in_netns and lab.netsock.ipv4_addresses: a namespace's netlink handle and
its addresses, read without a child process.

The lab tests ask who holds the VIP every 50 ms while they wait; each question opens
two handles. pyroute2's NetNS forked a helper for each (about 9 ms of CPU), which
took nearly half the CPU of a lab test run (BENCHMARKS.md, "Lab tests in 14
minutes"). These run in the test process's own namespace, as root (setns needs it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyroute2 import netns

from lab import netsock, wiring

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="setns needs root")


def test_a_handle_is_opened_without_forking(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise AssertionError("in_netns forked a child process")

    monkeypatch.setattr(os, "fork", no_fork)
    with wiring.in_netns("/proc/self/ns/net") as ns:
        addresses = [m.get("address") for m in ns.get_addr(family=2)]
    assert "127.0.0.1" in addresses


def _open_netlink_sockets() -> set[str]:
    """This process's descriptors that are netlink sockets (fd -> socket inode)."""
    netlink = {
        f"socket:[{line.split()[-1]}]"
        for line in Path("/proc/self/net/netlink").read_text().splitlines()[1:]
    }
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target in netlink:
            found.add(f"{fd}:{target}")
    return found


def test_the_handle_closes_its_socket() -> None:
    # Only the netlink sockets are counted: under xdist this process also ran lab tests,
    # whose last threads and pipes may still be closing (CI saw 23 descriptors before
    # the loop and 14 after), and none of those is a netlink socket.
    before = _open_netlink_sockets()
    for _ in range(20):
        with wiring.in_netns("/proc/self/ns/net") as ns:
            ns.get_links()
    assert _open_netlink_sockets() <= before


def test_a_namespace_that_is_gone_is_not_created() -> None:
    name = f"hbunit-gone-{os.getpid()}"
    with pytest.raises(FileNotFoundError), wiring.in_netns(name):
        pass
    assert not Path(f"/run/netns/{name}").exists()


def test_ipv4_addresses_agree_with_rtnetlink() -> None:
    # The poll's cheap read (SIOCGIFCONF) and pyroute2's dump list the same addresses.
    found = netsock.ipv4_addresses("/proc/self/ns/net")
    with wiring.in_netns("/proc/self/ns/net") as ns:
        dumped = {m.get("address") for m in ns.get_addr(family=2)}
    assert {address for _, address in found} == dumped
    assert ("lo", "127.0.0.1") in found


def test_ipv4_addresses_list_every_label_past_the_first_buffer() -> None:
    # 40 addresses, alias labels among them, in a namespace of the test's own: more
    # than the first buffer holds (16), so the read must ask again, larger.
    name = f"hbunit-addrs-{os.getpid()}"
    netns.create(name)
    try:
        with wiring.in_netns(name) as ns:
            ns.link("add", ifname="br0", kind="bridge")
            index = ns.link_lookup(ifname="br0")[0]
            for n in range(40):
                label = "br0" if n % 2 else f"br0:{n}"
                ns.addr("add", index=index, address=f"10.9.{n}.1", prefixlen=24, label=label)
        before = len(os.listdir("/proc/self/fd"))
        found = netsock.ipv4_addresses(name)
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        netns.remove(name)
    assert len(found) == 40  # lo, down in a new namespace, has no 127.0.0.1 yet
    assert ("br0:2", "10.9.2.1") in found and ("br0", "10.9.3.1") in found  # br0 is down
