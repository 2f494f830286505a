"""Link-layer frames to what the lab watches: UDP datagrams, ARP and ICMP echo.

Pure and scapy-free, so a sniffer thread can keep up and a pcap loads fast. Reads
libpcap files (both byte orders, micro- or nanosecond stamps) with the link types
a lab capture can have: Ethernet (802.1Q tags skipped), Linux cooked v1 and v2,
raw IPv4. Malformed frames are simply not ours: :func:`parse_frame` returns None.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL2 = 276
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
_VLAN = (0x8100, 0x88A8)
IPPROTO_ICMP, IPPROTO_UDP = 1, 17
ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST = 0, 8
_PCAP_MAGIC = {  # first four bytes: (byte order, seconds per tick of the fraction)
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}


@dataclass(frozen=True, slots=True)
class UdpPacket:
    ip_src: str
    sport: int
    ip_dst: str
    dport: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class ArpPacket:
    """An Ethernet/IPv4 ARP packet (RFC 826). ``op`` 1 is a request, 2 a reply."""

    op: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str

    @property
    def gratuitous(self) -> bool:
        """Sender and target IP are the same: an announcement, as send_arp makes
        (protocol.md §6: ten requests, one a second, for the VIP)."""
        return self.sender_ip == self.target_ip


@dataclass(frozen=True, slots=True)
class IcmpPacket:
    """An ICMP echo request (type 8) or reply (type 0): a node pinging its ping node
    (ha.cf ``ping``), the payload being the node's NS_st message (protocol.md §4.6)."""

    ip_src: str
    ip_dst: str
    type: int
    code: int
    ident: int
    seq: int
    payload: bytes

    @property
    def request(self) -> bool:
        return self.type == ICMP_ECHO_REQUEST

    @property
    def reply(self) -> bool:
        return self.type == ICMP_ECHO_REPLY


Parsed = UdpPacket | ArpPacket | IcmpPacket


def parse_frame(frame: bytes, linktype: int = LINKTYPE_ETHERNET) -> Parsed | None:
    """The UDP datagram, ARP packet or ICMP echo in ``frame``, or None (anything else,
    or malformed)."""
    try:
        located = _network_layer(frame, linktype)
        if located is None:
            return None
        ethertype, offset = located
        if ethertype == ETHERTYPE_ARP:
            return _arp(frame, offset)
        if ethertype == ETHERTYPE_IPV4:
            return _ipv4(frame, offset)
    except (struct.error, IndexError, ValueError):
        return None
    return None


def _network_layer(frame: bytes, linktype: int) -> tuple[int, int] | None:
    """(ethertype, offset of the network header) for the supported link types."""
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        return (ETHERTYPE_IPV4, 0) if frame[:1] and frame[0] >> 4 == 4 else None
    if linktype == LINKTYPE_ETHERNET:
        ethertype, offset = struct.unpack_from("!H", frame, 12)[0], 14
        while ethertype in _VLAN:
            ethertype, offset = struct.unpack_from("!H", frame, offset + 2)[0], offset + 4
        return ethertype, offset
    if linktype == LINKTYPE_LINUX_SLL:
        return struct.unpack_from("!H", frame, 14)[0], 16
    if linktype == LINKTYPE_LINUX_SLL2:
        return struct.unpack_from("!H", frame, 0)[0], 20
    return None


def _ipv4(frame: bytes, offset: int) -> UdpPacket | IcmpPacket | None:
    version_ihl, total, fragment, protocol = struct.unpack_from("!BxH2xHxB", frame, offset)
    header = (version_ihl & 0x0F) * 4
    if version_ihl >> 4 != 4 or header < 20 or fragment & 0x3FFF:
        return None  # not IPv4, or a fragment (Heartbeat's datagrams fit one frame)
    src, dst = _ip(frame[offset + 12 : offset + 16]), _ip(frame[offset + 16 : offset + 20])
    start, end = offset + header, min(offset + total, len(frame))
    if protocol == IPPROTO_UDP:
        return _udp(frame, start, end, src, dst)
    if protocol == IPPROTO_ICMP:
        return _icmp(frame[start:end], src, dst)
    return None


def _udp(frame: bytes, udp: int, end: int, src: str, dst: str) -> UdpPacket | None:
    sport, dport, length = struct.unpack_from("!HHH", frame, udp)
    end = min(udp + length, end)
    if length < 8 or end < udp + 8:
        return None
    return UdpPacket(src, sport, dst, dport, bytes(frame[udp + 8 : end]))


def _icmp(body: bytes, src: str, dst: str) -> IcmpPacket | None:
    if len(body) < 8:
        return None
    kind, code, _checksum, ident, seq = struct.unpack_from("!BBHHH", body)
    if kind not in (ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY):
        return None  # unreachables and the like: not a ping node's business
    return IcmpPacket(src, dst, kind, code, ident, seq, bytes(body[8:]))


def _arp(frame: bytes, offset: int) -> ArpPacket | None:
    hardware, protocol, hlen, plen, op = struct.unpack_from("!HHBBH", frame, offset)
    if (hardware, protocol, hlen, plen) != (1, ETHERTYPE_IPV4, 6, 4):
        return None
    body = frame[offset + 8 : offset + 28]
    if len(body) < 20:
        return None
    return ArpPacket(op, _mac(body[0:6]), _ip(body[6:10]), _mac(body[10:16]), _ip(body[16:20]))


def _ip(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def read_pcap(path: str | Path) -> Iterator[tuple[float, int, bytes]]:
    """(time, link type, frame) of every record of a libpcap file (not pcapng)."""
    data = Path(path).read_bytes()
    if data[:4] not in _PCAP_MAGIC:
        raise ValueError(f"{path}: not a libpcap file (magic {data[:4].hex() or 'missing'})")
    order, tick = _PCAP_MAGIC[data[:4]]
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    pos = 24
    while pos + 16 <= len(data):
        seconds, fraction, captured, _original = struct.unpack_from(order + "IIII", data, pos)
        pos += 16
        yield seconds + fraction * tick, linktype, data[pos : pos + captured]
        pos += captured
