"""lab.wiring.in_netns: a netlink handle inside a namespace, without a child process.

The lab tests ask who holds the VIP every 50 ms while they wait; each question opens
two handles. pyroute2's NetNS forked a helper for each (about 9 ms of CPU), which
took nearly half the CPU of a lab test run (BENCHMARKS.md, "Lab tests in 14
minutes"). These run in the test process's own namespace, as root (setns needs it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab import wiring

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="setns needs root")


def test_a_handle_is_opened_without_forking(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise AssertionError("in_netns forked a child process")

    monkeypatch.setattr(os, "fork", no_fork)
    with wiring.in_netns("/proc/self/ns/net") as ns:
        addresses = [m.get("address") for m in ns.get_addr(family=2)]
    assert "127.0.0.1" in addresses


def test_the_handle_closes_its_socket() -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        with wiring.in_netns("/proc/self/ns/net") as ns:
            ns.get_links()
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_namespace_that_is_gone_is_not_created() -> None:
    name = f"hbunit-gone-{os.getpid()}"
    with pytest.raises(FileNotFoundError), wiring.in_netns(name):
        pass
    assert not Path(f"/run/netns/{name}").exists()
