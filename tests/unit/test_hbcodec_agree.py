"""The lab's codec and hbnode's (hbnode.wire) agree, both ways, on random messages.

Two codecs written apart from docs/protocol.md: whatever one builds the other
reads back as the same fields, with a signature that verifies (crc, md5, sha1;
netstring with and without the inner auth field, and classic); they refuse the
same messages; and on arbitrary or damaged bytes they parse alike.
"""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hbnode import auth as hb_auth
from hbnode import wire
from hbnode.message import Field as HbField
from hbnode.message import FieldType as HbFieldType
from hbnode.message import Message as HbMessage
from lab import hbcodec
from lab.hbcodec import Encoding, Field, FieldType, Keyring, Message

MAX_DEPTH = 3  # deep enough for the depth markers to matter, small enough to run fast


# -- converting between the two models --------------------------------------------------------
def to_hbnode(message: Message) -> HbMessage:
    fields = []
    for f in message.fields:
        value = to_hbnode(f.value) if isinstance(f.value, Message) else f.value
        fields.append(HbField(f.name, HbFieldType(int(f.type)), value))
    return HbMessage(fields)


def to_lab(message: HbMessage) -> Message:
    fields = []
    for f in message.fields:
        value = to_lab(f.value) if isinstance(f.value, HbMessage) else f.value
        fields.append(Field(f.name, FieldType(int(f.type)), value))
    return Message(fields)


def hbnode_keys(keys: Keyring) -> hb_auth.AuthKeys:
    ring = {
        i: hb_auth.AuthKey(k.index, hb_auth.AuthMethod(k.method.value), k.secret)
        for i, k in keys.keys.items()
    }
    return hb_auth.AuthKeys(keys.outbound, ring)


# -- strategies -----------------------------------------------------------------------------------
def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


# Bytes that matter to one encoding or the other, and a few plain ones.
SPECIAL = b"=\n\x13\x14\x15\x00(),:#%<>0123 aZ\xff\x0f"
wire_bytes = st.lists(st.sampled_from(list(SPECIAL)), max_size=12).map(bytes) | st.binary(
    max_size=12
)
names = wire_bytes.map(_text)
strings = wire_bytes.map(_text)


def messages(depth: int = 0) -> st.SearchStrategy[Message]:
    leaf = st.one_of(
        st.tuples(names, strings),
        st.tuples(names, st.binary(max_size=20)),
        st.tuples(names, st.lists(strings, max_size=3)),
    )
    pair = (
        leaf
        if depth >= MAX_DEPTH
        else leaf | st.tuples(names, st.deferred(lambda: messages(depth + 1)))
    )
    typed = st.tuples(pair, st.sampled_from(["plain", "compress", "uncompress"]))
    return st.lists(typed, max_size=6).map(_message)


# Messages every format can carry, so the read-back tests do not throw most away:
# names without "=", NUL or newline that do not start with "(", non-empty values
# without NUL, 0x13 or the depth markers, list items without a newline.
SAFE = b"\n =,:()#%<>0123aZ\xff\x7f"
safe_names = (
    st.lists(
        st.sampled_from(list(SAFE.replace(b"\n", b"").replace(b"=", b""))), min_size=1, max_size=8
    )
    .map(bytes)
    .filter(lambda b: not b.startswith(b"("))
    .map(_text)
)
safe_strings = st.lists(st.sampled_from(list(SAFE)), min_size=1, max_size=10).map(bytes).map(_text)
safe_items = (
    st.lists(st.sampled_from(list(SAFE.replace(b"\n", b""))), min_size=1, max_size=6)
    .map(bytes)
    .map(_text)
)


def valid_messages(depth: int = 0) -> st.SearchStrategy[Message]:
    leaf = st.one_of(
        st.tuples(names_or(safe_names), safe_strings),
        st.tuples(safe_names, st.binary(min_size=1, max_size=20)),
        st.tuples(safe_names, st.lists(safe_items, min_size=1, max_size=3)),
    )
    nested = st.tuples(safe_names, st.deferred(lambda: valid_messages(depth + 1)))
    pair = leaf if depth >= MAX_DEPTH else leaf | nested
    return st.lists(pair, max_size=6).map(Message.from_pairs)


