"""The lab's topology as data: hosts, their interfaces and the segments joining them.

Kept apart from building it (Mininet's Topo vs Net): backends read this description
and make it real, tests and pictures read it to know what to expect.
The reference values are the CentOS 6 tutorial's (DEVELOPERS.md).
"""

from __future__ import annotations

import enum
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path


class Role(enum.StrEnum):
    CLUSTER_NODE = "node"  # runs heartbeat or hbnode
    PING_NODE = "gw"  # the ha.cf `ping` target
    CLIENT = "client"  # a user of the VIP
    BMC = "bmc"  # a node's IPMI BMC on the management segment (hblab up --fencing)


@dataclass(frozen=True, slots=True)
class Segment:
    """A layer-2 segment: one bridge in the lab's switch namespace."""

    name: str  # the node-side interface name on this segment (eth0, eth1)
    bridge: str
    subnet: ipaddress.IPv4Network
    purpose: str


def default_mac(address: ipaddress.IPv4Interface) -> str:
    """A stable, locally administered MAC derived from the address.

    Stable MACs make captures and "two MACs answered ARP" readable: the last two
    bytes are the address's last two octets.
    """
    octets = address.ip.packed
    return f"02:4c:61:62:{octets[2]:02x}:{octets[3]:02x}"


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    segment: str
    address: ipaddress.IPv4Interface
    mac: str = ""

    def __post_init__(self) -> None:
        if not self.mac:
            object.__setattr__(self, "mac", default_mac(self.address))


@dataclass(frozen=True, slots=True)
class Medium:
    """One ha.cf media line each node gets: ``ucast eth1`` becomes ``ucast eth1 <peer>``."""

    kind: str  # ucast | bcast | mcast
    iface: str
    args: tuple[str, ...] = ()  # mcast: group port ttl loop


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    role: Role
    interfaces: tuple[Interface, ...]

    def interface(self, name: str) -> Interface | None:
        return next((i for i in self.interfaces if i.name == name), None)

    def address_on(self, segment: str) -> ipaddress.IPv4Interface | None:
        return next((i.address for i in self.interfaces if i.segment == segment), None)


@dataclass(frozen=True, slots=True)
class Topology:
    prefix: str  # namespace name prefix: every name the lab creates starts with it
    segments: tuple[Segment, ...]
    hosts: tuple[Host, ...]
    vip: ipaddress.IPv4Interface
    vip_label: str  # e.g. eth0:0, as the tutorial's haresources writes it
    vip_owner: str = "master"  # the node haresources names first
    services: tuple[str, ...] = ("nginx",)  # the group's scripts after the VIP
    media: tuple[Medium, ...] = (Medium("ucast", "eth1"),)
    name: str = "reference"
    source: str = ""  # the file it was read from

    def host(self, name: str) -> Host | None:
        return next((h for h in self.hosts if h.name == name), None)

    @property
    def cluster_nodes(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.role is Role.CLUSTER_NODE)

    @property
    def ping_nodes(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.role is Role.PING_NODE)

    @property
    def switch_netns(self) -> str:
        return f"{self.prefix}-sw"

    def netns_of(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def peer_of(self, node: str) -> Host:
        """The other cluster node (the design is two nodes, as the tutorial)."""
        return next(h for h in self.cluster_nodes if h.name != node)

    @property
    def vip_iface(self) -> str:
        return self.vip_label.split(":", 1)[0]

    def peer_address(self, node: str, segment: str) -> ipaddress.IPv4Interface | None:
        """The other node's address on ``segment`` (ha.cf's ``ucast`` target)."""
        return self.peer_of(node).address_on(segment)


REFERENCE_FILE = Path(__file__).parent / "topologies" / "reference.yaml"


def load(path: Path | None = None, prefix: str | None = None) -> Topology:
    """A topology file (default: the reference), under a lab prefix.

    The prefix (``--prefix``, else HBLAB_PREFIX, else hblab) lets labs run side by
    side, e.g. a benchmark next to a test run, or a classroom: every name the lab
    creates starts with it.
    """
    from lab.topofile import load_topology

    prefix = prefix or os.environ.get("HBLAB_PREFIX") or "hblab"
    # The shipped file is checked by a unit test; users' files at every load.
    return load_topology(path or REFERENCE_FILE, prefix, validate=path is not None)


REFERENCE = load()
