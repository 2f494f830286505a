"""The real IPaddr agent and gratuitous ARP, inside a throwaway network namespace.

The namespace holds a veth pair: the agent works on one end, an AF_PACKET socket on
the other end captures what it sends. Nothing is created in the root namespace: the
links are made inside the namespace, the code runs in a forked child that setns()'d
into it, and removing the namespace removes everything it held.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import pytest
from pyroute2 import IPRoute, NetNS, netns

from hbnode.config.haresources import parse_haresources_text
from hbnode.resources import garp
from hbnode.resources.agent import AgentContext, GroupStatus, run_group
from hbnode.resources.ipaddr import GarpSettings, read_addrs

pytestmark = pytest.mark.lab

PID = os.getpid()
NS_NAME = f"hbrt-{PID}"
AGENT_IF = f"hbrt{PID}a"  # the node's NIC; under IFNAMSIZ with ":N" added
PEER_IF = f"hbrt{PID}b"  # the "switch" side, where frames are captured
BASE = "10.77.0.1"
VIP = "10.77.0.50"
VIP2 = "10.77.0.51"


@pytest.fixture
def namespace() -> Iterator[str]:
    """A namespace with a veth pair, lo up and BASE/24 on the agent side; always removed."""
    name = f"{NS_NAME}-{time.monotonic_ns() % 100000}"
    netns.create(name)
    try:
        with NetNS(name) as ns:
            ns.link("add", ifname=AGENT_IF, kind="veth", peer={"ifname": PEER_IF})
            for ifname in ("lo", AGENT_IF, PEER_IF):
                ns.link("set", index=ns.link_lookup(ifname=ifname)[0], state="up")
            index = ns.link_lookup(ifname=AGENT_IF)[0]
            ns.addr("add", index=index, address=BASE, prefixlen=24)
        yield name
    finally:
        netns.remove(name)
    assert name not in netns.listnetns()


def capture_socket() -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(garp.ETH_P_ARP))
    sock.bind((PEER_IF, garp.ETH_P_ARP))
    return sock


def gratuitous_frames(sock: socket.socket, ip: str, want: int, timeout: float) -> list[Any]:
    """Wait for ``want`` gratuitous ARPs for ``ip`` (or the timeout); other ARP is skipped."""
    frames: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(frames) < want and (left := deadline - time.monotonic()) > 0:
        if not select.select([sock], [], [], left)[0]:
            break
        try:
            frame = garp.parse_arp_frame_untrusted(sock.recv(2048))
        except Exception:
            continue
        if frame.is_gratuitous and frame.sender_ip == ip:
            frames.append(frame)
    return frames


def addr_table() -> dict[str, tuple[str, str, int, str | None]]:
    with IPRoute() as ipr:
        return {a.address: (a.ifname, a.label, a.prefix, a.broadcast) for a in read_addrs(ipr)}


def in_namespace(name: str, scenario: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``scenario`` in a forked child that joined the namespace; returns its dict."""
    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe(duplex=False)

    def child(conn: Connection) -> None:
        try:
            netns.setns(name)
            conn.send(("ok", scenario()))
        except BaseException:
            conn.send(("error", traceback.format_exc()))
        finally:
            conn.close()

    proc = ctx.Process(target=child, args=(child_end,))
    proc.start()
    child_end.close()
    try:
        if not parent_end.poll(60.0):
            pytest.fail("the namespace scenario did not finish in 60 s")
        kind, payload = parent_end.recv()
    finally:
        proc.join(10.0)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if kind != "ok":
        pytest.fail(f"scenario failed in the namespace:\n{payload}")
    assert isinstance(payload, dict)
    return payload


def inline_context(count: int = 3) -> AgentContext:
    return AgentContext(garp_settings=GarpSettings(count=count, interval=0.05, background=False))


def group_of(line: str) -> Any:
    return parse_haresources_text(f"master {line}\n")[0]


def scenario_start_stop_status() -> dict[str, Any]:
    group = group_of(f"{VIP}/24/{AGENT_IF}:0 {VIP2}")
    context = inline_context()
    cap = capture_socket()
    events: list[tuple[str, dict[str, Any]]] = []
    out: dict[str, Any] = {"before": run_group(group, "status", context=context).status}
    log = lambda step, fields: events.append((step, fields))  # noqa: E731
    out["acquire"] = run_group(group, "acquire", context=context, log=log)
    out["addrs_up"] = addr_table()
    out["frames"] = gratuitous_frames(cap, VIP, 3, 5.0)
    out["frames2"] = gratuitous_frames(cap, VIP2, 3, 5.0)
    with IPRoute() as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname=AGENT_IF)[0])[0]
        out["mac"] = bytes.fromhex(link.get_attr("IFLA_ADDRESS").replace(":", ""))
    out["up"] = run_group(group, "status", context=context).status
    out["again"] = run_group(group, "acquire", context=context)  # idempotent, ARPs again
    out["frames_again"] = gratuitous_frames(cap, VIP, 3, 5.0)
    out["addrs_again"] = addr_table()
    out["release"] = run_group(group, "release", context=context, log=log)
    out["addrs_down"] = addr_table()
    out["down"] = run_group(group, "status", context=context).status
    out["release_again"] = run_group(group, "release", context=context)
    out["announce_absent"] = run_group(group, "announce", context=context)
    out["events"] = [step for step, _ in events]
    return out


