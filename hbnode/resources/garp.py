"""Gratuitous ARP over an AF_PACKET socket, as Heartbeat's ``send_arp`` sends it.

What IPaddr runs (protocol.md §6) is ``send_arp -i 500 -r 10 … eth0 <vip> auto …``. The
Linux send_arp (resource-agents, an iputils arping) ignores ``-i`` and sends *unsolicited
ARP requests*, one a second: opcode 1, sender = our MAC and the VIP, target MAC
ff:ff:ff:ff:ff:ff, target IP = the VIP, in a broadcast frame. So the defaults here are
10 frames 1 s apart; IPaddr2 sends 5. Replies (``arping -A`` style) are available as an
option for switches that only learn from them, but are not what Heartbeat sends.

Three ways to send, all bounded by ``count``:
* :class:`GarpBurst` — the first frame now, the rest when the caller says they are due
  (``next_due()`` / ``send_due(now)``): for a loop that must not block;
* :func:`send_garp` — a blocking loop over a burst;
* :class:`GarpJobs` — bursts in background threads, cancellable per VIP, as IPaddr runs
  send_arp in the background and kills it on stop (``ARP_BACKGROUND=yes``).
"""

from __future__ import annotations

import enum
import fcntl
import ipaddress
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hbnode.resources.errors import ArpFormatError, GarpError

ARP_REPEAT = 10  # IPaddr's ARP_REPEAT
IPADDR2_ARP_REPEAT = 5  # IPaddr2's default arp_count
ARP_INTERVAL = 1.0  # seconds: ARP_INTERVAL_MS=500 is ignored by send_arp.linux (alarm(1))

BROADCAST_MAC = b"\xff" * 6
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
_ETH_HEADER = struct.Struct("!6s6sH")
_ARP_BODY = struct.Struct("!HHBBH6s4s6s4s")
FRAME_LEN = _ETH_HEADER.size + _ARP_BODY.size  # 42: unpadded, as send_arp leaves it

_SIOCGIFFLAGS = 0x8913
_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_IFF_NOARP = 0x80


class ArpOp(enum.IntEnum):
    REQUEST = 1  # what send_arp sends
    REPLY = 2  # "ARP answer mode" (arping -A)


@dataclass(frozen=True, slots=True)
class ArpFrame:
    """The fields of an Ethernet/IPv4 ARP frame."""

    eth_dst: bytes
    eth_src: bytes
    op: ArpOp
    sender_mac: bytes
    sender_ip: str
    target_mac: bytes
    target_ip: str

    @property
    def is_gratuitous(self) -> bool:
        return self.sender_ip == self.target_ip


def build_garp_frame(mac: bytes, ip: str, op: ArpOp = ArpOp.REQUEST) -> bytes:
    """One gratuitous ARP frame for ``ip`` from ``mac``, broadcast.

    A request carries the broadcast MAC as target hardware address (send_arp copies
    the device broadcast there); a reply names our own MAC, as arping -A does.
    """
    if len(mac) != 6:
        raise GarpError(f"not an Ethernet MAC address: {mac.hex(':')}")
    packed_ip = ipaddress.IPv4Address(ip).packed
    target_mac = BROADCAST_MAC if op is ArpOp.REQUEST else mac
    header = _ETH_HEADER.pack(BROADCAST_MAC, mac, ETH_P_ARP)
    body = _ARP_BODY.pack(ARPHRD_ETHER, ETH_P_IP, 6, 4, op, mac, packed_ip, target_mac, packed_ip)
    return header + body


def parse_arp_frame_untrusted(data: bytes) -> ArpFrame:
    """Decode an Ethernet ARP frame (trailing padding allowed); raises ArpFormatError only."""
    if len(data) < FRAME_LEN:
        raise ArpFormatError(f"frame too short for ARP: {len(data)} bytes")
    eth_dst, eth_src, ethertype = _ETH_HEADER.unpack_from(data)
    if ethertype != ETH_P_ARP:
        raise ArpFormatError(f"ethertype {ethertype:#06x} is not ARP")
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP_BODY.unpack_from(data, _ETH_HEADER.size)
    if (htype, ptype, hlen, plen) != (ARPHRD_ETHER, ETH_P_IP, 6, 4):
        raise ArpFormatError("not an Ethernet/IPv4 ARP frame")
    try:
        kind = ArpOp(op)
    except ValueError:
        raise ArpFormatError(f"unknown ARP opcode {op}") from None
    return ArpFrame(
        eth_dst,
        eth_src,
        kind,
        sha,
        str(ipaddress.IPv4Address(spa)),
        tha,
        str(ipaddress.IPv4Address(tpa)),
    )


def _interface_flags(sock: socket.socket, ifname: str) -> int:
    request = struct.pack("16sH14x", ifname.encode(), 0)
    reply = fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request)
    flags: int = struct.unpack_from("16xH", reply)[0]
    return flags


