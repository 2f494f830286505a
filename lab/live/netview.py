"""What each node looks like from outside, cheaply enough to ask ten times a second.

* Two ioctls on one UDP socket per node, kept open inside its namespace (reopened
  when the namespace changes): SIOCGIFFLAGS for each interface up or down, and
  SIOCGIFCONF for its IPv4 addresses (the VIP, eth0:0 included). A pyroute2 dump
  costs milliseconds of Python per call; these cost microseconds, ten times a second.
* Netlink (pyroute2), once a second: a netem qdisc on an interface.
* The node's own files, through its init's root: the daemon's and nginx's pid
  files, checked against the node's own /proc. No process is started for these.
* The nftables loss rule lab.faults falls back to where the kernel has no netem:
  `nft` inside the node's network namespace, asked only every few seconds.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import re
import socket
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyroute2 import NetNS

from lab.faults import NFT_TABLE
from lab.impls import PIDFILE
from lab.netsock import inet_socket, netns_path

NGINX_PIDFILE = "run/nginx.pid"  # lab/assets/nginx.init
IFF_UP = 0x1
SIOCGIFCONF, SIOCGIFFLAGS = 0x8912, 0x8913  # linux/sockios.h
IFREQ = 40  # struct ifreq on 64-bit Linux: 16 bytes of name, 24 of union
MAX_ADDRESSES = 64
_NFT_LOSS = re.compile(r'oifname "([^"]+)" numgen random mod 100 < (\d+)')


@dataclass
class NetState:
    """One look at a node's namespace."""

    links: dict[str, bool] = field(default_factory=dict)  # ifname → administratively up
    addresses: set[str] = field(default_factory=set)
    netem: dict[str, str] = field(default_factory=dict)  # ifname → "netem loss 30%"


class NetHandle:
    """One node's namespace, looked at from here: a socket and a netlink handle in it."""

    def __init__(self) -> None:
        self.ref = ""
        self._sock: socket.socket | None = None
        self._ns: Any = None

    def point_at(self, ref: str) -> None:
        """Follow the node to ``ref`` (a name or /proc path; "" while it is off).

        Closing at once matters: an open socket keeps a namespace alive, and with it
        a powered-off container's interfaces."""
        if ref == self.ref and (self._sock is not None or not ref):
            return
        self.close()
        self.ref = ref
        if ref and Path(netns_path(ref)).exists():
            with contextlib.suppress(OSError, TimeoutError):
                self._sock = inet_socket(ref, socket.SOCK_DGRAM)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        if self._ns is not None:
            with contextlib.suppress(Exception):  # a namespace already gone closes badly
                self._ns.close()
        self._sock = self._ns = None

    def look(self, ifaces: list[str], with_qdiscs: bool) -> NetState | None:
        if self._sock is None:
            return None
        try:
            state = NetState(
                links={name: bool(if_flags(self._sock, name) & IFF_UP) for name in ifaces},
                addresses=if_addresses(self._sock),
            )
        except OSError:  # an interface gone: the namespace is going away
            self.close()
            return None
        if with_qdiscs:
            with contextlib.suppress(Exception):  # netem is extra: never lose the rest for it
                state.netem = self._netem()
        return state

    def _netem(self) -> dict[str, str]:
        if self._ns is None:
            self._ns = NetNS(self.ref)
        names = {int(link["index"]): str(link.get("ifname")) for link in self._ns.get_links()}
        return {
            names.get(int(qdisc["index"]), "?"): _netem_text(qdisc)
            for qdisc in self._ns.get_qdiscs()
            if qdisc.get("kind") == "netem" and qdisc.get("parent") == 0xFFFFFFFF
        }


def if_flags(sock: socket.socket, name: str) -> int:
    """SIOCGIFFLAGS: the interface's flags in the socket's namespace."""
    request = struct.pack("16sH", name.encode()[:15], 0)
    return int(struct.unpack_from("H", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request), 16)[0])


def if_addresses(sock: socket.socket) -> set[str]:
    """SIOCGIFCONF: every IPv4 address in the socket's namespace (aliases included)."""
    buffer = array.array("B", bytes(IFREQ * MAX_ADDRESSES))
    address, _ = buffer.buffer_info()
    request = struct.pack("iL", len(buffer), address)
    length = struct.unpack_from("i", fcntl.ioctl(sock.fileno(), SIOCGIFCONF, request))[0]
    raw = buffer.tobytes()[:length]
    # Each ifreq: name[16], then a sockaddr_in (family, port, address).
    return {socket.inet_ntoa(raw[i + 20 : i + 24]) for i in range(0, length, IFREQ)}


def _netem_text(qdisc: Any) -> str:
    """netem's loss as a percentage where pyroute2 decodes it, else just "netem"."""
    options = qdisc.get("options")
    loss = options.get("loss") if options is not None else None
    if isinstance(loss, int) and loss > 0:
        return f"netem loss {loss * 100 / 0xFFFFFFFF:.0f}%"
    return "netem"


def nft_loss(netns: str) -> dict[str, str]:
    """lab.faults' nftables loss rules in ``netns``: ifname → "loss 30%"."""
    done = subprocess.run(
        ["nsenter", f"--net={netns_path(netns)}", "nft", "list", "table", "inet", NFT_TABLE],
        capture_output=True,
        text=True,
        timeout=5,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        return {}
    return {m.group(1): f"loss {m.group(2)}%" for m in _NFT_LOSS.finditer(done.stdout)}


def process_running(root: Path, pidfile: str) -> bool:
    """Whether the pid file under the node's ``root`` names a live process of the node
    (looked up in the node's own /proc: its PIDs are its namespace's)."""
    try:
        pid = int((root / pidfile).read_text().split()[0])
        stat = (root / "proc" / str(pid) / "stat").read_text()
    except (OSError, ValueError, IndexError):
        return False
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def node_root(init_pid: int | None) -> Path | None:
    return Path(f"/proc/{init_pid}/root") if init_pid else None


def daemon_running(root: Path) -> bool:
    return process_running(root, PIDFILE)


def nginx_running(root: Path) -> bool:
    return process_running(root, NGINX_PIDFILE)