def test_ipaddr_start_stop_status(namespace: str) -> None:
    out = in_namespace(namespace, scenario_start_stop_status)
    assert out["before"] is GroupStatus.NONE
    assert out["acquire"].ok, out["acquire"].error
    up = out["addrs_up"]
    assert up[VIP] == (AGENT_IF, f"{AGENT_IF}:0", 24, "10.77.0.255")
    assert up[VIP2] == (AGENT_IF, f"{AGENT_IF}:1", 24, "10.77.0.255")  # next free alias
    assert up[BASE][1] == AGENT_IF  # the primary address is untouched
    for ip, key in ((VIP, "frames"), (VIP2, "frames2")):
        frames = out[key]
        assert len(frames) == 3, f"{ip}: {len(frames)} frames"
        for frame in frames:
            assert frame.op is garp.ArpOp.REQUEST
            assert frame.eth_dst == garp.BROADCAST_MAC == frame.target_mac
            assert frame.eth_src == frame.sender_mac == out["mac"]
            assert frame.sender_ip == frame.target_ip == ip
    assert out["up"] is GroupStatus.ALL
    assert out["again"].ok and len(out["frames_again"]) == 3
    assert out["addrs_again"] == up  # nothing added twice
    assert out["release"].ok
    assert VIP not in out["addrs_down"] and VIP2 not in out["addrs_down"]
    assert BASE in out["addrs_down"]
    assert out["down"] is GroupStatus.NONE
    assert out["release_again"].ok  # already gone is success
    assert not out["announce_absent"].ok
    assert "is not on this host" in (out["announce_absent"].error or "")
    steps = out["events"]
    assert steps.index("VIP added") < steps.index("GARP sent") < steps.index("VIP removed")


def scenario_errors() -> dict[str, Any]:
    context = inline_context()
    missing = run_group(group_of(f"{VIP}/24/hbrtnone0"), "acquire", context=context)
    nowhere = run_group(group_of("192.0.2.7"), "acquire", context=context)
    return {"missing": missing, "nowhere": nowhere, "addrs": addr_table()}


def test_ipaddr_errors(namespace: str) -> None:
    out = in_namespace(namespace, scenario_errors)
    assert not out["missing"].ok
    assert "Interface hbrtnone0 does not exist" in out["missing"].error
    assert not out["nowhere"].ok
    assert "Unable to find an interface for 192.0.2.7" in out["nowhere"].error
    assert set(out["addrs"]) == {"127.0.0.1", BASE}


def scenario_background_burst() -> dict[str, Any]:
    group = group_of(f"IPaddr2::{VIP}/24/{AGENT_IF}:web")
    settings = GarpSettings(count=4, interval=0.2, background=True)
    context = AgentContext(garp_settings=settings)
    cap = capture_socket()
    began = time.monotonic()
    acquire = run_group(group, "acquire", context=context)
    acquire_s = time.monotonic() - began
    addrs = addr_table()
    frames = gratuitous_frames(cap, VIP, 4, 5.0)
    # A long burst, then a release in the middle of it: the rest must not be sent.
    long_context = AgentContext(garp_settings=GarpSettings(count=50, interval=0.1))
    run_group(group, "acquire", context=long_context)
    first = gratuitous_frames(cap, VIP, 2, 5.0)
    run_group(group, "release", context=long_context)
    after_release = gratuitous_frames(cap, VIP, 50, 0.5)
    return {
        "acquire": acquire,
        "acquire_s": acquire_s,
        "addrs": addrs,
        "frames": len(frames),
        "first": len(first),
        "after_release": len(after_release),
        "active": long_context.garp_jobs.active(),
    }


def test_background_burst_and_cancel_on_stop(namespace: str) -> None:
    out = in_namespace(namespace, scenario_background_burst)
    assert out["acquire"].ok, out["acquire"].error
    assert out["acquire_s"] < 0.5  # returned after the first frame, not 0.6 s of burst
    assert out["addrs"][VIP] == (AGENT_IF, f"{AGENT_IF}:web", 24, "10.77.0.255")
    assert out["frames"] == 4
    assert out["first"] == 2
    assert out["after_release"] <= 1  # at most one in flight when stop cancelled it
    assert out["active"] == []