def names_or(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly the control field names of protocol.md §3.1, so ``auth`` shows up too."""
    return st.sampled_from(["t", "src", "seq", "auth", "ld"]) | strategy


def _message(items: list[tuple[tuple[str, Any], str]]) -> Message:
    fields = []
    for (name, value), flavour in items:
        kind = hbcodec.message.type_for(value)
        if flavour == "compress" and kind is FieldType.BINARY:
            kind = FieldType.COMPRESS
        if flavour == "uncompress" and kind is FieldType.STRUCT:
            kind = FieldType.UNCOMPRESS
        fields.append(Field(name, kind, value))
    return Message(fields)


secrets = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=90
)
keyrings = st.one_of(
    st.builds(lambda i: Keyring.single(i, "crc"), st.integers(0, 15)),
    st.builds(lambda i, s: Keyring.single(i, "md5", s), st.integers(0, 15), secrets),
    st.builds(lambda i, s: Keyring.single(i, "sha1", s), st.integers(0, 15), secrets),
)
# (encoding, inner auth field) as a 3.0.6 or an old node would send it.
FORMATS = [(Encoding.NETSTRING, True), (Encoding.NETSTRING, False), (Encoding.CLASSIC, True)]


def lab_build(message: Message, keys: Keyring | None, fmt: tuple[Encoding, bool]) -> bytes | None:
    try:
        return hbcodec.build(message, keys, fmt[0], inner_auth=fmt[1])
    except hbcodec.BuildError:
        return None


def hbnode_build(
    message: Message, keys: Keyring | None, fmt: tuple[Encoding, bool]
) -> bytes | None:
    theirs = None if keys is None else hbnode_keys(keys)
    try:
        if fmt[0] is Encoding.CLASSIC:
            return wire.encode_classic(to_hbnode(message), theirs)
        return wire.encode_netstring(to_hbnode(message), theirs, inner_auth=fmt[1])
    except wire.EncodeError:
        return None


# -- properties ------------------------------------------------------------------------------------
@settings(max_examples=250, deadline=None)
@given(messages(), st.none() | keyrings, st.sampled_from(FORMATS))
def test_both_build_the_same_bytes_and_refuse_the_same_messages(
    message: Message, keys: Keyring | None, fmt: tuple[Encoding, bool]
) -> None:
    ours, theirs = lab_build(message, keys, fmt), hbnode_build(message, keys, fmt)
    assert ours == theirs


@settings(max_examples=150, deadline=None)
@given(valid_messages(), keyrings, st.sampled_from(FORMATS))
def test_lab_bytes_read_back_by_hbnode(
    message: Message, keys: Keyring, fmt: tuple[Encoding, bool]
) -> None:
    data = lab_build(message, keys, fmt)
    assume(data is not None)
    assert data is not None
    datagram = wire.decode_untrusted(data)
    expected = hbcodec.with_inner_auth(message, keys) if fmt != FORMATS[1] else message
    assert to_lab(datagram.message) == expected
    assert datagram.encoding.value == fmt[0].value
    verdict = wire.verify_datagram(datagram, hbnode_keys(keys))
    assert verdict is None or not signable(message, fmt)
    assert _value(verdict) == _value(hbcodec.verify(hbcodec.parse_untrusted(data), keys))


@settings(max_examples=150, deadline=None)
@given(valid_messages(), keyrings, st.sampled_from(FORMATS))
def test_hbnode_bytes_read_back_by_the_lab(
    message: Message, keys: Keyring, fmt: tuple[Encoding, bool]
) -> None:
    data = hbnode_build(message, keys, fmt)
    assume(data is not None)
    assert data is not None
    decoded = hbcodec.parse_untrusted(data)
    verdict = hbcodec.verify(decoded, keys)
    assert verdict is None or not signable(message, fmt)
    assert _value(verdict) == _value(
        wire.verify_datagram(wire.decode_untrusted(data), hbnode_keys(keys))
    )
    if fmt == FORMATS[1]:  # netstring without the inner auth field
        assert decoded.message == message
    else:
        theirs = wire.with_inner_auth(to_hbnode(message), hbnode_keys(keys))
        assert decoded.message == to_lab(theirs)
        inner = hbcodec.verify_inner(decoded, keys)
        assert inner is None or not signable(message, (Encoding.CLASSIC, True))
    assert hbcodec.reencode(decoded) == data


def signable(message: Message, fmt: tuple[Encoding, bool]) -> bool:
    """Whether the signature must verify: a classic receiver checks the *last* auth
    field, while signing sets the first one, so two of them cannot verify."""
    return fmt[0] is not Encoding.CLASSIC or sum(f.name == "auth" for f in message) <= 1


def _value(failure: Any) -> str | None:
    return None if failure is None else str(failure.value)


def _damaged(data: bytes, at: int, new: bytes, cut: int) -> bytes:
    at %= len(data) + 1
    return (data[:at] + new + data[at + len(new) :])[: len(data) + len(new) - cut]


@settings(max_examples=250, deadline=None)
@given(
    valid_messages(),
    keyrings,
    st.sampled_from(FORMATS),
    st.integers(0, 300),
    st.binary(max_size=3) | st.sampled_from([b"\n", b"=", b",", b":", b"0", b"\x13", b"(", b"%"]),
    st.integers(0, 3),
)
def test_both_parse_damaged_bytes_alike(
    message: Message, keys: Keyring, fmt: tuple[Encoding, bool], at: int, new: bytes, cut: int
) -> None:
    data = lab_build(message, keys, fmt)
    assume(data is not None)
    assert data is not None
    damaged = _damaged(data, at, new, cut)
    assert_same_reading(damaged, keys)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200).map(lambda b: b"###\n" + b)
    | st.binary(max_size=200).map(lambda b: b">>>\n" + b)
)
def test_both_parse_random_bytes_alike(data: bytes) -> None:
    assert_same_reading(data, Keyring.single(3, "md5", "Hello!"))


def assert_same_reading(data: bytes, keys: Keyring) -> None:
    try:
        ours: hbcodec.Decoded | None = hbcodec.parse_untrusted(data)
    except hbcodec.CodecError:
        ours = None
    try:
        theirs: wire.Datagram | None = wire.decode_untrusted(data)
    except wire.WireError:
        theirs = None
    assert (ours is None) == (theirs is None)
    if ours is None or theirs is None:
        return
    assert ours.message == to_lab(theirs.message)
    assert (ours.signed, ours.auth) == (theirs.signed_bytes, theirs.auth_string)
    verdict = hbcodec.verify(ours, keys)
    assert _value(verdict) == _value(wire.verify_datagram(theirs, hbnode_keys(keys)))


@given(st.text(alphabet=" \t\n\x00\x01+-0123x9ab", max_size=14))
def test_both_read_an_auth_string_as_sscanf_does(auth: str) -> None:
    assert _as_key_lookup(hbcodec.parse_auth_untrusted(auth)) == _as_key_lookup(
        hb_auth.parse_auth_untrusted(auth)
    )


def _as_key_lookup(parsed: tuple[int, str] | None) -> tuple[int, str] | None:
    """Only 0..15 name a key: how the two spell "no such index" does not matter."""
    if parsed is None:
        return None
    return (parsed[0] if 0 <= parsed[0] <= 15 else -1), parsed[1]


@given(st.binary(max_size=300))
def test_both_compute_the_same_crc(data: bytes) -> None:
    assert hbcodec.heartbeat_crc(data) == hb_auth.heartbeat_crc(data)
