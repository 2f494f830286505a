"""The sans-IO codec of Heartbeat datagrams: bytes in, :class:`Datagram` out, and back.

Two encodings exist (protocol.md §1.3-1.5). A 3.0.6 node on bookworm always sends
the *netstring* one, with an inner ``auth`` field and an auth trailer; an old
(glue <= 1.0.9) node sends the *classic* text one. We accept both and send what
3.0.6 sends.

Every function that reads network bytes ends in ``_untrusted`` and raises only
:class:`WireError`, whatever the bytes (the trio ``_dtls`` habit): a bad peer must
never crash the node. Building bytes from our own bad :class:`Message` raises
:class:`EncodeError` instead, which is our bug, not the peer's.

Strings are decoded as UTF-8 with ``surrogateescape``: node names and the like read
naturally, while any byte a peer sends survives the round trip unchanged (signed
bytes must re-encode exactly). latin-1 would round-trip too, but would turn a UTF-8
node name into mojibake; the authkeys reader makes the same choice.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import re
from dataclasses import dataclass

from hbnode.auth import AuthFailure, AuthKeys, check_untrusted, parse_auth_untrusted, sign
from hbnode.message import Field, FieldType, Message

MAXMSG = 256 * 1024  # ipc.h MAXMSG: a datagram must be shorter, receivers read MAXMSG-1
# ha_msg.h MAXDEPTH: the top message is depth 0, nested ones (type 2/5) at most 16.
# Heartbeat enforces it for classic only; we do for both, to bound recursion.
MAXDEPTH = 16
NETSTRING_START = b"###\n"
NETSTRING_END = b"%%%\n"
CLASSIC_START = b">>>\n"
CLASSIC_END = b"<<<\n"
AUTH_FIELD = "auth"  # ha_msg.h F_AUTH
NEWLINE_SYM = 0x13  # classic: a "\n" inside a string value travels as this byte
# Classic: the "\n" line ends of a nested message rendered at depth d travel as
# DEPTH_SYMS[d] (cl_msg_types.c SPECIAL_SYMS), so the nested text fits on one line.
DEPTH_SYMS = bytes((20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 15, 16, 17, 18))
_MAX_LEN_DIGITS = 6  # len(str(MAXMSG)): longer length prefixes cannot be honest
_NETSTRING_LEN = re.compile(rb"(0|[1-9][0-9]{0,%d}):" % (_MAX_LEN_DIGITS - 1))
_STRUCT_TYPES = (FieldType.STRUCT, FieldType.UNCOMPRESS)
# Bytes looked for with ``in`` are ints: ``b"\0" in raw`` first tries b"\0" as an
# integer and formats a TypeError it then drops (CPython 3.11 bytes_contains),
# which was 11 % of the idle daemon's instructions (BENCHMARKS.md, "Idle cost").
_NUL, _LF, _EQUALS, _OPEN, _CLOSE = ord("\0"), ord("\n"), ord("="), ord("("), ord(")")
_ZERO, _COMMA = ord("0"), ord(",")
_FIELD_TYPES = {ord(str(t.value)): t for t in FieldType}  # b"0".."5" of "(T)"
_NEWLINE_SYM_BYTE = bytes([NEWLINE_SYM])
# Authenticated datagrams from the same peer repeat most of their fields byte for
# byte (t, st, dt, src, srcuuid, hg, ttl: 8 of a status's 13): each is parsed once
# and the Field shared, which is safe for str and bytes values only (immutable).
_FIELD_MEMO: dict[bytes, Field] = {}
_FIELD_MEMO_SIZE = 256
_MEMO_TYPES = (FieldType.STRING, FieldType.BINARY, FieldType.COMPRESS)
# And what we send repeats too: a string field's netstring item and its classic
# line (signed for the inner auth) are rendered once per (name, value).
_STRING_ITEMS: dict[tuple[str, str], bytes] = {}
_STRING_LINES: dict[tuple[str, str], bytes] = {}


def _memo(memo: dict[tuple[str, str], bytes], key: tuple[str, str], value: bytes) -> bytes:
    """Remember ``value``; a full memo starts again (seq and ts fill it with one-offs)."""
    if len(memo) >= _FIELD_MEMO_SIZE:
        memo.clear()
    memo[key] = value
    return value


class WireError(Exception):
    """Bytes from the network that are not a well-formed Heartbeat datagram."""


class EncodeError(ValueError):
    """A local Message that cannot be put on the wire (our mistake, not a peer's)."""


class Encoding(enum.Enum):
    """Which of the two wire formats a datagram used (first four bytes)."""

    NETSTRING = "netstring"  # "###\n" … "%%%\n" + trailer: what 3.0.6 sends
    CLASSIC = "classic"  # ">>>\n" … "<<<\n": glue <= 1.0.9, and the FIFO


@dataclass(frozen=True, slots=True)
class Datagram:
    """A decoded datagram, with what is needed to authenticate it.

    ``signed_bytes`` is what the signature covers: for netstring the raw bytes from
    the first ``#`` through ``%%%\\n`` (the trailer covers them, protocol.md §2.3);
    for classic the re-serialised fields other than ``auth``. ``auth_string`` is
    the trailer's text (netstring) or the last ``auth`` field (classic); None if
    absent. ``auth_index``/``auth_digest`` are its two halves, None if unparsable.
    """

    message: Message
    encoding: Encoding
    signed_bytes: bytes
    auth_string: str | None
    auth_index: int | None
    auth_digest: str | None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _raw(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"{text!r} cannot be encoded: {exc.reason}") from None


# -- decoding ----------------------------------------------------------------------


def decode_untrusted(data: bytes) -> Datagram:
    """Decode one received datagram, either encoding. Raises only WireError.

    Authentication is *not* checked here (see :func:`verify_datagram`), but a datagram whose
    trailer is missing decodes with ``auth_string`` None so tools can show it.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) >= MAXMSG:
        raise WireError(f"datagram of {len(data)} bytes: MAXMSG is {MAXMSG}")
    try:
        if data.startswith(NETSTRING_START):
            return _netstring_datagram_untrusted(data)
        if data.startswith(CLASSIC_START):
            return _classic_datagram_untrusted(data)
    except RecursionError:  # belt and braces: MAXDEPTH keeps recursion shallow
        raise WireError("message nested too deeply") from None
    raise WireError(f"starts with {data[:4]!r}, neither '###\\n' nor '>>>\\n'")


@dataclass(frozen=True, slots=True)
class NetstringSplit:
    """A netstring datagram walked once: its signed part, its auth trailer, and where
    each top-level field's payload lies, none of them decoded yet."""

    signed: bytes
    auth_string: str | None
    items: tuple[tuple[int, int], ...]  # (start, stop) of each field's payload in data


def split_netstring_untrusted(data: bytes) -> tuple[bytes, str | None]:
    """(signed bytes, auth trailer text) of a netstring datagram, fields left undecoded.

    The same walk over the top-level ``LEN:payload,`` items as
    :func:`decode_untrusted`, so whenever that decodes, the split is identical to
    its ``signed_bytes``/``auth_string``; when the walk fails, decoding fails too.
    It lets the receiver authenticate before it parses any field: a flood of
    well-framed packets with a wrong key costs one walk and one digest each
    (link_io). Raises only WireError (also for a datagram that is not netstring).
    """
    split = split_netstring_items_untrusted(data)
    return split.signed, split.auth_string


def split_netstring_items_untrusted(data: bytes) -> NetstringSplit:
    """:func:`split_netstring_untrusted`, keeping the items' places for
    :func:`message_from_split_untrusted`. Raises only WireError."""
    if len(data) >= MAXMSG:
        raise WireError(f"datagram of {len(data)} bytes: MAXMSG is {MAXMSG}")
    if not data.startswith(NETSTRING_START):
        raise WireError(f"starts with {data[:4]!r}, not '###\\n'")
    size = len(data)
    pos = len(NETSTRING_START)
    items = []
    while not data.startswith(NETSTRING_END, pos):
        if pos >= size:
            raise WireError("netstring message lacks '%%%\\n'")
        start, stop, pos = _peel_netstring_untrusted(data, pos)
        items.append((start, stop))
    end = pos + len(NETSTRING_END)
    if end == size:
        return NetstringSplit(data, None, tuple(items))
    start, stop, after = _peel_netstring_untrusted(data, end)
    if after != size:
        raise WireError(f"{size - after} bytes of garbage after the auth trailer")
    return NetstringSplit(data[:end], _text(data[start:stop]), tuple(items))


def message_from_split_untrusted(data: bytes, split: NetstringSplit) -> Message:
    """The message of a split datagram: ``decode_untrusted(data).message``, without
    walking the items a second time (the receiver authenticates between the two).
    Raises only WireError."""
    fields = []
    memo = _FIELD_MEMO
    try:
        for start, stop in split.items:
            payload = data[start:stop]
            field = memo.get(payload)
            if field is None:
                field = _netstring_field_untrusted(payload, 0)
                if field.type in _MEMO_TYPES:
                    if len(memo) >= _FIELD_MEMO_SIZE:
                        memo.clear()
                    memo[payload] = field
            fields.append(field)
    except RecursionError:  # belt and braces, as decode_untrusted
        raise WireError("message nested too deeply") from None
    return Message(fields)


def _datagram(
    message: Message, encoding: Encoding, signed: bytes, auth_string: str | None
) -> Datagram:
    parsed = None if auth_string is None else parse_auth_untrusted(auth_string)
    index, digest = parsed if parsed is not None else (None, None)
    return Datagram(message, encoding, signed, auth_string, index, digest)


def _netstring_datagram_untrusted(data: bytes) -> Datagram:
    message, end = _netstring_message_untrusted(data, 0)
    if end == len(data):
        return _datagram(message, Encoding.NETSTRING, data, None)
    start, stop, after = _peel_netstring_untrusted(data, end)
    if after != len(data):
        # Heartbeat ignores what follows the trailer; no honest sender puts
        # anything there, and accepting it would let bytes ride along unsigned.
        raise WireError(f"{len(data) - after} bytes of garbage after the auth trailer")
    return _datagram(message, Encoding.NETSTRING, data[:end], _text(data[start:stop]))


def _peel_netstring_untrusted(data: bytes, pos: int) -> tuple[int, int, int]:
    """One ``LEN:payload,`` at ``pos``: (payload start, payload end, next position).

    LEN is what _NETSTRING_LEN matches: 1 to _MAX_LEN_DIGITS digits, no leading
    zero but "0" itself. Checked with find and isdigit rather than the regex: this
    runs for every field of every datagram, and a match object costs more than
    the rest of it (tests/unit/test_wire*.py hold the two to the same answers).
    """
    colon = data.find(b":", pos, pos + _MAX_LEN_DIGITS + 1)
    digits = data[pos:colon]
    if colon < 0 or not digits.isdigit() or (digits[0] == _ZERO and colon - pos > 1):
        raise WireError(f"bad netstring length at offset {pos}: {data[pos : pos + 8]!r}")
    start = colon + 1
    stop = start + int(digits)
    if stop >= len(data) or data[stop] != _COMMA:
        raise WireError(f"netstring at offset {pos} overruns the data or lacks its ','")
    return start, stop, stop + 1


def _netstring_message_untrusted(data: bytes, depth: int) -> tuple[Message, int]:
    """A ``###\\n``…``%%%\\n`` message at the start of ``data``; returns its end."""
    if not data.startswith(NETSTRING_START):
        raise WireError("nested netstring message lacks '###\\n'")
    fields: list[Field] = []
    pos = len(NETSTRING_START)
    while not data.startswith(NETSTRING_END, pos):
        if pos >= len(data):
            raise WireError("netstring message lacks '%%%\\n'")
        start, stop, pos = _peel_netstring_untrusted(data, pos)
        fields.append(_netstring_field_untrusted(data[start:stop], depth))
    return Message(fields), pos + len(NETSTRING_END)


def _netstring_field_untrusted(payload: bytes, depth: int) -> Field:
    """``(T)name=value`` with a raw value (cl_netstring.c process_netstring_nvpair).

    Every received field passes here: the type digit is looked up in a table and
    the name checked in line (what _field_type_untrusted and _name_untrusted do).
    """
    if len(payload) < 3 or payload[0] != _OPEN or payload[2] != _CLOSE:
        raise WireError(f"netstring field lacks its '(T)' prefix: {payload[:16]!r}")
    field_type = _FIELD_TYPES.get(payload[1])
    if field_type is None:
        raise WireError(f"bad field type {payload[1:2]!r}")
    equals = payload.find(b"=", 3)
    if equals < 0:
        raise WireError(f"netstring field has no '=': {payload[:32]!r}")
    raw_name = payload[3:equals]
    if not raw_name or _NUL in raw_name or _LF in raw_name:
        raise WireError(f"bad field name {raw_name[:32]!r}")
    name = raw_name.decode("utf-8", "surrogateescape")
    value = payload[equals + 1 :]
    if field_type is FieldType.STRING:
        return Field(name, field_type, value.decode("utf-8", "surrogateescape"))
    if field_type in (FieldType.BINARY, FieldType.COMPRESS):
        return Field(name, field_type, value)
    if field_type is FieldType.LIST:
        return Field(name, field_type, _list_untrusted(value))
    if depth >= MAXDEPTH:
        raise WireError(f"field {name!r}: messages nested deeper than {MAXDEPTH}")
    child, end = _netstring_message_untrusted(value, depth + 1)
    if end != len(value):
        raise WireError(f"field {name!r}: bytes after the nested message")
    return Field(name, field_type, child)


def _field_type_untrusted(digit: bytes, *, allow_string: bool) -> FieldType:
    # ha_msg.h knows types 0..5; the classic text never writes "(0)" and
    # add_string_field refuses it there ("wrong type").
    if len(digit) != 1 or digit[0] not in b"012345" or (digit == b"0" and not allow_string):
        raise WireError(f"bad field type {digit!r}")
    return FieldType(int(digit))


def _name_untrusted(raw: bytes) -> str:
    if not raw or _NUL in raw or _LF in raw:
        raise WireError(f"bad field name {raw[:32]!r}")
    return _text(raw)


def _list_untrusted(value: bytes) -> list[str]:
    """Type 3: ``len:str,len:str,`` (cl_msg_types.c string_list_unpack)."""
    items: list[str] = []
    pos = 0
    while pos < len(value):
        match = _NETSTRING_LEN.match(value, pos)
        if match is None or match.group(1) == b"0":
            raise WireError(f"bad list element length at offset {pos}")
        stop = match.end() + int(match.group(1))
        if stop >= len(value) or value[stop] != ord(","):
            raise WireError(f"list element at offset {pos} overruns or lacks its ','")
        items.append(_text(value[match.end() : stop]))
        pos = stop + 1
    if not items:
        raise WireError("empty list field")  # string_list_unpack returns NULL: refused
    return items


def _classic_datagram_untrusted(data: bytes) -> Datagram:
    body = data[:-1] if data.endswith(b"\0") else data  # glue <= 1.0.9 sends strlen+1
    message = _classic_message_untrusted(body, 0)
    auth_string: str | None = None
    for f in message.fields:  # isauthentic() keeps the *last* auth field
        if f.name == AUTH_FIELD:
            auth_string = f.value if isinstance(f.value, str) else None
    try:
        signed = classic_signed_bytes(message)
    except EncodeError as exc:  # cannot happen for parsed text; keep the promise anyway
        raise WireError(f"cannot re-serialise the fields: {exc}") from None
    return _datagram(message, Encoding.CLASSIC, signed, auth_string)


def _classic_message_untrusted(text: bytes, depth: int) -> Message:
    """``>>>\\n`` lines ``<<<\\n`` (cl_msg.c string2msg_ll), nothing after it."""
    if not text.startswith(CLASSIC_START):
        raise WireError("nested classic message lacks '>>>\\n'")
    if _NUL in text:
        raise WireError("NUL inside a classic message")  # C would stop reading there
    fields: list[Field] = []
    pos = len(CLASSIC_START)
    while True:
        while text.startswith(b"\n", pos):  # blank lines are skipped
            pos += 1
        if text.startswith(CLASSIC_END, pos):
            break
        end = text.find(b"\n", pos)
        if end < 0:
            raise WireError("classic message lacks '<<<\\n'")
        fields.append(_classic_field_untrusted(text[pos:end], depth))
        pos = end + 1
    if pos + len(CLASSIC_END) != len(text):
        raise WireError("bytes after '<<<\\n'")
    return Message(fields)


def _classic_field_untrusted(line: bytes, depth: int) -> Field:
    """``name=value`` or ``(T)name=encoded`` (cl_msg_types.c add_string_field)."""
    field_type = FieldType.STRING
    if line.startswith(b"("):
        if len(line) < 3 or line[2] != ord(")"):
            raise WireError(f"classic field: no closing parenthesis: {line[:16]!r}")
        field_type = _field_type_untrusted(line[1:2], allow_string=False)
        line = line[3:]
    name_raw, equals, value = line.partition(b"=")
    if not equals or not value:  # ha_msg_add_nv_depth refuses "name=" with no value
        raise WireError(f"classic field without '=value': {line[:32]!r}")
    name = _name_untrusted(name_raw)
    if field_type is FieldType.STRING:
        return Field(name, field_type, _text(value.replace(bytes([NEWLINE_SYM]), b"\n")))
    if field_type in (FieldType.BINARY, FieldType.COMPRESS):
        try:
            return Field(name, field_type, base64.b64decode(value, validate=True))
        except binascii.Error as exc:
            raise WireError(f"field {name!r}: bad base64: {exc}") from None
    if field_type is FieldType.LIST:
        return Field(name, field_type, _list_untrusted(value))
    if field_type is FieldType.UNCOMPRESS or depth >= MAXDEPTH:
        # type 5 has no classic form (no tostring in fieldtypefuncs)
        raise WireError(f"field {name!r}: type {field_type} unsupported at depth {depth}")
    child = value.replace(DEPTH_SYMS[depth : depth + 1], b"\n")
    return Field(name, field_type, _classic_message_untrusted(child, depth + 1))


# -- authentication ----------------------------------------------------------------


def verify_datagram(datagram: Datagram, keys: AuthKeys) -> AuthFailure | None:
    """Authenticate a decoded datagram; None when authentic, else the reason.

    Netstring: the trailer over the raw signed bytes (the inner ``auth`` field is
    not checked, like Heartbeat). Classic: the ``auth`` field over the re-serialised
    fields. Any configured key index is accepted (see :func:`hbnode.auth.check_untrusted`).
    """
    return check_untrusted(keys, datagram.auth_string, datagram.signed_bytes)


def classic_signed_bytes(message: Message) -> bytes:
    """What the inner ``auth`` field signs (protocol.md §2.3 item 1).

    The classic rendering of every field except top-level ``auth`` fields, without
    ``>>>``/``<<<`` (msg2string_buf with NOHEAD). Raises EncodeError for what the
    classic text cannot express (type 5, a nesting marker inside a nested message).
    """
    lines = []
    for f in message.fields:
        if f.name == AUTH_FIELD:
            continue
        value = f.value
        # A string field we signed before: its line from the memo, without a call.
        string = f.type is FieldType.STRING and isinstance(value, str)
        line = _STRING_LINES.get((f.name, value)) if string else None
        lines.append(line if line is not None else _classic_line(f, 0, strict=False))
    return b"".join(lines)


def with_inner_auth(message: Message, keys: AuthKeys) -> Message:
    """A copy of ``message`` with its ``auth`` field set, as add_msg_auth does.

    An existing ``auth`` field is replaced where it stands (ha_msg_mod), otherwise
    the field is appended last.
    """
    signed = message.copy()
    signed.set(AUTH_FIELD, sign(keys, classic_signed_bytes(message)))
    return signed


# -- encoding ----------------------------------------------------------------------


def encode_datagram(message: Message, keys: AuthKeys) -> bytes:
    """Exactly what a 3.0.6 node sends: netstring, inner auth field, auth trailer."""
    return encode_netstring(message, keys)


def encode_netstring(
    message: Message, keys: AuthKeys | None = None, *, inner_auth: bool = True
) -> bytes:
    """Netstring encoding; with ``keys``, signed like cluster-glue's msg2netstring.

    ``inner_auth`` adds the classic ``auth`` field first (ha.cf ``msgfmt classic``,
    the default); the trailer then covers ``###\\n`` through ``%%%\\n``, inner auth
    included. Without ``keys`` nothing is signed (nested messages, tests).
    """
    if keys is not None and inner_auth:
        message = with_inner_auth(message, keys)
    body = _netstring_message(message, 0)
    if keys is not None:
        auth = _raw(sign(keys, body))
        body += b"%d:%s," % (len(auth), auth)
    return _check_size(body)


def encode_classic(
    message: Message, keys: AuthKeys | None = None, *, trailing_nul: bool = False
) -> bytes:
    """Classic text; with ``keys``, with the ``auth`` field (what glue <= 1.0.9 sends).

    Refuses what a classic receiver would refuse or misread: empty values, NUL,
    byte 0x13 in a string, a newline in a list element, a name that begins with ``(``.
    ``trailing_nul`` appends the NUL old senders included in the datagram length.
    """
    if keys is not None:
        message = with_inner_auth(message, keys)
    text = _classic_message(message, 0, strict=True)
    if _NUL in text:  # a C reader stops at the NUL
        raise EncodeError("classic text cannot carry a NUL byte")
    return _check_size(text + b"\0" if trailing_nul else text)


def _check_size(data: bytes) -> bytes:
    if len(data) >= MAXMSG:
        raise EncodeError(f"message of {len(data)} bytes: MAXMSG is {MAXMSG}")
    return data


@functools.lru_cache(maxsize=256)
def _check_name(name: str) -> bytes:
    """A field name, checked and encoded; names repeat (t, src, seq…), so once each."""
    raw = _raw(name)
    if not raw or _EQUALS in raw or _NUL in raw or _LF in raw:
        raise EncodeError(f"bad field name {name!r}")
    return raw


def _netstring_message(message: Message, depth: int) -> bytes:
    if depth > MAXDEPTH:
        raise EncodeError(f"messages nested deeper than {MAXDEPTH}")
    parts = [NETSTRING_START]
    for f in message.fields:
        value = f.value
        if f.type is FieldType.STRING and isinstance(value, str):
            key = (f.name, value)
            item = _STRING_ITEMS.get(key)
            if item is None:
                payload = b"(0)%s=%s" % (_check_name(f.name), _raw(value))
                item = _memo(_STRING_ITEMS, key, b"%d:%s," % (len(payload), payload))
            parts.append(item)
            continue
        payload = b"(%d)%s=%s" % (f.type, _check_name(f.name), _netstring_value(f, depth))
        parts.append(b"%d:%s," % (len(payload), payload))
    parts.append(NETSTRING_END)
    return b"".join(parts)


def _netstring_value(f: Field, depth: int) -> bytes:
    value = f.value
    if f.type is FieldType.STRING and isinstance(value, str):
        return _raw(value)
    if f.type in (FieldType.BINARY, FieldType.COMPRESS) and isinstance(value, bytes):
        return value
    if f.type is FieldType.LIST and isinstance(value, list):
        return _pack_list(value, strict=False)
    if f.type in _STRUCT_TYPES and isinstance(value, Message):
        return _netstring_message(value, depth + 1)
    raise EncodeError(f"field {f.name!r}: a {type(value).__name__} is no {f.type.name} value")


def _pack_list(items: list[str], *, strict: bool) -> bytes:
    if not items or not all(items):
        raise EncodeError("a list field needs at least one item, none empty")
    packed = [_raw(item) for item in items]
    if strict and any(_LF in item for item in packed):
        raise EncodeError("classic list items cannot hold a newline")
    return b"".join(b"%d:%s," % (len(item), item) for item in packed)


def _classic_message(message: Message, depth: int, *, strict: bool) -> bytes:
    lines = b"".join(_classic_line(f, depth, strict=strict) for f in message.fields)
    return CLASSIC_START + lines + CLASSIC_END


def _classic_line(f: Field, depth: int, *, strict: bool) -> bytes:
    """One ``name=value\\n`` line (cl_msg.c msg2string_buf).

    ``strict`` adds the checks a receiver needs to read the line back; the
    digest rendering skips them, as Heartbeat does when it signs.
    """
    value = f.value
    if not strict and f.type is FieldType.STRING and isinstance(value, str):
        line = _STRING_LINES.get((f.name, value))  # what is signed: mostly the same lines
        if line is not None:
            return line
    name = _check_name(f.name)
    if f.type is FieldType.STRING and isinstance(value, str):
        raw = _raw(value)
        if strict and (not raw or NEWLINE_SYM in raw or name.startswith(b"(")):
            raise EncodeError(f"field {f.name!r}: cannot be read back from classic text")
        line = b"%s=%s\n" % (name, raw.replace(b"\n", _NEWLINE_SYM_BYTE))
        return line if strict else _memo(_STRING_LINES, (f.name, value), line)
    if f.type in (FieldType.BINARY, FieldType.COMPRESS) and isinstance(value, bytes):
        if strict and not value:
            raise EncodeError(f"field {f.name!r}: empty binary value")
        encoded = base64.b64encode(value)
    elif f.type is FieldType.LIST and isinstance(value, list):
        encoded = _pack_list(value, strict=strict)
    elif f.type is FieldType.STRUCT and isinstance(value, Message):
        encoded = _classic_nested(value, depth, strict=strict)
    else:
        raise EncodeError(f"field {f.name!r}: {f.type.name} has no classic form here")
    return b"(%d)%s=%s\n" % (f.type, name, encoded)


def _classic_nested(child: Message, depth: int, *, strict: bool) -> bytes:
    """A nested message on one line: its newlines become the depth marker."""
    if depth >= MAXDEPTH:
        raise EncodeError(f"messages nested deeper than {MAXDEPTH}")
    text = _classic_message(child, depth + 1, strict=strict)
    marker = DEPTH_SYMS[depth : depth + 1]
    if marker in text:  # convert_nl_sym refuses: the receiver would split there
        raise EncodeError(f"nested message holds the depth-{depth} marker {marker!r}")
    return text.replace(b"\n", marker)
