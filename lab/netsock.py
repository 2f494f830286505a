"""Sockets that live inside a lab namespace, opened from the test process.

A socket belongs to the network namespace it was created in, for its whole life.
A short-lived thread enters the namespace (setns is per thread for network
namespaces), creates the socket and exits, so the caller's own thread never
leaves the root namespace and nothing is sent from it.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import TypeVar

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
SIOCGIFHWADDR = 0x8927
SIOCGIFCONF = 0x8912
# struct ifreq: a 16-byte name, then a union whose largest member (struct ifmap) is
# 24 bytes where pointers are 8 and 16 where they are 4; an address in it is a
# struct sockaddr_in (family, port, then the IPv4 address at offset 4).
IFREQ_SIZE = 40 if struct.calcsize("P") == 8 else 32
IFCONF_MAX_BYTES = 1 << 20  # a namespace with more addresses than this is not a lab's

T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(netns: str) -> str:
    """A named namespace (`ip netns`) or a path such as /proc/PID/ns/net (containers)."""
    return netns if netns.startswith("/") else f"/run/netns/{netns}"


def run_in_netns(netns: str, func: Callable[[], T]) -> T:
    """Run ``func`` on a fresh thread that has joined ``netns``; return its result."""
    box: dict[str, T | BaseException] = {}

    def worker() -> None:
        try:
            fd = os.open(netns_path(netns), os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({netns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = func()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=worker, name=f"setns-{netns}")
    thread.start()
    thread.join(10.0)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    if "value" not in box:
        raise TimeoutError(f"could not open a socket in {netns}")
    return box["value"]  # type: ignore[return-value]


def packet_socket(netns: str, iface: str, proto: int = ETH_P_ALL) -> socket.socket:
    """A raw AF_PACKET socket bound to ``iface`` inside ``netns``."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
        sock.bind((iface, 0))
        return sock

    return run_in_netns(netns, make)


def inet_socket(netns: str, kind: int = socket.SOCK_STREAM) -> socket.socket:
    return run_in_netns(netns, lambda: socket.socket(socket.AF_INET, kind))


def interface_mac(netns: str, iface: str) -> str:
    """The MAC of ``iface`` in ``netns`` (SIOCGIFHWADDR from inside the namespace)."""

    def read() -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack("256s", iface.encode()[:15])
            info = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, request)
        return ":".join(f"{b:02x}" for b in info[18:24])

    return run_in_netns(netns, read)


def ipv4_addresses(netns: str) -> list[tuple[str, str]]:
    """Every IPv4 address in ``netns`` with its label (``eth0:0``), up or down.

    SIOCGIFCONF on a socket made inside the namespace, rather than an rtnetlink dump
    through pyroute2: the tests ask who holds the VIP every 50 ms while they wait,
    and pyroute2 0.9 runs an asyncio loop and decodes every attribute of every
    address for each ask (about 7 ms of a 2-core machine's time per node, measured;
    this takes a tenth of that). The kernel lists each address under its label, so
    an alias interface and a second address on one interface are both seen.
    """

    def read() -> list[tuple[str, str]]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            size = 16 * IFREQ_SIZE
            while True:  # bounded: the buffer doubles up to IFCONF_MAX_BYTES
                buf = ctypes.create_string_buffer(size)
                request = struct.pack("iP", size, ctypes.addressof(buf))
                used = struct.unpack("iP", fcntl.ioctl(sock.fileno(), SIOCGIFCONF, request))[0]
                if used < size or size >= IFCONF_MAX_BYTES:
                    break  # a full buffer may have cut the list short: ask again, larger
                size *= 2
        raw = buf.raw[:used]
        found = []
        for start in range(0, used - IFREQ_SIZE + 1, IFREQ_SIZE):
            entry = raw[start : start + IFREQ_SIZE]
            label = entry[:16].split(b"\0", 1)[0].decode(errors="replace")
            found.append((label, socket.inet_ntoa(entry[20:24])))
        return found

    return run_in_netns(netns, read)
