"""Datagrams in and out: sockets ↔ codec ↔ the node.

Every received datagram is decoded and authenticated here, before the core sees
it. A malformed, unsigned or wrongly signed packet is counted by reason and
logged at most once per LOG_INTERVAL (hbnode.lograte) per reason (a flood must not fill the disk),
and never reaches the protocol.
"""

from __future__ import annotations

import enum
import selectors
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hbnode.auth import AuthFailure, AuthKeys, check_untrusted
from hbnode.config import ClusterConfig, effective_media
from hbnode.config.hacf import BcastMedium, McastMedium, UcastMedium
from hbnode.hblog import HbLogger
from hbnode.lograte import LogLimiter
from hbnode.media import (
    Destination,
    MediaError,
    PingLink,
    UdpLink,
    interface_broadcast,
    local_ipv4_addresses,
)
from hbnode.message import Message
from hbnode.wire import (
    NETSTRING_START,
    WireError,
    decode_untrusted,
    encode_datagram,
    message_from_split_untrusted,
    split_netstring_items_untrusted,
    verify_datagram,
)

if TYPE_CHECKING:
    from hbnode.node import Node

MAX_ECHOES = 8  # our latest probes, recognised by their bytes when they come back


class Rejection(enum.StrEnum):
    """Why a datagram never reached the protocol (counted in status --json)."""

    MALFORMED = "malformed"
    MISSING_AUTH = "missing_auth"
    BAD_AUTH_SYNTAX = "bad_auth_syntax"
    UNKNOWN_KEY_INDEX = "unknown_key_index"
    BAD_SIGNATURE = "bad_signature"
    BAD_PING_REPLY = "bad_ping_reply"


_AUTH_REJECTION = {
    AuthFailure.MISSING_AUTH: Rejection.MISSING_AUTH,
    AuthFailure.BAD_TRAILER_SYNTAX: Rejection.BAD_AUTH_SYNTAX,
    AuthFailure.UNKNOWN_KEY_INDEX: Rejection.UNKNOWN_KEY_INDEX,
    AuthFailure.DIGEST_MISMATCH: Rejection.BAD_SIGNATURE,
}


@dataclass
class RejectLog:
    """Counts every rejection; logs each reason at most once per interval."""

    counts: Counter[str] = field(default_factory=Counter)
    lines: LogLimiter = field(default_factory=LogLimiter)

    def reject(self, reason: Rejection, now: float) -> tuple[bool, int]:
        """Count it; return (log now?, how many were suppressed since last time)."""
        self.counts[reason.value] += 1
        return self.lines.allow(reason.value, now)


