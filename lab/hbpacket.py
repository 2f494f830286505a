"""A scapy layer for Heartbeat datagrams (UDP port 694), and a forge for tests.

The layer is one field, the datagram bytes. Parsing, building and signing are
the lab's own codec (:mod:`lab.hbcodec`), not hbnode's: the lab checks the daemon
rather than sharing its bugs (hbnode itself never imports scapy). Decoding
happens on demand: a malformed payload still dissects, and only asking for its
fields raises :class:`lab.hbcodec.CodecError`.

    >>> pkt = IP(raw)                                 # a captured frame
    >>> pkt[Heartbeat].get("t"), pkt[Heartbeat].verify(keys)
    ('status', True)
    >>> forged = forge(status_message("master", seq=7, hg=0x6B0638C4, ts=0x6B0638C3), keys)
    >>> send(heartbeat_packet(forged, "172.16.254.18", "172.16.254.28"))

``keys`` is a :class:`lab.hbcodec.Keyring` or anything of its shape (hbnode's
``AuthKeys`` too).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from scapy.fields import StrField
from scapy.layers.inet import IP, UDP
from scapy.packet import Packet, bind_layers

from lab.hbcodec import (
    AuthFailure,
    CodecError,
    Decoded,
    Encoding,
    Field,
    FieldType,
    Message,
    Value,
    build,
    parse_untrusted,
    verify,
)

HB_PORT = 694  # ha.cf udpport default (protocol.md §1.1)
FieldValue = Value
WireError = CodecError  # the name older callers caught


def summarize(message: Message, names: Iterable[str] = ("t", "st", "src", "seq")) -> str:
    """``t=status st=up src=master seq=2``: the fields a reader looks for first."""
    return " ".join(f"{n}={message.get(n)}" for n in names if message.get(n) is not None)


class _DatagramField(StrField):
    """The whole UDP payload; shown as its decoded summary."""

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        try:
            return summarize(parse_untrusted(bytes(x or b"")).message)
        except CodecError as exc:
            return f"<undecodable: {exc}>"


class Heartbeat(Packet):
    """One Heartbeat datagram (netstring or classic), dissected by lab.hbcodec."""

    name = "Heartbeat"
    fields_desc: ClassVar[list[Any]] = [_DatagramField("data", b"")]

    # -- dissection ----------------------------------------------------------------
    @property
    def datagram(self) -> Decoded:
        """The decoded datagram; raises CodecError for a malformed payload."""
        return parse_untrusted(bytes(self.data or b""))

    @property
    def message(self) -> Message:
        return self.datagram.message

    @property
    def encoding(self) -> Encoding:
        return self.datagram.encoding

    @property
    def fields_list(self) -> list[tuple[str, FieldValue]]:
        """The message's fields in wire order, as (name, value) pairs."""
        return self.message.pairs()

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first string field called ``name`` (like ha_msg_value)."""
        return self.message.get(name, default)

    def get_binary(self, name: str) -> bytes | None:
        return self.message.get_binary(name)

    # -- authentication --------------------------------------------------------------
    def auth_failure(self, keys: Any) -> AuthFailure | None:
        """None when authentic with ``keys``, else why not (undecodable: MISSING_AUTH)."""
        try:
            return verify(self.datagram, keys)
        except CodecError:
            return AuthFailure.MISSING_AUTH

    def verify(self, keys: Any) -> bool:
        """True when the datagram decodes and its signature checks with ``keys``."""
        return self.auth_failure(keys) is None

    # -- building --------------------------------------------------------------------
    @classmethod
    def build_from(
        cls, message: Message | Any, keys: Any, encoding: Encoding = Encoding.NETSTRING
    ) -> Heartbeat:
        """A signed datagram for ``message``, as 3.0.6 would send it.

        Netstring gets the inner ``auth`` field and the trailer; classic gets the
        ``auth`` field (glue <= 1.0.9). ``keys=None`` sends it unsigned.
        """
        return cls(data=build(as_message(message), keys, encoding))

    def mysummary(self) -> str:
        try:
            return f"Heartbeat {summarize(self.message)}"
        except CodecError:
            return "Heartbeat <undecodable>"


bind_layers(UDP, Heartbeat, dport=HB_PORT)
bind_layers(UDP, Heartbeat, sport=HB_PORT)


def as_message(message_fields: Message | Iterable[tuple[str, FieldValue]] | Any) -> Message:
    """A lab Message from a Message, (name, value) pairs (typed by value), or any
    object with ``fields`` of ``name``/``type``/``value`` (hbnode's Message)."""
    if isinstance(message_fields, Message):
        return message_fields.copy()
    if hasattr(message_fields, "fields"):
        return Message([_field_of(f) for f in message_fields.fields])
    return Message.from_pairs(message_fields)


def _field_of(foreign: Any) -> Field:
    value = foreign.value
    if hasattr(value, "fields"):
        value = as_message(value)
    return Field(str(foreign.name), FieldType(int(foreign.type)), value)


def forge(
    message_fields: Message | Iterable[tuple[str, FieldValue]],
    keys: Any,
    encoding: Encoding = Encoding.NETSTRING,
) -> Heartbeat:
    """A correctly signed Heartbeat layer carrying exactly the fields given, in order.

    Nothing is added: include ``src``, ``seq``, ``hg``, ``ts``… yourself (see
    :func:`status_message`), so a test can speak as any node with any numbers.
    """
    return Heartbeat.build_from(message_fields, keys, encoding)


def signed_datagram(message: Message, keys: Any, encoding: Encoding = Encoding.NETSTRING) -> bytes:
    """The UDP payload bytes for ``message``, signed as 3.0.6 signs (see :func:`forge`)."""
    return build(as_message(message), keys, encoding)


def status_message(
    src: str,
    seq: int,
    hg: int,
    ts: int,
    *,
    st: str = "active",
    deadtime_ms: int = 8000,
    srcuuid: bytes | None = None,
    protocol: bool = True,
    load: str = "0.00 0.00 0.00 1/100 1000",
    ttl: int = 4,
) -> Message:
    """A ``t=status`` keepalive with the fields in 3.0.6's order (protocol.md §3.1-3.2).

    seq, hg, ts and dt go out in hex without 0x, ttl in decimal, as Heartbeat
    prints them; ``protocol=False`` omits the field (no flow control).
    """
    message = Message.of(("t", "status"), ("st", st), ("dt", f"{deadtime_ms:x}"))
    if protocol:
        message.add("protocol", "1")
    message.add("src", src)
    if srcuuid is not None:
        message.add_binary("srcuuid", srcuuid)
    for name, value in (("seq", f"{seq:x}"), ("hg", f"{hg:x}"), ("ts", f"{ts:x}")):
        message.add(name, value)
    message.add("ld", load)
    message.add("ttl", str(ttl))
    return message


def heartbeat_packet(
    layer: Heartbeat | Message,
    src_ip: str,
    dst_ip: str,
    *,
    keys: Any = None,
    sport: int = HB_PORT,
    dport: int = HB_PORT,
) -> Packet:
    """IP/UDP/Heartbeat ready for ``send()``; a Message is signed with ``keys`` first.

    A real ucast node sends from an ephemeral port; 694 is the default here only
    because any source port is accepted.
    """
    if isinstance(layer, Message):
        layer = Heartbeat.build_from(layer, keys)
    return IP(src=src_ip, dst=dst_ip) / UDP(sport=sport, dport=dport) / layer
