"""``hblab dump``: one line (or one JSON object) per Heartbeat packet.

Reads a pcap file or sniffs a lab interface. With ``--authkeys`` every packet is
authenticated as the daemon would (``auth=ok|bad``), otherwise ``auth=unchecked``.

    12:04:19.078228 172.16.254.18:57460→172.16.254.28:694 t=status src=master seq=1 auth=ok
"""

from __future__ import annotations

import select
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from scapy.error import Scapy_Exception
from scapy.layers.inet import UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import PcapReader

from lab import netsock
from lab.dumpfmt import (
    HeartbeatRecord,
    format_json,
    format_line,
    load_keys,
    quiet_broken_pipe,
    write_records,
)
from lab.errors import LabError
from lab.hbcodec import CodecError, Keyring, Message, verify
from lab.hbpacket import Heartbeat

__all__ = [  # the record and its formats live in lab.dumpfmt (no scapy needed there)
    "HeartbeatRecord",
    "dump_file",
    "dump_live",
    "format_json",
    "format_line",
    "live_records",
    "load_keys",
    "record",
    "records",
    "write_records",
]

MAX_LIVE_SECONDS = 24 * 3600.0  # a forgotten live dump still ends
_SNAPLEN = 65535


def _json_value(value: object) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Message):
        return [[f.name, _json_value(f.value)] for f in value.fields]
    return value


def record(pkt: Packet, keys: Keyring | None, when: float | None = None) -> HeartbeatRecord:
    """Describe one packet that carries a Heartbeat layer."""
    udp = pkt[UDP]
    hb = pkt[Heartbeat]
    payload = bytes(hb.data or b"")
    rec = HeartbeatRecord(
        time=float(pkt.time if when is None else when),
        ip_src=str(udp.underlayer.src),
        sport=int(udp.sport),
        ip_dst=str(udp.underlayer.dst),
        dport=int(udp.dport),
        t=None,
        src=None,
        seq=None,
        auth="unchecked" if keys is None else "bad",
        size=len(payload),
    )
    try:
        datagram = hb.datagram
    except CodecError as exc:
        rec.reason = f"undecodable: {exc}"
        return rec
    message = datagram.message
    rec.t, rec.src, rec.seq = message.get("t"), message.get("src"), message.get("seq")
    rec.encoding = datagram.encoding.value
    rec.fields = [(f.name, _json_value(f.value)) for f in message.fields]
    if keys is not None:
        failure = verify(datagram, keys)
        rec.auth = "ok" if failure is None else "bad"
        rec.reason = None if failure is None else failure.value
    return rec


def records(packets: Iterable[Packet], keys: Keyring | None) -> Iterator[HeartbeatRecord]:
    """The Heartbeat packets among ``packets`` (anything else is skipped)."""
    for pkt in packets:
        if pkt.haslayer(Heartbeat) and pkt.haslayer(UDP):
            yield record(pkt, keys)


def dump_file(
    path: Path, authkeys: Path | None, as_json: bool = False, out: TextIO | None = None
) -> int:
    """``hblab dump --read FILE.pcap``: exit code 0, or LabError for a bad file."""
    keys = load_keys(authkeys)
    try:
        reader = PcapReader(str(path))
    except (OSError, Scapy_Exception) as exc:  # Scapy_Exception: not a capture file
        raise LabError(f"cannot read pcap {path}: {exc}") from exc
    with reader, quiet_broken_pipe():
        write_records(records(reader, keys), as_json, out or sys.stdout)
    return 0


def _frames(sock: socket.socket, deadline: float) -> Iterator[tuple[float, bytes]]:
    """Frames from a packet socket until ``deadline`` (time.monotonic)."""
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if ready:
            yield time.time(), sock.recv(_SNAPLEN)


def live_records(
    sock: socket.socket, keys: Keyring | None, deadline: float
) -> Iterator[HeartbeatRecord]:
    """Heartbeat records from an AF_PACKET socket, both directions of the link."""
    for when, frame in _frames(sock, deadline):
        pkt = Ether(frame)
        if pkt.haslayer(Heartbeat) and pkt.haslayer(UDP):
            yield record(pkt, keys, when)


def dump_live(
    netns: str,
    iface: str,
    authkeys: Path | None,
    as_json: bool = False,
    count: int | None = None,
    seconds: float | None = None,
    out: TextIO | None = None,
) -> int:
    """``hblab dump NODE IFACE``: sniff until ``count`` packets or ``seconds`` pass."""
    keys = load_keys(authkeys)
    deadline = time.monotonic() + min(seconds or MAX_LIVE_SECONDS, MAX_LIVE_SECONDS)
    try:
        sock = netsock.packet_socket(netns, iface)
    except OSError as exc:
        raise LabError(f"cannot sniff {iface} in {netns}: {exc}") from exc
    with sock, quiet_broken_pipe():
        recs: Iterable[HeartbeatRecord] = live_records(sock, keys, deadline)
        if count is not None:
            recs = (rec for _, rec in zip(range(count), recs, strict=False))
        write_records(recs, as_json, out or sys.stdout)
    return 0
