"""IPaddr / IPaddr2: the VIP through netlink (hbnode.resources.rtnl), then gratuitous ARP.

Start (protocol.md §6): an address already on the host is success, but we still ARP,
since a peer's stale ARP cache is what a takeover must fix. Otherwise the address goes
on with an ``eth0:N`` label so ``ifconfig`` shows the alias as Heartbeat's did, the
interface is brought up (``ifconfig eth0:0 …`` does that too), and ARP follows.
Stop cancels that VIP's ARP burst and deletes the address; already gone is success.
"""

from __future__ import annotations

import enum
import errno
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hbnode.config.haresources import Resource
from hbnode.config.ipspec import IPSpec
from hbnode.resources import garp
from hbnode.resources.base import Emit, ResourceStatus
from hbnode.resources.errors import GarpError, InterfaceError, ResourceError
from hbnode.resources.netcalc import IfAddr, Placement, find_vip, plan_placement
from hbnode.resources.rtnl import NetlinkError, RtNetlink

# RtNetlink, or any pyroute2 IPRoute-like object (IPRoute(), NetNS(…)) in a test.
NetlinkFactory = Callable[[], Any]
_GONE = frozenset({errno.EADDRNOTAVAIL, errno.ENODEV, errno.ESRCH, errno.ENOENT})
_IFF_UP = 0x1


class IPKind(enum.Enum):
    IPADDR = "IPaddr"  # first free eth0:N alias; ARP_REPEAT 10
    IPADDR2 = "IPaddr2"  # label only if given; 5 ARPs


@dataclass(frozen=True, slots=True)
class GarpSettings:
    """How many gratuitous ARPs, how far apart, which kinds; background or inline."""

    count: int = garp.ARP_REPEAT
    interval: float = garp.ARP_INTERVAL
    ops: tuple[garp.ArpOp, ...] = (garp.ArpOp.REQUEST,)
    background: bool = True  # IPaddr's ARP_BACKGROUND=yes: start returns after frame 1

    @classmethod
    def for_kind(cls, kind: IPKind) -> GarpSettings:
        return cls(count=garp.ARP_REPEAT if kind is IPKind.IPADDR else garp.IPADDR2_ARP_REPEAT)


@dataclass(frozen=True, slots=True)
class VipState:
    """Where a VIP is (or went): what start reports in its events."""

    ip: str
    ifname: str
    label: str
    prefix: int
    broadcast: str | None
    added: bool  # False: it was already there


@contextmanager
def _netlink(factory: NetlinkFactory) -> Iterator[Any]:
    try:
        ipr = factory()
    except OSError as exc:
        raise ResourceError(f"cannot open netlink: {exc.strerror or exc}") from exc
    try:
        yield ipr
    finally:
        ipr.close()


def read_addrs(ipr: Any) -> list[IfAddr]:
    """All IPv4 addresses with their interface names and labels."""
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
    found = []
    for msg in ipr.get_addr(family=socket.AF_INET):
        index = msg["index"]
        ifname = names.get(index, str(index))
        found.append(
            IfAddr(
                ifname=ifname,
                index=index,
                address=msg.get_attr("IFA_ADDRESS") or msg.get_attr("IFA_LOCAL"),
                prefix=msg["prefixlen"],
                label=msg.get_attr("IFA_LABEL") or ifname,
                broadcast=msg.get_attr("IFA_BROADCAST"),
            )
        )
    return found


def _links(ipr: Any) -> dict[str, tuple[int, int]]:
    """ifname → (index, flags)."""
    return {
        link.get_attr("IFLA_IFNAME"): (link["index"], link["flags"]) for link in ipr.get_links()
    }


def add_vip(spec: IPSpec, kind: IPKind, ipr: Any) -> VipState:
    """Put the VIP on its interface unless it is already on one (IPaddr's start)."""
    addrs = read_addrs(ipr)
    present = find_vip(addrs, spec.ip)
    if present is not None:
        return VipState(
            spec.ip, present.ifname, present.label, present.prefix, present.broadcast, False
        )
    links = _links(ipr)
    place: Placement = plan_placement(spec, addrs, links, keep_label=kind is IPKind.IPADDR2)
    index, flags = links[place.ifname]
    extra = {} if place.broadcast is None else {"broadcast": place.broadcast}
    try:
        ipr.addr(
            "add",
            index=index,
            address=spec.ip,
            prefixlen=place.prefix,
            label=place.label,
            **extra,
        )
    except NetlinkError as exc:
        if exc.code != errno.EEXIST:  # added meanwhile by someone else: still success
            raise ResourceError(f"cannot add {spec.ip} to {place.label}: {exc}") from exc
    if not flags & _IFF_UP:
        try:
            ipr.link("set", index=index, state="up")
        except NetlinkError as exc:
            raise InterfaceError(f"cannot bring {place.ifname} up: {exc}") from exc
    return VipState(spec.ip, place.ifname, place.label, place.prefix, place.broadcast, True)