class LinkIO:
    def __init__(self, config: ClusterConfig, node: Node, log: HbLogger) -> None:
        self.config, self.node, self.log = config, node, log
        # Each ping node's last probe and its signed bytes, and the probes we signed,
        # by their bytes: the core hands out the same probe while its ts (seconds)
        # holds, and its echo comes back byte for byte (_probe_datagram, _on_ping).
        self._probes: dict[str, tuple[Message, bytes]] = {}
        self._echoes: dict[bytes, Message] = {}
        self._keys: AuthKeys = config.authkeys
        self.links: dict[str, UdpLink] = {}
        self.ping: PingLink | None = None
        self.rejects = RejectLog()
        self.sent = 0
        self.received = 0

    @property
    def keys(self) -> AuthKeys:
        return self._keys

    @keys.setter
    def keys(self, keys: AuthKeys) -> None:
        """New authkeys (SIGHUP): what was signed with the old ones is forgotten."""
        self._keys = keys
        self._probes.clear()
        self._echoes.clear()

    # -- set-up ------------------------------------------------------------------
    def open(self, selector: selectors.BaseSelector) -> None:
        self.links = build_links(self.config, local_ipv4_addresses())
        for link in self.links.values():
            link.open()
            assert link.recv_sock is not None  # open() made it
            selector.register(
                link.recv_sock, selectors.EVENT_READ, lambda _s, link=link: self._on_readable(link)
            )
            self.log.info(f"glib: {_describe(link)}")
        targets = self.node.ping_targets()
        if targets:
            self.ping = PingLink(targets)
            self.ping.open()
            assert self.ping.sock is not None  # open() made it
            selector.register(self.ping.sock, selectors.EVENT_READ, lambda _s: self._on_ping())
            self.log.info("glib: ping heartbeat started.")

    def close(self) -> None:
        for link in self.links.values():
            link.close()
        if self.ping is not None:
            self.ping.close()

    # -- receive -----------------------------------------------------------------
    def _on_readable(self, link: UdpLink) -> None:
        for data, addr in link.receive():
            self.received += 1
            message = self._accept(data, f"{addr[0]}:{addr[1]}")
            if message is not None:
                self.node.receive(message, link.ifname, time.monotonic())

    def _accept(self, data: bytes, origin: str) -> Message | None:
        now = time.monotonic()
        if data.startswith(NETSTRING_START):
            return self._accept_netstring(data, origin, now)
        try:
            datagram = decode_untrusted(data)
        except WireError as exc:
            self._malformed(origin, exc, now)
            return None
        failure = verify_datagram(datagram, self.keys)
        if failure is not None:
            self._auth_failed(failure, origin, datagram.auth_string, datagram.message, now)
            return None
        return datagram.message

    def _accept_netstring(self, data: bytes, origin: str, now: float) -> Message | None:
        """Authenticate first, decode after: what 3.0.6 sends, at flood speed.

        Splitting off the trailer walks the top-level items without decoding them,
        so a well-framed packet with a wrong key costs a walk and one digest, not a
        full decode (the 20 000 packets/s flood of issue 7). The split is exactly
        the one decode_untrusted makes, so what is accepted does not change; a
        packet both unauthentic and malformed inside a field is now counted by its
        auth failure (the first check it fails) rather than as malformed.
        """
        try:
            split = split_netstring_items_untrusted(data)
        except WireError as exc:
            self._malformed(origin, exc, now)
            return None
        failure = check_untrusted(self.keys, split.auth_string, split.signed)
        if failure is not None:
            self._auth_failed(failure, origin, split.auth_string, data, now)
            return None
        try:
            # The fields of the walk just made: decode_untrusted would walk them again.
            return message_from_split_untrusted(data, split)
        except WireError as exc:
            self._malformed(origin, exc, now)
            return None

    def _malformed(self, origin: str, exc: WireError, now: float) -> None:
        self._rejected(Rejection.MALFORMED, lambda: f"bad packet from {origin}: {exc}", now)

    def _auth_failed(
        self,
        failure: AuthFailure,
        origin: str,
        auth_string: str | None,
        packet: Message | bytes,
        now: float,
    ) -> None:
        def text() -> str:
            # Built only when the line is written (rate-limited): naming the source
            # costs a decode when the packet was rejected before its fields were read.
            src = packet.get("src") if isinstance(packet, Message) else _src_untrusted(packet)
            # Heartbeat's own wording, so log habits carry over (heartbeat.c).
            return (
                f"netstring authentication failed, from {origin}: {failure.name.lower()}"
                f" (auth {auth_string!r}, src={src!r})"
            )

        self._rejected(_AUTH_REJECTION[failure], text, now)

    def _rejected(self, reason: Rejection, text: Callable[[], str], now: float) -> None:
        log_now, suppressed = self.rejects.reject(reason, now)
        if log_now and self.config.hacf.log_badpack:
            more = f" ({suppressed} more since the last report)" if suppressed else ""
            self.log.error(text() + more)

    def _on_ping(self) -> None:
        if self.ping is None:
            return
        for name, payload in self.ping.receive():
            # Byte for byte a probe we signed ourselves: nothing to decode or check.
            message = self._echoes.get(payload) or self._accept(payload, f"ping {name}")
            if message is None or message.get("info") not in ("ping", "ping_group"):
                continue
            self.node.ping_reply(name, time.monotonic())

    # -- send --------------------------------------------------------------------
    def flush(self, now: float) -> None:
        """Send everything the node has queued, on every link (and ping probes)."""
        for message in self.node.take_outgoing(now):
            data = encode_datagram(message, self.keys)
            for link in self.links.values():
                link.send(data)
                self.sent += 1
        for name, probe in self.node.take_ping_probes(now):
            if self.ping is not None:
                self.ping.send(name, self._probe_datagram(name, probe))

    def _probe_datagram(self, name: str, probe: Message) -> bytes:
        """The probe signed; at keepalive 250 ms three in four are the last one again
        (hbnode.core.sender: only ts, in seconds, changes), signed once."""
        last = self._probes.get(name)
        if last is not None and last[0] is probe:
            return last[1]
        data = encode_datagram(probe, self.keys)
        self._probes[name] = (probe, data)
        self._echoes[data] = probe
        while len(self._echoes) > MAX_ECHOES:  # the oldest first (dicts keep order)
            del self._echoes[next(iter(self._echoes))]
        return data

    def counters(self) -> dict[str, Any]:
        return {
            "datagrams_received": self.received,
            "datagrams_sent": self.sent,
            "rejected": dict(self.rejects.counts),
            "send_errors": {n: link.send_errors for n, link in self.links.items()},
        }


def _src_untrusted(data: bytes) -> str | None:
    try:
        return decode_untrusted(data).message.get("src")
    except WireError:
        return None


def build_links(config: ClusterConfig, local_addresses: set[str]) -> dict[str, UdpLink]:
    """One UdpLink per interface, destinations from ucast/bcast/mcast lines."""
    links: dict[str, UdpLink] = {}
    for medium in effective_media(config.hacf, local_addresses):
        link = links.setdefault(medium.dev, UdpLink(medium.dev, medium.port))
        if isinstance(medium, UcastMedium):
            link.destinations.append(Destination(medium.peer, medium.port))
        elif isinstance(medium, BcastMedium):
            try:
                link.destinations.append(Destination(interface_broadcast(medium.dev), medium.port))
            except MediaError:
                link.destinations.append(Destination("255.255.255.255", medium.port))
        elif isinstance(medium, McastMedium):
            link.mcast_group = medium.group
            link.destinations.append(Destination(medium.group, medium.port))
    return links


def _describe(link: UdpLink) -> str:
    peers = ", ".join(d.address for d in link.destinations)
    return f"ucast: started on port {link.port} interface {link.ifname} to {peers}"
