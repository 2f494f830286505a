"""The classic text encoding, ``>>>\\n`` lines ``<<<\\n`` (protocol.md §1.3).

Also the rendering the inner ``auth`` field signs (§2.3 item 1): the same lines
with no ``>>>``/``<<<`` and without the top-level ``auth`` fields.

A line is ``name=value`` (a string) or ``(T)name=encoded`` for T in 1..4: base64
for binary (1) and compressed (4), ``len:item,`` for a list (3), and for a nested
message (2) its own classic text with each newline replaced by the marker of its
depth, so the whole of it fits on one line.
"""

from __future__ import annotations

import base64
import binascii

from lab.hbcodec.errors import BuildError, CodecError
from lab.hbcodec.message import Field, FieldType, Message, raw_of, text_of
from lab.hbcodec.netstring import MAXDEPTH, list_untrusted, name_bytes, name_untrusted, pack_list

START = b">>>\n"
END = b"<<<\n"
AUTH = "auth"
NEWLINE_IN_VALUE = 0x13  # a "\n" inside a string value travels as this byte
# The newlines of a message nested at depth d+1 travel as DEPTH_MARKERS[d]:
# bytes 20..31, then 15..18 (cl_msg_types.c SPECIAL_SYMS, MAXDEPTH 16).
DEPTH_MARKERS = bytes([*range(20, 32), 15, 16, 17, 18])
# Only types 1..5 carry "(T)": a string is a bare "name=value" line.
_NUMBERED = {b"%d" % t: t for t in FieldType if t is not FieldType.STRING}


# -- parsing ------------------------------------------------------------------------------
def parse_datagram_untrusted(data: bytes) -> tuple[Message, bool]:
    """(message, whether a NUL followed ``<<<\\n``: glue <= 1.0.9 sends strlen+1)."""
    trailing_nul = data.endswith(b"\0")
    return _message_untrusted(data[:-1] if trailing_nul else data, 0), trailing_nul


def _message_untrusted(text: bytes, depth: int) -> Message:
    if not text.startswith(START):
        raise CodecError(f"classic message: want {START!r} at its start")
    if 0 in text:
        raise CodecError("NUL inside a classic message")  # a C reader stops there
    fields = []
    lines = text[len(START) :].split(b"\n")
    # The text must end with "<<<\n": split leaves "" after that last newline.
    if len(lines) < 2 or lines[-1] != b"" or lines[-2] != END[:-1]:
        raise CodecError("classic message does not end with '<<<\\n'")
    for line in lines[:-2]:
        if line == END[:-1]:
            raise CodecError("bytes after '<<<\\n'")
        if line:  # empty lines between fields are skipped
            fields.append(_field_untrusted(line, depth))
    return Message(fields)


def _field_untrusted(line: bytes, depth: int) -> Field:
    field_type = FieldType.STRING
    if line.startswith(b"("):
        if line[2:3] != b")" or line[1:2] not in _NUMBERED:
            raise CodecError(f"classic field: want '(T)' with T in 1..5: {line[:12]!r}")
        field_type, line = _NUMBERED[line[1:2]], line[3:]
    name_raw, equals, encoded = line.partition(b"=")
    if not equals or not encoded:  # glue refuses "name=" with nothing after it
        raise CodecError(f"classic field without '=value': {line[:32]!r}")
    name = name_untrusted(name_raw)
    if field_type is FieldType.STRING:
        return Field(name, field_type, text_of(encoded.replace(b"\x13", b"\n")))
    if field_type in (FieldType.BINARY, FieldType.COMPRESS):
        return Field(name, field_type, _base64_untrusted(name, encoded))
    if field_type is FieldType.LIST:
        return Field(name, field_type, list_untrusted(encoded))
    if field_type is FieldType.UNCOMPRESS:
        raise CodecError(f"field {name!r}: type 5 has no classic form")
    if depth >= MAXDEPTH:
        raise CodecError(f"field {name!r}: nested deeper than {MAXDEPTH}")
    marker = DEPTH_MARKERS[depth : depth + 1]
    return Field(name, field_type, _message_untrusted(encoded.replace(marker, b"\n"), depth + 1))


def _base64_untrusted(name: str, encoded: bytes) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CodecError(f"field {name!r}: bad base64 ({exc})") from None


# -- building ------------------------------------------------------------------------------
def build_message(message: Message, depth: int = 0) -> bytes:
    """The classic text of ``message``; refuses what a receiver could not read back."""
    text = START + b"".join(_line(f, depth, strict=True) for f in message.fields) + END
    if 0 in text:
        raise BuildError("classic text cannot hold a NUL byte")
    return text


def signed_rendering(message: Message) -> bytes:
    """What the inner ``auth`` field signs: every top-level field but ``auth``, as lines.

    No strictness here: Heartbeat signs whatever it holds (msg2string_buf, NOHEAD).
    """
    return b"".join(_line(f, 0, strict=False) for f in message.fields if f.name != AUTH)


def _line(f: Field, depth: int, *, strict: bool) -> bytes:
    name, value = name_bytes(f.name), f.value
    if isinstance(value, str):
        raw = raw_of(value)
        if strict and (not raw or NEWLINE_IN_VALUE in raw or name.startswith(b"(")):
            raise BuildError(f"string field {f.name!r} would not read back from classic text")
        return name + b"=" + raw.replace(b"\n", b"\x13") + b"\n"
    if isinstance(value, bytes):
        if strict and not value:
            raise BuildError(f"field {f.name!r}: an empty binary value has no classic form")
        encoded = base64.b64encode(value)
    elif isinstance(value, list):
        encoded = pack_list(value)
        if strict and b"\n" in encoded:
            raise BuildError(f"list field {f.name!r}: an item holds a newline")
    elif f.type is FieldType.STRUCT:
        encoded = _nested(value, depth, strict=strict)
    else:
        raise BuildError(f"field {f.name!r}: type 5 has no classic form")
    return b"(%d)%s=%s\n" % (f.type, name, encoded)


def _nested(child: Message, depth: int, *, strict: bool) -> bytes:
    if depth >= MAXDEPTH:
        raise BuildError(f"messages nested deeper than {MAXDEPTH}")
    body = b"".join(_line(f, depth + 1, strict=strict) for f in child.fields)
    text = START + body + END
    marker = DEPTH_MARKERS[depth : depth + 1]
    if marker in text:  # the receiver would split the line there
        raise BuildError(f"a message nested at depth {depth + 1} holds its marker {marker!r}")
    return text.replace(b"\n", marker)