def remove_vip(ip: str, ipr: Any) -> IfAddr | None:
    """Delete the VIP wherever it is; returns what was removed, None if it was not there."""
    present = find_vip(read_addrs(ipr), ip)
    if present is None:
        return None
    try:
        ipr.addr("del", index=present.index, address=ip, prefixlen=present.prefix)
    except NetlinkError as exc:
        if exc.code in _GONE:  # removed meanwhile: stop is still a success
            return None
        raise ResourceError(f"cannot remove {ip} from {present.label}: {exc}") from exc
    return present


def vip_status(ip: str, ipr: Any) -> ResourceStatus:
    """Running if the address is on any interface."""
    found = find_vip(read_addrs(ipr), ip)
    return ResourceStatus.STOPPED if found is None else ResourceStatus.RUNNING


def _ms(since: float) -> float:
    return round((time.monotonic() - since) * 1000.0, 3)


class IPAddrAgent:
    """The IPaddr / IPaddr2 resource: ``IPaddr::10.0.0.9/24/eth0:0/10.0.0.255``."""

    idempotent_start = True

    def __init__(
        self,
        resource: Resource,
        *,
        netlink: NetlinkFactory = RtNetlink,
        garp_settings: GarpSettings | None = None,
        garp_jobs: garp.GarpJobs | None = None,
        garp_socket: Callable[[str], garp.GarpSocket] = garp.GarpSocket,
    ) -> None:
        if resource.ip is None:
            raise ResourceError(f"{resource.raw}: not an IP resource")
        self.resource = resource
        self.spec: IPSpec = resource.ip
        self.kind = IPKind(resource.script)
        self.netlink = netlink
        self.garp_settings = garp_settings or GarpSettings.for_kind(self.kind)
        self.garp_jobs = garp_jobs or garp.GarpJobs()
        self.garp_socket = garp_socket

    @property
    def name(self) -> str:
        return self.resource.raw

    def start(self, emit: Emit, timeout: float) -> None:
        """Add the VIP (if absent) and announce it. Netlink does not block: no timeout."""
        began = time.monotonic()
        with _netlink(self.netlink) as ipr:
            state = add_vip(self.spec, self.kind, ipr)
        emit(
            "VIP added" if state.added else "VIP already present",
            {
                "resource": self.name,
                "ip": state.ip,
                "ifname": state.ifname,
                "label": state.label,
                "prefix": state.prefix,
                "broadcast": state.broadcast,
                "ms": _ms(began),
            },
        )
        try:
            self.announce(emit, state.ifname)
        except GarpError as exc:
            # IPaddr runs send_arp in the background and never fails a start on it: the
            # VIP is up, peers just learn it later (or from the first packet it sends).
            fields = {"resource": self.name, "ip": state.ip, "ifname": state.ifname}
            emit("GARP failed", {**fields, "error": str(exc)})

    def announce(self, emit: Emit, ifname: str | None = None) -> int:
        """Gratuitous ARP for the VIP; returns frames sent so far (the first round if
        background). Raises ResourceError if the VIP is not on the host."""
        if ifname is None:
            with _netlink(self.netlink) as ipr:
                present = find_vip(read_addrs(ipr), self.spec.ip)
            if present is None:
                raise ResourceError(f"{self.spec.ip} is not on this host: nothing to announce")
            ifname = present.ifname
        began = time.monotonic()
        settings = self.garp_settings
        burst = garp.GarpBurst(
            ifname,
            self.spec.ip,
            count=settings.count,
            interval=settings.interval,
            ops=settings.ops,
            open_socket=self.garp_socket,
        )
        mac = burst.mac.hex(":")
        # Background is IPaddr's ARP_BACKGROUND=yes: the rest of the group need not wait.
        sent = self.garp_jobs.start(burst) if settings.background else garp.run_burst(burst)
        emit(
            "GARP sent",
            {
                "resource": self.name,
                "ip": self.spec.ip,
                "ifname": ifname,
                "mac": mac,
                "frames": sent,
                "planned": settings.count * len(settings.ops),
                "interval_ms": round(settings.interval * 1000),
                "background": settings.background,
                "ms": _ms(began),
            },
        )
        return sent

    def stop(self, emit: Emit, timeout: float) -> None:
        """Cancel the VIP's ARP burst and remove it; an absent VIP is success."""
        began = time.monotonic()
        self.garp_jobs.cancel(self.spec.ip)
        with _netlink(self.netlink) as ipr:
            removed = remove_vip(self.spec.ip, ipr)
        fields: dict[str, Any] = {"resource": self.name, "ip": self.spec.ip, "ms": _ms(began)}
        if removed is None:
            emit("VIP already absent", fields)
        else:
            emit("VIP removed", {**fields, "ifname": removed.ifname, "label": removed.label})

    def status(self, timeout: float) -> ResourceStatus:
        with _netlink(self.netlink) as ipr:
            return vip_status(self.spec.ip, ipr)
