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
