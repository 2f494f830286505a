"""Namespaces, bridges and veth cables, through netlink (pyroute2).

Every link is created inside the lab's switch namespace with its peer placed
directly into the host's namespace, so nothing, not even for a moment, appears
in the machine's root namespace.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

from lab import netsock
from lab.errors import LabError
from lab.topology import Host, Interface, Topology


class WiringError(LabError):
    """A step of building or driving the lab failed (printed as one line)."""


@contextmanager
def in_netns(name: str) -> Iterator[Any]:
    """An rtnetlink handle inside the namespace ``name`` (or a /proc/PID/ns/net path),
    for the calling thread.

    pyroute2's ``NetNS`` forks a helper to open each handle's socket in the namespace:
    about 9 ms of CPU. Here a short-lived thread opens the socket inside the namespace
    (lab.netsock, no fork: about 0.9 ms) and pyroute2 drives it. (Who holds the VIP,
    asked every 50 ms while tests wait, reads the addresses more cheaply still:
    :func:`has_address`.) A namespace that is gone raises FileNotFoundError; it is
    never created here.
    """
    sock = netsock.run_in_netns(name, _rtnetlink_socket)
    try:
        ns = IPRoute(use_socket=sock)
    except BaseException:
        sock.close()
        raise
    try:
        yield ns
    finally:
        ns.close()


def _rtnetlink_socket() -> socket.socket:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)


def existing_namespaces() -> set[str]:
    return set(netns.listnetns())


def create_namespace(name: str) -> None:
    if name in existing_namespaces():
        raise WiringError(f"network namespace {name} already exists (is the lab up? try down)")
    netns.create(name)


def remove_namespace(name: str) -> None:
    if name in existing_namespaces():
        netns.remove(name)


def switch_port(host: str, iface: str) -> str:
    """The switch-side name of a host's cable (at most 15 characters, IFNAMSIZ)."""
    return f"{host}-{iface}"[:15]


def build_switch(topo: Topology) -> None:
    with in_netns(topo.switch_netns) as sw:
        for seg in topo.segments:
            # STP off and no forwarding delay: a replugged cable forwards at once.
            sw.link("add", ifname=seg.bridge, kind="bridge", br_stp_state=0, br_forward_delay=0)
            sw.link("set", index=_index(sw, seg.bridge), state="up")


def _index(ns: Any, ifname: str) -> int:
    found = ns.link_lookup(ifname=ifname)
    if not found:
        raise WiringError(f"no interface {ifname}")
    return int(found[0])


def cable_host(topo: Topology, host: Host) -> None:
    """Create the host's veth cables, plug them into bridges, address them."""
    host_ns = topo.netns_of(host.name)
    bridges = {seg.name: seg.bridge for seg in topo.segments}
    with in_netns(topo.switch_netns) as sw:
        for iface in host.interfaces:
            port = switch_port(host.name, iface.name)
            sw.link(
                "add",
                ifname=port,
                kind="veth",
                peer={"ifname": iface.name, "net_ns_fd": host_ns, "address": iface.mac},
            )
            sw.link(
                "set", index=_index(sw, port), master=_index(sw, bridges[iface.segment]), state="up"
            )
    with in_netns(host_ns) as ns:
        ns.link("set", index=_index(ns, "lo"), state="up")
        for iface in host.interfaces:
            configure_interface(ns, iface, up=True)


def configure_interface(ns: Any, iface: Interface, up: bool) -> None:
    """Give ``iface`` its static address (with broadcast) and set it up or down."""
    idx = _index(ns, iface.name)
    addr = iface.address
    try:
        ns.addr(
            "add",
            index=idx,
            address=str(addr.ip),
            prefixlen=addr.network.prefixlen,
            broadcast=str(addr.network.broadcast_address),
        )
    except NetlinkError as exc:
        if exc.code != 17:  # EEXIST: already configured, fine after a reboot
            raise
    ns.link("set", index=idx, state="up" if up else "down")


def set_link(host_ns: str, ifname: str, up: bool) -> None:
    with in_netns(host_ns) as ns:
        ns.link("set", index=_index(ns, ifname), state="up" if up else "down")


def set_carrier(host_ns: str, ifname: str, far_ns: str, up: bool) -> None:
    """Set the other end of the host's veth ``ifname`` (in ``far_ns``) down or up: the
    host's interface loses or regains its carrier, as when a cable is pulled."""
    with in_netns(host_ns) as ns:
        peer = ns.get_links(_index(ns, ifname))[0].get("IFLA_LINK")
    if peer is None:
        raise WiringError(f"{ifname} in {host_ns} is not a veth: no cable end to pull")
    with in_netns(far_ns) as far:
        far.link("set", index=peer, state="up" if up else "down")


def power_cut(topo: Topology, host: Host) -> None:
    """What a machine's NICs look like after the plug is pulled: down, no aliases.

    Addresses the daemon added (the VIP) live in RAM on a real box; they are gone
    when it boots again, so drop everything but the static address.
    """
    with in_netns(topo.netns_of(host.name)) as ns:
        for iface in host.interfaces:
            idx = _index(ns, iface.name)
            ns.link("set", index=idx, state="down")
            for msg in ns.get_addr(index=idx, family=2):
                if msg.get("address") != str(iface.address.ip):
                    ns.addr(
                        "del", index=idx, address=msg.get("address"), prefixlen=msg["prefixlen"]
                    )


def addresses(host_ns: str) -> dict[str, list[dict[str, str]]]:
    """{ifname: [{"address": "a/b", "label": "eth0:0"}, ...]} (IPv4 only)."""
    result: dict[str, list[dict[str, str]]] = {}
    with in_netns(host_ns) as ns:
        names = {link["index"]: link.get("ifname") for link in ns.get_links()}
        for msg in ns.get_addr(family=2):
            name = names.get(msg["index"], "?")
            cidr = f"{msg.get('address')}/{msg['prefixlen']}"
            result.setdefault(name, []).append({"address": cidr, "label": msg.get("label")})
    return result


IFF_UP, IFF_LOWER_UP = 0x1, 0x10000  # linux/if.h: set up, and a carrier


def link_states(host_ns: str) -> dict[str, str]:
    """``up``, ``down`` (set down), or ``no-carrier`` (set up, cable pulled)."""
    with in_netns(host_ns) as ns:
        return {
            link.get("ifname"): _state(link["flags"])
            for link in ns.get_links()
            if link.get("ifname") != "lo"
        }


def _state(flags: int) -> str:
    if not flags & IFF_UP:
        return "down"
    return "up" if flags & IFF_LOWER_UP else "no-carrier"


def has_address(host_ns: str, ip: ipaddress.IPv4Address) -> bool:
    """Does any interface of the namespace carry ``ip`` (lab.netsock.ipv4_addresses)?"""
    return any(address == str(ip) for _, address in netsock.ipv4_addresses(host_ns))
