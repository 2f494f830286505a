"""A tiny pcap reader for the codec tests: UDP over IPv4, nothing more.

Unit tests of hbnode must not need scapy, so this reads just enough of the
classic libpcap format (both byte orders, micro- or nanosecond stamps) and of
the link types a capture of the lab can have: Ethernet (with 802.1Q tags),
Linux cooked v1 and v2, and raw IPv4.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CAPTURE_NAME = "hb306-md5-Hello.pcap"
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL2 = 276
_MAGICS = {  # first four bytes → (byte order, fraction of a second per tick)
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_ETHERTYPE_IPV4 = 0x0800
_VLAN_TAGS = (0x8100, 0x88A8)


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    time: float
    ip_src: str
    sport: int
    ip_dst: str
    dport: int
    payload: bytes


def fixtures_dir() -> Path:
    """tests/fixtures: the repository carries its golden captures."""
    return Path(__file__).resolve().parent / "fixtures"


def capture_path() -> Path:
    return fixtures_dir() / CAPTURE_NAME


def read_pcap(path: Path) -> Iterator[tuple[float, int, bytes]]:
    """(time, link type, frame) for every record of a libpcap file."""
    data = path.read_bytes()
    if data[:4] not in _MAGICS:
        raise ValueError(f"{path}: not a libpcap file (magic {data[:4].hex()})")
    order, tick = _MAGICS[data[:4]]
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    pos = 24
    while pos + 16 <= len(data):
        seconds, fraction, caplen, _wirelen = struct.unpack_from(order + "IIII", data, pos)
        pos += 16
        yield seconds + fraction * tick, linktype, data[pos : pos + caplen]
        pos += caplen


def ipv4_of(linktype: int, frame: bytes) -> bytes | None:
    """The IPv4 packet inside a link-layer frame, or None for anything else."""
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        return frame if frame[:1] and frame[0] >> 4 == 4 else None
    if linktype == LINKTYPE_ETHERNET:
        ethertype, pos = struct.unpack_from("!H", frame, 12)[0], 14
        while ethertype in _VLAN_TAGS:
            ethertype, pos = struct.unpack_from("!H", frame, pos + 2)[0], pos + 4
    elif linktype == LINKTYPE_LINUX_SLL:
        ethertype, pos = struct.unpack_from("!H", frame, 14)[0], 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        ethertype, pos = struct.unpack_from("!H", frame, 0)[0], 20
    else:
        raise ValueError(f"unsupported pcap link type {linktype}")
    return frame[pos:] if ethertype == _ETHERTYPE_IPV4 else None


def udp_of(packet: bytes) -> tuple[str, int, str, int, bytes] | None:
    """(src, sport, dst, dport, payload) of an unfragmented IPv4/UDP packet."""
    header_len = (packet[0] & 0x0F) * 4
    total_len, flags_fragment, protocol = struct.unpack_from("!H2xHxB", packet, 2)
    if protocol != 17 or flags_fragment & 0x3FFF:  # not UDP, or a fragment
        return None
    udp = packet[header_len:total_len]
    sport, dport, udp_len = struct.unpack_from("!HHH", udp, 0)
    src = ".".join(str(b) for b in packet[12:16])
    dst = ".".join(str(b) for b in packet[16:20])
    return src, sport, dst, dport, udp[8:udp_len]


def udp_datagrams(path: Path) -> list[UdpDatagram]:
    """Every IPv4/UDP datagram of a capture, in capture order."""
    found = []
    for when, linktype, frame in read_pcap(path):
        packet = ipv4_of(linktype, frame)
        parts = udp_of(packet) if packet else None
        if parts is not None:
            found.append(UdpDatagram(when, *parts))
    return found
