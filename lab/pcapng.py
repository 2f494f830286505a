"""A streaming pcapng writer with named interfaces (for ``hblab capture --live``).

One Section Header Block, then one Interface Description Block per interface,
written up front with ``if_name`` (``master:eth1``) so that Wireshark names every
interface from the start, even one that never sees a packet; then one Enhanced
Packet Block per frame, with a nanosecond timestamp and the direction flag.

Written here rather than taken from scapy: scapy 2.8's ``PcapNgWriter`` opens a
file by name only (no stdout stream), always writes an unnamed interface 0 before
any named one, and adds a named interface only when its first packet arrives,
through private methods. The format is small (pcapng spec, IETF draft
draft-ietf-opsawg-pcapng): three block types and four options.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO

LINKTYPE_ETHERNET = 1
_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_OPT_END = 0
_OPT_SHB_USERAPPL = 4
_OPT_IF_NAME = 2
_OPT_IF_DESCRIPTION = 3
_OPT_IF_TSRESOL = 9
_OPT_EPB_FLAGS = 2
_TSRESOL_NS = 9  # if_tsresol: 10^-9 s, what SO_TIMESTAMPNS gives
DEFAULT_SNAPLEN = 262144  # Wireshark's maximum for Ethernet


class Direction(enum.IntEnum):
    """epb_flags bits 0-1: which way the frame went through the interface."""

    UNKNOWN = 0
    INBOUND = 1
    OUTBOUND = 2


@dataclass(frozen=True, slots=True)
class Interface:
    """One capture interface; ``name`` is what Wireshark shows (frame.interface_name)."""

    name: str
    description: str | None = None
    linktype: int = LINKTYPE_ETHERNET
    snaplen: int = DEFAULT_SNAPLEN


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _options(options: Iterable[tuple[int, bytes]]) -> bytes:
    out = b"".join(struct.pack("<HH", code, len(value)) + _pad(value) for code, value in options)
    return out + struct.pack("<HH", _OPT_END, 0) if out else b""


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)  # type, length, body (already padded), length again
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


class PcapNgWriter:
    """Writes to a binary stream (a file or stdout) as frames come; flush() to push them."""

    def __init__(
        self, out: IO[bytes], interfaces: Sequence[Interface], application: str = "hblab"
    ) -> None:
        if not interfaces:
            raise ValueError("a pcapng section needs at least one interface")
        self.out = out
        self.interfaces = tuple(interfaces)
        header = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1)  # v1.0, length unknown
        blocks = [_block(_SHB, header + _options([(_OPT_SHB_USERAPPL, application.encode())]))]
        for iface in self.interfaces:
            options = [(_OPT_IF_NAME, iface.name.encode())]
            if iface.description:
                options.append((_OPT_IF_DESCRIPTION, iface.description.encode()))
            options.append((_OPT_IF_TSRESOL, bytes([_TSRESOL_NS])))
            body = struct.pack("<HHI", iface.linktype, 0, iface.snaplen) + _options(options)
            blocks.append(_block(_IDB, body))
        out.write(b"".join(blocks))

    def packet_block(
        self,
        interface_id: int,
        timestamp_ns: int,
        frame: bytes,
        original_length: int | None = None,
        direction: Direction = Direction.UNKNOWN,
    ) -> bytes:
        """The Enhanced Packet Block for one frame (the frame is cut at the snaplen)."""
        if not 0 <= interface_id < len(self.interfaces):
            raise ValueError(f"no interface {interface_id}")
        captured = frame[: self.interfaces[interface_id].snaplen]
        length = len(frame) if original_length is None else original_length
        head = struct.pack(
            "<IIIII",
            interface_id,
            (timestamp_ns >> 32) & 0xFFFFFFFF,
            timestamp_ns & 0xFFFFFFFF,
            len(captured),
            length,
        )
        flags = _options([(_OPT_EPB_FLAGS, struct.pack("<I", direction))] if direction else [])
        return _block(_EPB, head + _pad(captured) + flags)

    def write(
        self,
        interface_id: int,
        timestamp_ns: int,
        frame: bytes,
        original_length: int | None = None,
        direction: Direction = Direction.UNKNOWN,
    ) -> None:
        self.out.write(
            self.packet_block(interface_id, timestamp_ns, frame, original_length, direction)
        )

    def flush(self) -> None:
        self.out.flush()
