"""The netstring encoding, ``###\\n`` fields ``%%%\\n`` [trailer] (protocol.md §1.4).

Each field is ``LEN:(T)name=value,`` with raw, unescaped values; a nested message
(types 2 and 5) is a whole inner ``###\\n``…``%%%\\n`` block with no trailer; the
trailer is one more netstring, ``LEN:N digest,``, ending the datagram.

The parser accepts only the canonical form (no leading zeros in a length, no
bytes after the trailer), so whatever it accepts re-encodes to the same bytes.
"""

from __future__ import annotations

from lab.hbcodec.errors import BuildError, CodecError
from lab.hbcodec.message import Field, FieldType, Message, raw_of, text_of

START = b"###\n"
END = b"%%%\n"
MAXMSG = 256 * 1024  # glue ipc.h: a datagram is shorter than this
MAXDEPTH = 16  # ha_msg.h: the outer message is depth 0, the deepest nested one 16
_LEN_DIGITS = len(str(MAXMSG))
_BYTES_TYPES = (FieldType.BINARY, FieldType.COMPRESS)
_TYPE_DIGITS = [b"%d" % t for t in FieldType]  # "0".."5"


class _Cursor:
    """A position in untrusted bytes; every step checks that the bytes are there."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)

    def at(self, literal: bytes) -> bool:
        return self.data.startswith(literal, self.pos)

    def expect(self, literal: bytes, what: str) -> None:
        if not self.at(literal):
            raise CodecError(f"{what}: want {literal!r} at offset {self.pos}")
        self.pos += len(literal)

    def netstring(self) -> bytes:
        """One ``LEN:payload,``: decimal LEN with no leading zero, exactly LEN bytes."""
        start, digits = self.pos, 0
        while digits <= _LEN_DIGITS and self._digit_at(start + digits):
            digits += 1
        if not 0 < digits <= _LEN_DIGITS or (digits > 1 and self.data[start] == 0x30):
            raise CodecError(
                f"no netstring length at offset {start}: {self.data[start : start + 8]!r}"
            )
        length = int(self.data[start : start + digits])
        colon = start + digits
        payload_end = colon + 1 + length
        if self.data[colon : colon + 1] != b":" or self.data[payload_end : payload_end + 1] != b",":
            raise CodecError(
                f"netstring at offset {start} lacks ':' or its ',' after {length} bytes"
            )
        self.pos = payload_end + 1
        return self.data[colon + 1 : payload_end]

    def _digit_at(self, index: int) -> bool:
        return index < len(self.data) and 0x30 <= self.data[index] <= 0x39


# -- parsing ------------------------------------------------------------------------------
def parse_datagram_untrusted(data: bytes) -> tuple[Message, bytes, str | None]:
    """(message, the bytes the trailer signs, the trailer text or None)."""
    cursor = _Cursor(data)
    message = _message_untrusted(cursor, 0)
    signed_end = cursor.pos
    if cursor.done:
        return message, data, None
    trailer = cursor.netstring()
    if not cursor.done:
        # 3.0.6 ignores what follows; no honest sender puts anything there.
        raise CodecError(f"{len(data) - cursor.pos} bytes after the auth trailer")
    return message, data[:signed_end], text_of(trailer)


def _message_untrusted(cursor: _Cursor, depth: int) -> Message:
    cursor.expect(START, "netstring message")
    fields = []
    while not cursor.at(END):
        if cursor.done:
            raise CodecError("netstring message ends before '%%%\\n'")
        fields.append(_field_untrusted(cursor.netstring(), depth))
    cursor.pos += len(END)
    return Message(fields)


def _field_untrusted(payload: bytes, depth: int) -> Field:
    """``(T)name=value``, T a digit 0..5 (cl_netstring.c process_netstring_nvpair)."""
    if payload[:1] != b"(" or payload[2:3] != b")" or payload[1:2] not in _TYPE_DIGITS:
        raise CodecError(f"field without a '(T)' prefix, T in 0..5: {payload[:12]!r}")
    field_type = FieldType(payload[1] - 0x30)
    name_raw, equals, value = payload[3:].partition(b"=")
    if not equals:
        raise CodecError(f"field without '=': {payload[:32]!r}")
    name = name_untrusted(name_raw)
    if field_type is FieldType.STRING:
        return Field(name, field_type, text_of(value))
    if field_type in _BYTES_TYPES:
        return Field(name, field_type, value)
    if field_type is FieldType.LIST:
        return Field(name, field_type, list_untrusted(value))
    if depth >= MAXDEPTH:
        raise CodecError(f"field {name!r}: nested deeper than {MAXDEPTH}")
    inner = _Cursor(value)
    child = _message_untrusted(inner, depth + 1)
    if not inner.done:
        raise CodecError(f"field {name!r}: bytes after the nested message")
    return Field(name, field_type, child)


def name_untrusted(raw: bytes) -> str:
    """A field name: not empty, and no NUL or newline (C strings, classic lines)."""
    if not raw or 0 in raw or 0x0A in raw:
        raise CodecError(f"bad field name {raw[:32]!r}")
    return text_of(raw)


def list_untrusted(value: bytes) -> list[str]:
    """Type 3, ``len:item,`` repeated: at least one item, none empty (string_list_unpack)."""
    cursor, items = _Cursor(value), []
    while not cursor.done:
        item = cursor.netstring()
        if not item:
            raise CodecError("empty list item")
        items.append(text_of(item))
    if not items:
        raise CodecError("empty list")
    return items


# -- building ------------------------------------------------------------------------------
def build_message(message: Message, depth: int = 0) -> bytes:
    """``###\\n`` fields ``%%%\\n``, without a trailer."""
    if depth > MAXDEPTH:
        raise BuildError(f"messages nested deeper than {MAXDEPTH}")
    out = bytearray(START)
    for f in message.fields:
        out += netstring(b"(%d)%s=%s" % (f.type, name_bytes(f.name), _value_bytes(f, depth)))
    return bytes(out + END)


def netstring(payload: bytes) -> bytes:
    return b"%d:%s," % (len(payload), payload)


def name_bytes(name: str) -> bytes:
    raw = raw_of(name)
    if not raw or any(c in raw for c in b"=\0\n"):
        raise BuildError(f"field name {name!r}: empty, or holds '=', NUL or a newline")
    return raw


def pack_list(items: list[str]) -> bytes:
    if not items or not all(items):
        raise BuildError("a list needs at least one item, and no empty one")
    return b"".join(netstring(raw_of(item)) for item in items)


def _value_bytes(f: Field, depth: int) -> bytes:
    value = f.value
    if isinstance(value, str):
        return raw_of(value)
    if isinstance(value, bytes):
        return value
    if isinstance(value, list):
        return pack_list(value)
    return build_message(value, depth + 1)
