"""Pure address arithmetic for IPaddr: find the interface, prefix, broadcast and alias label.

Kept apart from netlink so the choices IPaddr makes (protocol.md §6) are unit-tested on data.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from hbnode.config.ipspec import IPSpec
from hbnode.resources.errors import InterfaceError

IFNAMSIZ = 16  # the kernel's limit, NUL included: a label has at most 15 characters
MAX_ALIASES = 1024  # bound on the free-alias search; more is a broken host, not a choice


@dataclass(frozen=True, slots=True)
class IfAddr:
    """One IPv4 address as the kernel lists it (``ip -4 addr``)."""

    ifname: str
    index: int
    address: str
    prefix: int
    label: str
    broadcast: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and how a VIP goes: what ``ifconfig eth0:0 ip netmask m broadcast b`` would do."""

    ifname: str
    prefix: int
    broadcast: str | None
    label: str


def find_vip(addrs: Iterable[IfAddr], ip: str) -> IfAddr | None:
    """The address entry that holds ``ip`` on any interface (IPaddr's "already up" test)."""
    for entry in addrs:
        if entry.address == ip:
            return entry
    return None


def find_interface(addrs: Iterable[IfAddr], ip: str) -> IfAddr:
    """The address whose network holds ``ip``, longest prefix first (findif's route lookup).

    Loopback networks never count: a VIP inside 127/8 is a config error, not a choice.
    """
    target = ipaddress.IPv4Address(ip)
    best: IfAddr | None = None
    for entry in addrs:
        network = ipaddress.IPv4Network(f"{entry.address}/{entry.prefix}", strict=False)
        if network.is_loopback or network.prefixlen == 32 or target not in network:
            continue
        if best is None or entry.prefix > best.prefix:
            best = entry
    if best is None:
        raise InterfaceError(f"Unable to find an interface for {ip}: no network holds it")
    return best


def compute_broadcast(ip: str, prefix: int) -> str | None:
    """The directed broadcast of ``ip/prefix``; none for /31 and /32 (RFC 3021: no room)."""
    if prefix >= 31:
        return None
    network = ipaddress.IPv4Network(f"{ip}/{prefix}", strict=False)
    return str(network.broadcast_address)


def pick_alias(ifname: str, labels_in_use: Iterable[str]) -> str:
    """The first free ``ifname:N`` from N=0, as Heartbeat's IPaddr picks (protocol.md §6).

    IPaddr ignores a ``:label`` written in haresources and always takes the first
    free alias, so ``…/eth0:1`` may still come up as eth0:0.
    """
    used = set(labels_in_use)
    for number in range(MAX_ALIASES):
        label = f"{ifname}:{number}"
        if len(label) >= IFNAMSIZ:
            break
        if label not in used:
            return label
    raise InterfaceError(f"No free alias label on {ifname}")


def check_label(ifname: str, label: str) -> str:
    """``ifname:label`` as IPaddr2 builds it; the kernel wants it under IFNAMSIZ."""
    full = label if label.startswith(f"{ifname}:") else f"{ifname}:{label}"
    if len(full) >= IFNAMSIZ:
        raise InterfaceError(f"Interface label {full!r} is too long (at most 15 characters)")
    return full


def plan_placement(
    spec: IPSpec, addrs: Sequence[IfAddr], ifnames: Collection[str], *, keep_label: bool
) -> Placement:
    """Choose interface, prefix, broadcast and label for a VIP not yet on the host.

    The interface is the given nic, else the one whose network holds the IP (findif).
    The prefix and broadcast are the given ones, else that network's. ``keep_label``
    is IPaddr2's rule (``nic:label`` as written, or none); IPaddr takes the first free
    alias instead.
    """
    if spec.nic is not None:
        if spec.nic not in ifnames:
            raise InterfaceError(f"Interface {spec.nic} does not exist (for {spec.ip})")
        nic = spec.nic
        prefix = spec.prefix
        if prefix is None:
            on_nic = [entry for entry in addrs if entry.ifname == nic]
            try:
                prefix = find_interface(on_nic, spec.ip).prefix
            except InterfaceError:
                message = f"Unable to find netmask for {spec.ip} on {nic}: give ip/bits"
                raise InterfaceError(message) from None
    else:
        holder = find_interface(addrs, spec.ip)
        nic = holder.ifname
        prefix = holder.prefix if spec.prefix is None else spec.prefix
    if spec.broadcast == "-":  # IPaddr2's "brd -": the network address (ip(8))
        broadcast: str | None = str(ipaddress.IPv4Network(f"{spec.ip}/{prefix}", strict=False)[0])
    else:
        broadcast = spec.broadcast or compute_broadcast(spec.ip, prefix)
    if keep_label:
        label = check_label(nic, spec.label) if spec.label else nic
    else:
        label = pick_alias(nic, (entry.label for entry in addrs if entry.ifname == nic))
    return Placement(nic, prefix, broadcast, label)
