"""What the wire shows, live: heartbeats arriving on each node's eth1, and who
answers the client's ARP request for the VIP on the service LAN.

One thread reads every packet socket (lab.wiretrace.open_tap: opened inside the
node's namespace, kernel-filtered to UDP 694 and ARP). A heartbeat is told by its
sender's address, from the topology, so nothing is decoded per packet. Each
``arp_interval`` the thread sends one ARP who-has for the VIP from the client's
eth0 (inside the lab, never elsewhere) and records every MAC that answers before
the next one. Sockets follow the nodes: when a node's namespace changes (a
container booted again) or goes away (powered off), :meth:`WireWatch.retarget`
closes and reopens them.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.topology import Topology
from lab.wireframe import ArpPacket, UdpPacket, parse_frame
from lab.wiretrace import SNAPLEN, Tap, open_tap

PACKET_OUTGOING = 4  # linux/if_packet.h: a frame this host sent
DRAIN_BATCH = 64  # frames read from one socket before looking at the others
MAX_BEATS = 1000  # unread heartbeats kept for the model (it reads 5-10 times a second)


def arp_request(src_mac: str, src_ip: str, target_ip: str) -> bytes:
    """A broadcast ARP who-has (RFC 826), padded to Ethernet's 60-byte minimum."""
    mac = bytes.fromhex(src_mac.replace(":", ""))
    header = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)  # Ethernet, IPv4, request
    body = header + mac + socket.inet_aton(src_ip) + bytes(6) + socket.inet_aton(target_ip)
    frame = b"\xff" * 6 + mac + b"\x08\x06" + body
    return frame.ljust(60, b"\x00")


@dataclass(frozen=True, slots=True)
class Target:
    """Where to listen: a node's interface inside the namespace it has now."""

    node: str
    iface: str
    netns: str
    arp: bool = False  # the client's service-LAN side (ARP), not a heartbeat link

    @property
    def label(self) -> str:
        return f"{self.node}:{self.iface}"


class WireWatch:
    """Heartbeats heard per (node, iface) and the latest ARP answers for the VIP."""

    def __init__(
        self,
        topo: Topology,
        arp_interval: float = 0.2,
        max_seconds: float = 3600.0,
        opener: Callable[[str, str, Tap], socket.socket] = open_tap,
    ) -> None:
        self.vip = str(topo.vip.ip)
        self.arp_interval = arp_interval
        self.max_seconds = max_seconds
        self.opener = opener
        self.node_of_ip = {str(i.address.ip): h.name for h in topo.hosts for i in h.interfaces}
        self.node_of_mac = {i.mac: h.name for h in topo.hosts for i in h.interfaces}
        self.cluster = {h.name for h in topo.cluster_nodes}
        client = topo.host("client")
        iface = client.interface(topo.vip_iface) if client is not None else None
        if iface is not None and topo.vip.ip not in iface.address.network:
            iface = None  # a client beside the service LAN: nobody to ask
        self.client_if = iface
        self.heard: dict[tuple[str, str], float] = {}  # (receiver, iface) → wall time
        self.arp_answers: list[str] = []  # nodes (or MACs) that answered the last request
        self.errors: list[str] = []
        self._beats: list[tuple[float, str, str, str]] = []
        self._answering: set[str] = set()
        self._lock = threading.Lock()
        self._wanted: dict[str, Target] = {}
        self._open: dict[str, tuple[Target, socket.socket]] = {}
        self._stop = threading.Event()
        self._wake = socket.socketpair()
        self._thread: threading.Thread | None = None

    # -- the model's side ----------------------------------------------------------------------
    def retarget(self, targets: list[Target]) -> None:
        """Listen exactly on ``targets`` from now on (opened and closed by the thread)."""
        wanted = {t.label: t for t in targets}
        with self._lock:
            if wanted == self._wanted:
                return
            self._wanted = wanted
        with contextlib.suppress(OSError):
            self._wake[1].send(b"r")

    def take_beats(self) -> list[tuple[float, str, str, str]]:
        """Heartbeats that arrived since the last call: (time, sender, receiver, iface)."""
        with self._lock:
            taken, self._beats = self._beats, []
        return taken

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="live-wire", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake[1].send(b"x")
        if self._thread is not None:
            self._thread.join(5.0)
        for _, sock in self._open.values():
            sock.close()
        self._open.clear()
        for sock in self._wake:
            sock.close()

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        next_arp = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._reconcile()
            now = time.monotonic()
            if now >= next_arp:
                self._ask_arp()
                next_arp = now + self.arp_interval
            sockets = {sock: target for target, sock in self._open.values()}
            try:
                ready, _, _ = select.select([*sockets, self._wake[0]], [], [], next_arp - now)
            except (OSError, ValueError):
                continue  # a socket closed under us: reconcile and go on
            if self._wake[0] in ready:
                self._wake[0].recv(64)
            for sock in ready:
                if sock in sockets:
                    self._drain(sock, sockets[sock])

    def _reconcile(self) -> None:
        with self._lock:
            wanted = dict(self._wanted)
        for label, (target, sock) in list(self._open.items()):
            if wanted.get(label) != target:
                sock.close()
                del self._open[label]
        for label, target in wanted.items():
            if label in self._open:
                continue
            tap = Tap(target.netns, target.iface, label, heartbeat=not target.arp, arp=target.arp)
            try:
                self._open[label] = (target, self.opener(target.netns, target.iface, tap))
            except OSError as exc:  # the node went away meanwhile: the next retarget says so
                self.errors = [*self.errors[-9:], f"{label}: {exc}"]

    def _ask_arp(self) -> None:
        """Close the last request's window and send the next who-has from the client."""
        with self._lock:
            self.arp_answers = sorted(self._answering)
            self._answering = set()
        client = next((entry for entry in self._open.values() if entry[0].arp), None)
        if client is None or self.client_if is None:
            return
        frame = arp_request(self.client_if.mac, str(self.client_if.address.ip), self.vip)
        with contextlib.suppress(OSError):
            client[1].send(frame)

    def _drain(self, sock: socket.socket, target: Target) -> None:
        for _ in range(DRAIN_BATCH):
            try:
                frame, address = sock.recvfrom(SNAPLEN)
            except BlockingIOError:
                return
            except OSError as exc:
                self.errors = [*self.errors[-9:], f"{target.label}: {exc}"]
                return
            outgoing = isinstance(address, tuple) and len(address) >= 3
            outgoing = outgoing and address[2] == PACKET_OUTGOING
            self._record(target, parse_frame(frame), outgoing, time.time())

    def _record(
        self, target: Target, packet: UdpPacket | ArpPacket | None, outgoing: bool, now: float
    ) -> None:
        if isinstance(packet, ArpPacket):
            if target.arp and packet.op == 2 and packet.sender_ip == self.vip:
                with self._lock:
                    self._answering.add(self.node_of_mac.get(packet.sender_mac, packet.sender_mac))
            return
        if packet is None or outgoing or target.arp:
            return
        sender = self.node_of_ip.get(packet.ip_src)
        if sender is None or sender == target.node or sender not in self.cluster:
            return
        with self._lock:
            self.heard[(target.node, target.iface)] = now
            if len(self._beats) < MAX_BEATS:
                self._beats.append((now, sender, target.node, target.iface))
