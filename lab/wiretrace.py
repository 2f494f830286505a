"""Record the heartbeat link, ARP and pings during a test, and ask the recording questions.

    trace = WireTrace(keys)                          # keys: lab.hbcodec.Keyring (or None)
    trace.sniff("hblab-master", "eth1", "master:eth1")
    trace.sniff("hblab-slave", "eth1", "slave:eth1")
    trace.sniff("hblab-client", "eth0", "client:eth0", heartbeat=False, arp=True)
    trace.sniff("hblab-gw", "eth1", "gw:eth1", heartbeat=False, icmp=True)
    with trace:                                      # sniffing from here on
        t0 = trace.mark("poweroff master")
        ...
        trace.wait_for(garp(ip=VIP), timeout=10)
    trace.first(t="resource", src="slave", after=t0)
    trace.intervals("slave", t="status").max

Each (namespace, interface) pair gets a raw packet socket opened inside the
namespace (lab.netsock), with a kernel filter for UDP to or from the heartbeat
port, ARP and/or ICMP, and kernel receive timestamps. A tap whose interface goes
down (a power cut, a pulled cable) keeps reading once it is up again. One thread reads every socket;
each datagram is decoded and its signature checked with the lab's own codec
(lab.hbcodec, never hbnode's). The sockets are bound before :meth:`start`
returns, so nothing sent after it is missed; the thread has reported in, too.
A trace stops by itself after ``max_seconds`` or ``max_events``. The same
queries work on a pcap file: :meth:`WireTrace.from_pcap`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import netsock
from lab.hbcodec import keyring_of
from lab.wireevents import ArpEvent, HeartbeatEvent, PingEvent, heartbeat_event, ping_event
from lab.wireframe import (
    LINKTYPE_ETHERNET,
    ArpPacket,
    IcmpPacket,
    UdpPacket,
    parse_frame,
    read_pcap,
)
from lab.wirequery import Timeline, TraceError

HB_PORT = 694  # ha.cf udpport default (protocol.md §1.1)
MAX_SECONDS = 600.0  # no trace outlives this, whatever the caller forgets
MAX_EVENTS = 200_000
SNAPLEN = 65535
_SO_ATTACH_FILTER = 26
_SO_TIMESTAMPNS = 35  # asm-generic/socket.h; SCM_TIMESTAMPNS has the same number
_PACKET_OUTGOING = 4  # linux/if_packet.h: a frame this host sent
_ANCILLARY = socket.CMSG_SPACE(16)  # one struct timespec
_DRAIN_BATCH = 256  # frames read from one socket before looking at the others again


@dataclass(frozen=True, slots=True)
class Tap:
    """One interface to sniff: its namespace, its name, its label, and what to keep."""

    netns: str
    iface: str
    label: str
    heartbeat: bool = True
    arp: bool = False
    port: int = HB_PORT
    icmp: bool = False


Opener = Callable[[str, str, Tap], socket.socket]


# -- the kernel filter ---------------------------------------------------------------------------
# Classic BPF, so the kernel hands us only what we keep: each instruction is
# (code, jump-if-true, jump-if-false, k); jumps name a label resolved below.
_LDH, _LDB, _LDXB_MSH, _LDH_IND = 0x28, 0x30, 0xB1, 0x48
_JEQ, _JSET, _RET = 0x15, 0x45, 0x06


def bpf_program(
    heartbeat: bool, arp: bool, port: int = HB_PORT, icmp: bool = False
) -> list[tuple[int, int, int, int]]:
    """Accept ARP (if ``arp``), unfragmented IPv4 UDP from or to ``port`` (if
    ``heartbeat``) and unfragmented ICMP (if ``icmp``: pings to a ping node), on
    Ethernet; drop everything else. (3.0.6's datagrams are far below the MTU,
    protocol.md §1.1; parse_frame refuses fragments too.)"""
    ops: list[tuple[int, str, str, int]] = [(_LDH, "", "", 12)]  # ethertype
    if arp:
        ops.append((_JEQ, "accept", "next", 0x0806))
    if heartbeat or icmp:
        ops += [
            (_JEQ, "next", "drop", 0x0800),
            (_LDH, "", "", 20),  # flags and fragment offset
            (_JSET, "drop", "next", 0x3FFF),  # any fragment: we do not reassemble
            (_LDB, "", "", 23),  # IP protocol
        ]
    if icmp:
        ops.append((_JEQ, "accept", "next", 1))
    if heartbeat:
        ops += [
            (_JEQ, "next", "drop", 17),
            (_LDXB_MSH, "", "", 14),  # X = IP header length
            (_LDH_IND, "", "", 14),  # UDP source port
            (_JEQ, "accept", "next", port),
            (_LDH_IND, "", "", 16),  # UDP destination port
            (_JEQ, "accept", "drop", port),
        ]
    else:
        ops.append((_JEQ, "drop", "drop", 0))
    labels = {"accept": len(ops), "drop": len(ops) + 1}

    def offset(pc: int, label: str) -> int:
        return 0 if label in ("", "next") else labels[label] - pc - 1

    program = [
        (code, offset(pc, jt), offset(pc, jf), k) for pc, (code, jt, jf, k) in enumerate(ops)
    ]
    return [*program, (_RET, 0, 0, SNAPLEN), (_RET, 0, 0, 0)]


def _attach_filter(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    raw = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(raw)
    fprog = struct.pack("HP", len(program), ctypes.addressof(buffer))  # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)


def open_tap(netns: str, iface: str, tap: Tap) -> socket.socket:
    """A packet socket on ``iface`` in ``netns`` that sees both directions, filtered
    and timestamped by the kernel, non-blocking."""
    sock = netsock.packet_socket(netns, iface)
    try:
        _attach_filter(sock, bpf_program(tap.heartbeat, tap.arp, tap.port, tap.icmp))
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    # Frames queued between bind and the filter were not filtered; parse_frame
    # and the tap's own checks drop them like any other stranger.
    return sock


class WireTrace(Timeline):
    """A :class:`~lab.wirequery.Timeline` filled by sniffers, a pcap, or by hand."""

    def __init__(
        self,
        keys: Any | None = None,
        *,
        port: int = HB_PORT,
        max_seconds: float = MAX_SECONDS,
        max_events: int = MAX_EVENTS,
        opener: Opener = open_tap,
    ) -> None:
        super().__init__()
        self.keys = None if keys is None else keyring_of(keys)
        self.port = port
        self.max_seconds = min(max_seconds, MAX_SECONDS)
        self.max_events = max_events
        self.opener = opener
        self.taps: list[Tap] = []
        self.errors: list[str] = []  # sockets that failed while reading
        self.link_downs: list[tuple[float, str]] = []  # (when, label): the tap's link went down
        self.dropped = 0  # packets not recorded once max_events was reached
        self.stopped_because: str | None = None
        self._sockets: dict[socket.socket, Tap] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._wake: tuple[socket.socket, socket.socket] | None = None  # stop() writes to [1]

    # -- feeding it --------------------------------------------------------------------------
    def add_udp(
        self, when: float, label: str, udp: UdpPacket, outgoing: bool | None = None
    ) -> HeartbeatEvent | None:
        """Record one UDP datagram if it is to or from the heartbeat port."""
        if self.port not in (udp.sport, udp.dport):
            return None
        event = heartbeat_event(when, label, udp, self.keys, outgoing)
        return event if self._record(event) else None

    def add_arp(
        self, when: float, label: str, packet: ArpPacket, outgoing: bool | None = None
    ) -> ArpEvent | None:
        event = ArpEvent(when, label, packet, outgoing)
        return event if self._record(event) else None

    def add_ping(
        self, when: float, label: str, packet: IcmpPacket, outgoing: bool | None = None
    ) -> PingEvent | None:
        event = ping_event(when, label, packet, outgoing)
        return event if self._record(event) else None

    def add_frame(
        self,
        frame: bytes,
        when: float,
        label: str,
        *,
        linktype: int = LINKTYPE_ETHERNET,
        outgoing: bool | None = None,
        heartbeat: bool = True,
        arp: bool = True,
        icmp: bool = True,
    ) -> HeartbeatEvent | ArpEvent | PingEvent | None:
        """Record a link-layer frame: a heartbeat datagram, an ARP packet or an ICMP
        echo, else nothing."""
        packet = parse_frame(frame, linktype)
        if heartbeat and isinstance(packet, UdpPacket):
            return self.add_udp(when, label, packet, outgoing)
        if arp and isinstance(packet, ArpPacket):
            return self.add_arp(when, label, packet, outgoing)
        if icmp and isinstance(packet, IcmpPacket):
            return self.add_ping(when, label, packet, outgoing)
        return None

    def _record(self, event: HeartbeatEvent | ArpEvent | PingEvent) -> bool:
        if len(self) >= self.max_events:
            self.dropped += 1
            return False
        self.add(event)
        return True

    # -- offline -------------------------------------------------------------------------------
    def load_pcap(self, path: str | Path, label: str | None = None) -> int:
        """Add every heartbeat datagram and ARP packet of a libpcap file; returns how many.

        ``label`` names the interface it was taken on (default: the file's stem).
        """
        before = len(self)
        name = Path(path).stem if label is None else label
        for when, linktype, frame in read_pcap(path):
            self.add_frame(frame, when, name, linktype=linktype)
        return len(self) - before

    @classmethod
    def from_pcap(
        cls,
        path: str | Path,
        keys: Any | None = None,
        *,
        label: str | None = None,
        port: int = HB_PORT,
    ) -> WireTrace:
        trace = cls(keys, port=port, max_events=1 << 62)
        trace.load_pcap(path, label)
        return trace

    # -- live ----------------------------------------------------------------------------------
    @classmethod
    def on_nodes(
        cls,
        netns_of: Mapping[str, str],
        keys: Any | None = None,
        *,
        heartbeat: Iterable[str] = ("master:eth1", "slave:eth1"),
        arp: Iterable[str] = (),
        icmp: Iterable[str] = (),
        **options: Any,
    ) -> WireTrace:
        """A trace (not started) on ``node:iface`` labels, e.g. ``arp=["client:eth0"]``,
        ``icmp=["gw:eth1"]`` (the pings a ping node gets and answers).

        ``netns_of`` maps a node to its namespace: ``{n: lab.netns_of(n) for n in
        nodes}``. A label in several lists gets one tap.
        """
        trace = cls(keys, **options)
        wanted_heartbeat, wanted_arp, wanted_icmp = list(heartbeat), list(arp), list(icmp)
        for label in dict.fromkeys([*wanted_heartbeat, *wanted_arp, *wanted_icmp]):
            node, _, iface = label.partition(":")
            if node not in netns_of or not iface:
                raise ValueError(f"{label!r}: want node:iface with a node among {sorted(netns_of)}")
            trace.sniff(
                netns_of[node],
                iface,
                label,
                heartbeat=label in wanted_heartbeat,
                arp=label in wanted_arp,
                icmp=label in wanted_icmp,
            )
        return trace

    def sniff(
        self,
        netns: str,
        iface: str,
        label: str | None = None,
        *,
        heartbeat: bool = True,
        arp: bool = False,
        icmp: bool = False,
    ) -> WireTrace:
        """Add an interface to sniff once started; ``label`` defaults to ``netns:iface``."""
        if self._thread is not None:
            raise RuntimeError("add every interface before start()")
        name = label or f"{netns}:{iface}"
        self.taps.append(Tap(netns, iface, name, heartbeat, arp, self.port, icmp))
        return self

    def start(self, timeout: float = 10.0) -> WireTrace:
        """Open every socket, start the reader and wait until it runs.

        Raises (and closes what it opened) if a socket cannot be opened or the
        reader does not report in within ``timeout``.
        """
        if self._thread is not None:
            raise RuntimeError("a WireTrace starts once")
        try:
            for tap in self.taps:
                self._sockets[self.opener(tap.netns, tap.iface, tap)] = tap
            self._wake = socket.socketpair()
            self._thread = threading.Thread(target=self._read_loop, name="wiretrace", daemon=True)
            self._thread.start()
            if not self._ready.wait(timeout):
                raise TraceError(f"the wire trace reader did not start within {timeout} s")
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the reader, wait for it, close every socket (idempotent)."""
        if self._wake is not None:
            with contextlib.suppress(OSError):
                self._wake[1].send(b"x")
        if self._thread is not None:
            self._thread.join(timeout)
        for sock in [*self._sockets, *(self._wake or ())]:
            sock.close()
        self._wake = None

    def __enter__(self) -> WireTrace:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _read_loop(self) -> None:
        try:
            self.stopped_because = self._read_until_done()
        finally:  # a trace that ended by itself holds no socket open
            for sock in self._sockets:
                sock.close()

    def _read_until_done(self) -> str:
        deadline = time.monotonic() + self.max_seconds
        assert self._wake is not None
        wake = self._wake[0]
        self._ready.set()
        live = dict(self._sockets)
        while live and self.dropped == 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return f"max_seconds ({self.max_seconds:g} s)"
            readable, _, _ = select.select([*live, wake], [], [], left)
            if wake in readable:
                return "stopped"
            for sock in readable:
                if not self._drain(sock, live[sock]):
                    del live[sock]
        return f"max_events ({self.max_events})" if self.dropped else "no socket left"

    def _drain(self, sock: socket.socket, tap: Tap) -> bool:
        """Record the frames waiting on ``sock`` (a batch); False if the socket failed."""
        for _ in range(_DRAIN_BATCH):
            try:
                frame, ancillary, _flags, address = sock.recvmsg(SNAPLEN, _ANCILLARY)
            except BlockingIOError:
                return True
            except OSError as exc:
                if exc.errno == errno.ENETDOWN:
                    # The interface went down (a power cut, a pulled cable): a packet
                    # socket says so once and stays bound; frames flow again once it
                    # is back up, so keep reading it.
                    self.link_downs.append((time.time(), tap.label))
                    continue
                self.errors.append(f"{tap.label}: {exc}")
                return False
            if not frame and not ancillary:  # end of file: no packet socket says that
                self.errors.append(f"{tap.label}: the socket was closed")
                return False
            outgoing = None
            if isinstance(address, tuple) and len(address) >= 3:
                outgoing = address[2] == _PACKET_OUTGOING
            self.add_frame(
                frame,
                _stamp(ancillary),
                tap.label,
                outgoing=outgoing,
                heartbeat=tap.heartbeat,
                arp=tap.arp,
                icmp=tap.icmp,
            )
            if self.dropped:
                break
        return True


def _stamp(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's receive time (SO_TIMESTAMPNS), else now."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack_from("qq", data)
            return float(seconds + nanoseconds / 1e9)
    return time.time()
