"""Heartbeat's communication media as sockets: UDP (ucast, bcast, mcast) and ICMP ping.

One `UdpLink` per interface. The link name is the interface name (`eth1`), which
is what Heartbeat calls the link in logs and cl_status. Every `ucast`/`bcast`
line for that interface adds a destination to it. The receive socket binds
0.0.0.0:udpport with SO_BINDTODEVICE, as Heartbeat's ucast plugin does, so
traffic on another interface is not taken for this link.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass, field

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
IPTOS_LOWDELAY = 0x10
MAX_DATAGRAM = 256 * 1024  # MAXMSG: receivers read at most this much
# The receive queue of a link: room for ~1000 small datagrams, so a burst of junk
# (or a moment without CPU) does not drop the peer's heartbeats, yet short enough
# that a heartbeat queued behind it waits milliseconds, not a deadtime.
RECV_BUFFER = 1024 * 1024
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0


class MediaError(OSError):
    pass


@dataclass
class Destination:
    address: str
    port: int


@dataclass
class UdpLink:
    """The send and receive sockets of one interface."""

    ifname: str
    port: int
    destinations: list[Destination] = field(default_factory=list)
    mcast_group: str | None = None
    recv_sock: socket.socket | None = None
    send_sock: socket.socket | None = None
    send_errors: int = 0

    def open(self) -> None:
        try:
            self.recv_sock = self._open_recv()
            self.send_sock = self._open_send()
        except OSError as exc:
            self.close()
            raise MediaError(
                exc.errno, f"{self.ifname}: cannot open UDP port {self.port}: {exc.strerror}"
            ) from exc

    def _open_recv(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(AttributeError, OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
        grow_receive_buffer(sock, RECV_BUFFER)
        sock.bind(("0.0.0.0", self.port))
        if self.mcast_group:
            mreq = struct.pack(
                "4s4s", socket.inet_aton(self.mcast_group), socket.inet_aton("0.0.0.0")
            )
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        sock.setblocking(False)
        return sock

    def _open_send(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, IPTOS_LOWDELAY)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setblocking(False)
        return sock

    def send(self, datagram: bytes) -> None:
        """Send to every destination; a full buffer or an unplugged cable is counted."""
        if self.send_sock is None:
            return
        for dest in self.destinations:
            try:
                self.send_sock.sendto(datagram, (dest.address, dest.port))
            except OSError:
                self.send_errors += 1  # ENOBUFS, ENETUNREACH on a pulled cable…

    def receive(self, limit: int = 64) -> list[tuple[bytes, tuple[str, int]]]:
        """Everything waiting on the receive socket (bounded per call)."""
        got: list[tuple[bytes, tuple[str, int]]] = []
        if self.recv_sock is None:
            return got
        for _ in range(limit):
            try:
                data, addr = self.recv_sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            got.append((data, addr))
        return got

    def close(self) -> None:
        for sock in (self.recv_sock, self.send_sock):
            if sock is not None:
                sock.close()
        self.recv_sock = self.send_sock = None


def grow_receive_buffer(sock: socket.socket, size: int) -> int:
    """Ask for a ``size``-byte receive queue; return what the kernel granted.

    SO_RCVBUFFORCE (root) passes net.core.rmem_max; without the privilege the
    plain SO_RCVBUF is capped there, which is still no smaller than the default.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except OSError:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def interface_broadcast(ifname: str) -> str:
    """The IPv4 broadcast address of ``ifname`` (SIOCGIFBRDADDR), for `bcast` media."""
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            info = fcntl.ioctl(sock.fileno(), 0x8919, struct.pack("256s", ifname.encode()[:15]))
        except OSError as exc:
            raise MediaError(exc.errno, f"{ifname}: no broadcast address") from exc
    return socket.inet_ntoa(info[20:24])


def local_ipv4_addresses() -> set[str]:
    """Our own addresses, to ignore `ucast` lines that name ourselves (one ha.cf for all)."""
    from hbnode.resources.rtnl import RtNetlink

    with RtNetlink() as rtnl:
        return {str(msg.get_attr("IFA_ADDRESS")) for msg in rtnl.get_addr(socket.AF_INET)}


# -- ping nodes (ICMP echo carrying our NS_st message, as Heartbeat's ping plugin) --
def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq & 0xFFFF)
    csum = _checksum(header + payload)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, csum, ident, seq & 0xFFFF) + payload


def parse_echo_reply_untrusted(packet: bytes, ident: int) -> bytes | None:
    """The payload of an echo reply to us, from a raw IPv4 packet; None otherwise."""
    if len(packet) < 20:
        return None
    header_len = (packet[0] & 0x0F) * 4
    icmp = packet[header_len:]
    if len(icmp) < 8 or header_len < 20:
        return None
    kind, _code, _csum, got_ident, _seq = struct.unpack("!BBHHH", icmp[:8])
    if kind != ICMP_ECHO_REPLY or got_ident != ident:
        return None
    return icmp[8:]


@dataclass
class PingLink:
    """One raw ICMP socket for all ping nodes; echo replies mark them alive."""

    targets: dict[str, list[str]]  # ping node name → member IPs (ping_group has several)
    ident: int = field(default_factory=lambda: os.getpid() & 0xFFFF)
    sock: socket.socket | None = None
    seq: int = 0

    def open(self) -> None:
        for ips in self.targets.values():
            for ip in ips:
                ipaddress.IPv4Address(ip)  # a name would be resolved by config, not here
        try:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except OSError as exc:
            raise MediaError(exc.errno, f"cannot open an ICMP socket: {exc.strerror}") from exc
        self.sock.setblocking(False)

    def send(self, name: str, payload: bytes) -> None:
        if self.sock is None:
            return
        self.seq += 1
        for ip in self.targets.get(name, []):
            with contextlib.suppress(OSError):
                self.sock.sendto(echo_request(self.ident, self.seq, payload), (ip, 0))

    def receive(self, limit: int = 64) -> list[tuple[str, bytes]]:
        """(ping node name, returned payload) for each echo reply to us."""
        replies: list[tuple[str, bytes]] = []
        if self.sock is None:
            return replies
        by_ip = {ip: name for name, ips in self.targets.items() for ip in ips}
        for _ in range(limit):
            try:
                packet, (addr, _port) = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError, OSError):
                break
            payload = parse_echo_reply_untrusted(packet, self.ident)
            if payload is not None and addr in by_ip:
                replies.append((by_ip[addr], payload))
        return replies

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
