"""What a :class:`lab.wiretrace.WireTrace` records: one event per packet, and marks.

A heartbeat event is a UDP datagram to or from the heartbeat port, decoded and
authenticated by the lab's own codec (lab.hbcodec); an ARP event is one ARP
packet; a ping event is one ICMP echo request or reply (a node and its ping
node); a mark is a moment the test itself noted ("poweroff master"). Each event
carries its capture time (seconds since the epoch, as in a pcap) and the label of
the interface it was seen on, ``node:iface`` by convention (``slave:eth1``).
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.hbcodec import CodecError, Encoding, Message, parse_untrusted, schema, verify
from lab.wireframe import ArpPacket, IcmpPacket, UdpPacket


class AuthStatus(enum.Enum):
    OK = "ok"
    BAD = "bad"  # a bad or missing signature, or bytes that do not even parse
    UNCHECKED = "unchecked"  # the trace was given no keys


@dataclass(frozen=True, slots=True)
class HeartbeatEvent:
    time: float
    iface: str
    ip_src: str
    sport: int
    ip_dst: str
    dport: int
    size: int
    message: Message | None  # None: the bytes did not parse
    encoding: Encoding | None
    auth: AuthStatus
    reason: str | None = None  # why auth is BAD: an AuthFailure value, or the parse error
    outgoing: bool | None = None  # sent by the interface's own host (None: not known)

    kind: str = field(default="heartbeat", init=False)

    @property
    def decoded(self) -> bool:
        return self.message is not None

    def get(self, name: str) -> str | None:
        """The first string field ``name`` of the message (None if undecodable)."""
        return None if self.message is None else self.message.get(name)

    def number(self, name: str) -> int | None:
        """Field ``name`` read as the number protocol.md §3 says it is (seq is hex…)."""
        return None if self.message is None else schema.number(self.message, name)

    @property
    def t(self) -> str | None:
        return self.get("t")

    @property
    def src(self) -> str | None:
        return self.get("src")

    @property
    def seq(self) -> int | None:
        return self.number("seq")

    @property
    def hg(self) -> int | None:
        return self.number("hg")

    def __str__(self) -> str:
        names = ("t", "st", "src", "dest", "seq", "firstseq", "rsc_hold", "info")
        shown = " ".join(f"{n}={v}" for n in names if (v := self.get(n)) is not None)
        body = shown if self.decoded else f"<{self.reason}>"
        return f"{self.time:.6f} {self.iface} {body} auth={self.auth.value}"


@dataclass(frozen=True, slots=True)
class ArpEvent:
    time: float
    iface: str
    arp: ArpPacket
    outgoing: bool | None = None

    kind: str = field(default="arp", init=False)

    @property
    def gratuitous(self) -> bool:
        return self.arp.gratuitous

    def __str__(self) -> str:
        op = {1: "request", 2: "reply"}.get(self.arp.op, f"op{self.arp.op}")
        what = "gratuitous " if self.gratuitous else ""
        return (
            f"{self.time:.6f} {self.iface} {what}ARP {op} {self.arp.sender_ip}"
            f" is-at {self.arp.sender_mac} (for {self.arp.target_ip})"
        )


@dataclass(frozen=True, slots=True)
class PingEvent:
    """An ICMP echo: a node's ping (request) or the ping node's answer (reply).

    Heartbeat's ping medium carries the node's ``NS_st`` message after the ICMP
    header and reads it back from the reply (protocol.md §4.6); ``message`` is that
    message when the payload parses, else None (an ordinary ping)."""

    time: float
    iface: str
    icmp: IcmpPacket
    message: Message | None = None
    outgoing: bool | None = None

    kind: str = field(default="ping", init=False)

    @property
    def request(self) -> bool:
        return self.icmp.request

    @property
    def reply(self) -> bool:
        return self.icmp.reply

    @property
    def pinger(self) -> str:
        """The address of the host that pinged: the source of a request, the
        destination of a reply."""
        return self.icmp.ip_src if self.request else self.icmp.ip_dst

    @property
    def target(self) -> str:
        """The address that was pinged."""
        return self.icmp.ip_dst if self.request else self.icmp.ip_src

    def __str__(self) -> str:
        what = "echo request" if self.request else "echo reply"
        carried = f" {self.message.get('t')}" if self.message is not None else ""
        return (
            f"{self.time:.6f} {self.iface} ICMP {what} {self.icmp.ip_src} > {self.icmp.ip_dst}"
            f" id={self.icmp.ident} seq={self.icmp.seq}{carried}"
        )


def ping_event(
    when: float, iface: str, icmp: IcmpPacket, outgoing: bool | None = None
) -> PingEvent:
    """An echo and, when its payload is one, the heartbeat message it carries."""
    try:
        message: Message | None = parse_untrusted(icmp.payload).message
    except CodecError:
        message = None
    return PingEvent(when, iface, icmp, message, outgoing)


@dataclass(frozen=True, slots=True)
class MarkEvent:
    time: float
    label: str
    iface: str = ""

    kind: str = field(default="mark", init=False)

    def __str__(self) -> str:
        return f"{self.time:.6f} mark {self.label}"


Event = HeartbeatEvent | ArpEvent | PingEvent | MarkEvent


def heartbeat_event(
    when: float, iface: str, udp: UdpPacket, keys: Any | None, outgoing: bool | None = None
) -> HeartbeatEvent:
    """Decode and authenticate one datagram; any bytes at all give an event."""
    base = (when, iface, udp.ip_src, udp.sport, udp.ip_dst, udp.dport, len(udp.payload))
    try:
        decoded = parse_untrusted(udp.payload)
    except CodecError as exc:
        bad = AuthStatus.UNCHECKED if keys is None else AuthStatus.BAD
        return HeartbeatEvent(*base, None, None, bad, f"undecodable: {exc}", outgoing)
    if keys is None:
        status, reason = AuthStatus.UNCHECKED, None
    else:
        failure = verify(decoded, keys)
        status = AuthStatus.OK if failure is None else AuthStatus.BAD
        reason = None if failure is None else failure.value
    return HeartbeatEvent(*base, decoded.message, decoded.encoding, status, reason, outgoing)


@dataclass(frozen=True, slots=True)
class IntervalStats:
    """The gaps between one sender's successive messages of one type, in seconds.

    Each message counts once, however many interfaces saw it (by ``hg``/``seq``).
    """

    src: str
    t: str
    times: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.times)

    @property
    def gaps(self) -> tuple[float, ...]:
        return tuple(b - a for a, b in zip(self.times, self.times[1:], strict=False))

    @property
    def min(self) -> float | None:
        return min(self.gaps, default=None)

    @property
    def max(self) -> float | None:
        return max(self.gaps, default=None)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.gaps) if self.gaps else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.gaps) if self.gaps else None

    @property
    def stdev(self) -> float | None:
        return statistics.pstdev(self.gaps) if self.gaps else None

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile (0..100) of the gaps, nearest-rank."""
        ordered = sorted(self.gaps)
        if not ordered:
            return None
        rank = max(1, -(-len(ordered) * p // 100))  # ceil without float surprises
        return ordered[min(len(ordered), int(rank)) - 1]

    def late(self, threshold: float) -> list[tuple[float, float]]:
        """(time, gap) of each message that came more than ``threshold`` after the one
        before: what Heartbeat's ``Late heartbeat`` (warntime) would report."""
        return [
            (b, b - a)
            for a, b in zip(self.times, self.times[1:], strict=False)
            if b - a > threshold
        ]

    def __str__(self) -> str:
        if not self.gaps:
            return f"{self.src} {self.t}: {self.count} message(s), no interval"
        return (
            f"{self.src} {self.t}: {self.count} messages, interval median {self.median:.3f} s"
            f" (min {self.min:.3f}, max {self.max:.3f})"
        )


def first_sightings(events: Sequence[HeartbeatEvent]) -> list[HeartbeatEvent]:
    """Each message once: the first of the events that carry the same (src, hg, seq).

    The same datagram is seen on the sender's and the receiver's interface, and a
    retransmission repeats its seq; messages without a seq (``NS_…``) all count.
    """
    seen: set[tuple[str | None, int, int]] = set()
    kept = []
    for event in events:
        seq, hg = event.seq, event.hg
        if seq is not None and hg is not None:
            key = (event.src, hg, seq)
            if key in seen:
                continue
            seen.add(key)
        kept.append(event)
    return kept