class GarpSocket:
    """An AF_PACKET socket bound to one interface, which learns the interface's MAC.

    Protocol 0: the socket only sends, so no ARP traffic queues up on it unread.
    """

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except OSError as exc:
            raise GarpError(f"cannot open a packet socket: {exc.strerror}") from exc
        try:
            self.mac = self._bind(ifname)
        except BaseException:
            self.sock.close()
            raise

    def _bind(self, ifname: str) -> bytes:
        try:
            self.sock.bind((ifname, 0))
            flags = _interface_flags(self.sock, ifname)
        except OSError as exc:
            raise GarpError(f"Device {ifname} not available: {exc.strerror}") from exc
        if not flags & _IFF_UP:
            raise GarpError(f'Interface "{ifname}" is down')
        _, _, _, hatype, mac = self.sock.getsockname()
        if flags & (_IFF_NOARP | _IFF_LOOPBACK) or hatype != ARPHRD_ETHER or len(mac) != 6:
            raise GarpError(f'Interface "{ifname}" is not ARPable')
        return bytes(mac)

    def send(self, frame: bytes) -> None:
        try:
            self.sock.send(frame)
        except OSError as exc:
            raise GarpError(f"sending ARP on {self.ifname} failed: {exc.strerror}") from exc

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> GarpSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GarpBurst:
    """``count`` rounds of gratuitous ARP, ``interval`` apart; the caller keeps the time.

    ``start(now)`` sends round one at once; then ``next_due()`` says when the next is
    due and ``send_due(now)`` sends it. Each round is one frame per op in ``ops``.
    """

    def __init__(
        self,
        ifname: str,
        ip: str,
        *,
        count: int = ARP_REPEAT,
        interval: float = ARP_INTERVAL,
        ops: Sequence[ArpOp] = (ArpOp.REQUEST,),
        open_socket: Callable[[str], GarpSocket] = GarpSocket,
    ) -> None:
        if count < 1 or interval < 0 or not ops:
            raise ValueError("a GARP burst needs count >= 1, interval >= 0 and an op")
        self.ifname, self.ip = ifname, ip
        self.count, self.interval = count, interval
        self.socket = open_socket(ifname)
        self.frames = [build_garp_frame(self.socket.mac, ip, op) for op in ops]
        self.rounds = 0
        self.frames_sent = 0
        self._due: float | None = None

    @property
    def mac(self) -> bytes:
        return self.socket.mac

    def start(self, now: float) -> int:
        """Send the first round now; returns the frames sent."""
        self._due = now
        return self.send_due(now)

    def next_due(self) -> float | None:
        """When the next round is due, or None when the burst is over."""
        return self._due if self.rounds < self.count else None

    def send_due(self, now: float) -> int:
        """Send one round if it is due; returns the frames sent (0 if not due)."""
        if self._due is None or self.rounds >= self.count or now < self._due:
            return 0
        for frame in self.frames:
            self.socket.send(frame)
            self.frames_sent += 1
        self.rounds += 1
        self._due = now + self.interval
        if self.rounds >= self.count:
            self.close()
        return len(self.frames)

    def close(self) -> None:
        self.socket.close()


def run_burst(
    burst: GarpBurst,
    *,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], object] = time.sleep,
) -> int:
    """Send a whole burst, blocking about ``(count - 1) * interval``; returns frames sent.

    ``wait`` may be an Event's ``wait``: returning True stops the burst early.
    """
    try:
        if burst.rounds == 0:
            burst.start(clock())
        while (due := burst.next_due()) is not None:
            if wait(max(0.0, due - clock())) is True:
                break
            burst.send_due(max(clock(), due))
    finally:
        burst.close()
    return burst.frames_sent


def send_garp(
    ifname: str,
    ip: str,
    *,
    count: int = ARP_REPEAT,
    interval: float = ARP_INTERVAL,
    ops: Sequence[ArpOp] = (ArpOp.REQUEST,),
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], object] = time.sleep,
) -> int:
    """Gratuitous ARP for ``ip`` on ``ifname``, blocking until the burst is done."""
    burst = GarpBurst(ifname, ip, count=count, interval=interval, ops=ops)
    return run_burst(burst, clock=clock, wait=wait)


class GarpJob:
    """The rest of a started burst, sent from a daemon thread until done or cancelled."""

    def __init__(self, burst: GarpBurst, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.clock = clock
        self.cancelled = threading.Event()
        self.error: GarpError | None = None
        name = f"garp-{burst.ip}"
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            run_burst(self.burst, clock=self.clock, wait=self.cancelled.wait)
        except GarpError as exc:  # e.g. the interface went away mid-burst
            self.error = exc

    @property
    def frames_sent(self) -> int:
        return self.burst.frames_sent

    def cancel(self) -> None:
        self.cancelled.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the thread is finished."""
        self.thread.join(timeout)
        return not self.thread.is_alive()


class GarpJobs:
    """Background bursts by VIP: a new burst or a stop of the VIP cancels the old one.

    The IPaddr counterpart is the send_arp pidfile ``$HA_RSCTMP/send_arp-<ip>`` that
    stop kills: no ARP for an address we no longer hold.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, GarpJob] = {}

    def start(self, burst: GarpBurst) -> int:
        """Send the first round now, the rest in the background; returns frames sent now."""
        self.cancel(burst.ip)
        try:
            sent = burst.start(self.clock())
        except BaseException:
            burst.close()
            raise
        if burst.next_due() is not None:
            with self._lock:
                self._prune()
                self._jobs[burst.ip] = GarpJob(burst, self.clock)
        return sent

    def _prune(self) -> None:
        for ip in [ip for ip, job in self._jobs.items() if not job.thread.is_alive()]:
            del self._jobs[ip]

    def cancel(self, ip: str) -> None:
        with self._lock:
            job = self._jobs.pop(ip, None)
        if job is not None:
            job.cancel()
            job.wait(1.0)

    def wait(self, ip: str, timeout: float | None = None) -> bool:
        """Wait for the VIP's burst to finish; True if none is left running."""
        with self._lock:
            job = self._jobs.get(ip)
        return job is None or job.wait(timeout)

    def active(self) -> list[str]:
        """The VIPs whose burst is still running."""
        with self._lock:
            return [ip for ip, job in self._jobs.items() if job.thread.is_alive()]
