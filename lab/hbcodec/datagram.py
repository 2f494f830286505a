"""Whole datagrams: either encoding in, a :class:`Decoded` out; a message in, bytes out.

A 3.0.6 node on bookworm sends netstring with an inner ``auth`` field and a
trailer (protocol.md §1.5); glue <= 1.0.9 sent classic text whose last field is
``auth``. Both are read here, chosen by their first four bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from lab.hbcodec import classic, netstring
from lab.hbcodec.errors import BuildError, CodecError
from lab.hbcodec.message import Message, raw_of
from lab.hbcodec.signing import AuthFailure, check, keyring_of, parse_auth_untrusted, sign

AUTH = classic.AUTH


class Encoding(enum.Enum):
    NETSTRING = "netstring"  # "###\n": what 3.0.6 sends
    CLASSIC = "classic"  # ">>>\n": glue <= 1.0.9, and the FIFO


@dataclass(frozen=True, slots=True)
class Decoded:
    """One parsed datagram.

    ``auth`` is what authenticates it: the trailer text (netstring) or the last
    ``auth`` field (classic); ``signed`` the bytes that auth covers. ``inner_auth``
    is the last ``auth`` field of the message, in either encoding.
    """

    message: Message
    encoding: Encoding
    raw: bytes
    signed: bytes
    auth: str | None
    trailing_nul: bool = False

    @property
    def inner_auth(self) -> str | None:
        values = [f.value for f in self.message.fields if f.name == AUTH]
        last = values[-1] if values else None
        return last if isinstance(last, str) else None

    @property
    def auth_index(self) -> int | None:
        parsed = None if self.auth is None else parse_auth_untrusted(self.auth)
        return None if parsed is None else parsed[0]


def parse_untrusted(data: bytes) -> Decoded:
    """Parse one datagram of either encoding. Raises CodecError, and nothing else."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CodecError(f"want bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) >= netstring.MAXMSG:
        raise CodecError(f"{len(data)} bytes: a datagram is shorter than {netstring.MAXMSG}")
    try:
        if data.startswith(netstring.START):
            message, signed, trailer = netstring.parse_datagram_untrusted(data)
            return Decoded(message, Encoding.NETSTRING, data, signed, trailer)
        if data.startswith(classic.START):
            message, nul = classic.parse_datagram_untrusted(data)
            signed = _rendering_untrusted(message)
            return Decoded(message, Encoding.CLASSIC, data, signed, message_auth(message), nul)
    except RecursionError:  # MAXDEPTH bounds nesting; this is the belt to its braces
        raise CodecError("nested too deeply") from None
    raise CodecError(f"starts with {data[:4]!r}: neither '###\\n' nor '>>>\\n'")


def _rendering_untrusted(message: Message) -> bytes:
    try:
        return classic.signed_rendering(message)
    except BuildError as exc:  # cannot happen for parsed classic text; keep the promise
        raise CodecError(str(exc)) from None


def message_auth(message: Message) -> str | None:
    """The last ``auth`` string field: the one Heartbeat's isauthentic() reads."""
    found = None
    for f in message.fields:
        if f.name == AUTH and isinstance(f.value, str):
            found = f.value
    return found


# -- signatures ------------------------------------------------------------------------------
def verify(decoded: Decoded, keys: Any) -> AuthFailure | None:
    """None when ``decoded`` is authentic under ``keys``, else why not.

    What a 3.0.6 receiver checks: the trailer over the raw bytes (netstring; the
    inner field is not looked at) or the ``auth`` field over the re-rendered
    fields (classic).
    """
    return check(keyring_of(keys), decoded.auth, decoded.signed)


def verify_inner(decoded: Decoded, keys: Any) -> AuthFailure | None:
    """The inner ``auth`` field of either encoding, over the classic rendering."""
    try:
        rendering = classic.signed_rendering(decoded.message)
    except BuildError:
        return (
            AuthFailure.MISSING_AUTH if decoded.inner_auth is None else AuthFailure.DIGEST_MISMATCH
        )
    return check(keyring_of(keys), decoded.inner_auth, rendering)


def with_inner_auth(message: Message, keys: Any) -> Message:
    """A copy with the ``auth`` field set as Heartbeat's add_msg_auth sets it.

    The digest covers every field but ``auth``; an existing ``auth`` keeps its place
    (ha_msg_mod), otherwise it goes last.
    """
    signed = message.copy()
    signed.set(AUTH, sign(keyring_of(keys), classic.signed_rendering(message)))
    return signed


# -- building --------------------------------------------------------------------------------
def build(
    message: Message,
    keys: Any = None,
    encoding: Encoding = Encoding.NETSTRING,
    *,
    inner_auth: bool = True,
    trailing_nul: bool = False,
) -> bytes:
    """The datagram for ``message``; with ``keys``, signed as 3.0.6 signs.

    Netstring: the inner ``auth`` field (unless ``inner_auth=False``, i.e. ha.cf
    ``msgfmt netstring``) and the trailer over ``###\\n``..``%%%\\n``. Classic: the
    ``auth`` field; ``trailing_nul`` adds the NUL old senders counted in. Without
    keys nothing is signed. Raises BuildError for what the encoding cannot carry.
    """
    if keys is not None and (inner_auth or encoding is Encoding.CLASSIC):
        message = with_inner_auth(message, keys)
    if encoding is Encoding.CLASSIC:
        data = classic.build_message(message) + (b"\0" if trailing_nul else b"")
    else:
        data = netstring.build_message(message)
        if keys is not None:
            data += netstring.netstring(raw_of(sign(keyring_of(keys), data)))
    if len(data) >= netstring.MAXMSG:
        raise BuildError(f"{len(data)} bytes: a datagram must be shorter than {netstring.MAXMSG}")
    return data


def reencode(decoded: Decoded) -> bytes:
    """``decoded`` written out again, its trailer copied as received (no signing).

    For netstring this is the datagram byte for byte; for classic too, unless the
    sender left blank lines between fields (they are not kept).
    """
    if decoded.encoding is Encoding.CLASSIC:
        return classic.build_message(decoded.message) + (b"\0" if decoded.trailing_nul else b"")
    data = netstring.build_message(decoded.message)
    return data if decoded.auth is None else data + netstring.netstring(raw_of(decoded.auth))
