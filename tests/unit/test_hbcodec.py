"""The lab's own codec (lab.hbcodec) against the golden 3.0.6 capture, and bad bytes.

Byte for byte: every datagram of two real Heartbeat 3.0.6 nodes (authkeys
``auth 3`` / ``3 md5 Hello!``) parses, re-encodes to the same bytes, and carries
a trailer and an inner auth field that verify. Then table-driven malformed
input: whole, truncated at every byte, every bit flipped, trailing garbage. Any
bytes at all raise CodecError or parse; nothing else.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.hbcodec import (
    AuthFailure,
    AuthkeysError,
    AuthMethod,
    BuildError,
    CodecError,
    Decoded,
    Encoding,
    Field,
    FieldType,
    Key,
    Keyring,
    Message,
    build,
    digest,
    heartbeat_crc,
    parse_auth_untrusted,
    parse_authkeys,
    parse_untrusted,
    reencode,
    schema,
    sign,
    verify,
    verify_inner,
)
from tests.pcap_util import capture_path, udp_datagrams

REFERENCE = parse_authkeys("auth 3\n3 md5 Hello!\n")
UUID_MASTER = bytes.fromhex("ebbb091be3e3491b80e1ae3bea4213cf")
# protocol.md §1.5, the first captured datagram, written out.
FIRST = (
    b"###\n11:(0)t=status,10:(0)st=init,10:(0)dt=1f40,13:(0)protocol=1,13:(0)src=master,"
    b"27:(1)srcuuid=" + UUID_MASTER + b",8:(0)seq=1,14:(0)hg=6b0638c4,14:(0)ts=6b0638c3,"
    b"30:(0)ld=0.23 0.11 0.04 1/95 8215,8:(0)ttl=4,42:(0)auth=3 9247a291f053b52c980210acdf46f4bc,"
    b"%%%\n34:3 e7c46e38600d8536a5e9d95a7bb96d49,"
)


@functools.cache
def payloads() -> tuple[bytes, ...]:
    path = capture_path()
    if not path.is_file():
        pytest.fail(f"golden capture {path} is missing from the checkout (tests/fixtures)")
    return tuple(d.payload for d in udp_datagrams(path))


@functools.cache
def decoded() -> tuple[Decoded, ...]:
    return tuple(parse_untrusted(p) for p in payloads())


def without_auth(message: Message) -> Message:
    copy = message.copy()
    copy.remove("auth")
    return copy


# -- the golden capture ------------------------------------------------------------------------
def test_every_captured_datagram_parses_and_reencodes_byte_for_byte() -> None:
    assert len(payloads()) == 346
    for payload, dec in zip(payloads(), decoded(), strict=True):
        assert dec.encoding is Encoding.NETSTRING and dec.raw == payload
        assert reencode(dec) == payload
        # Signing the message afresh with the key gives the very bytes 3.0.6 sent:
        # field order, inner auth field, trailer and all.
        assert build(without_auth(dec.message), REFERENCE) == payload


def test_every_trailer_and_inner_auth_verifies_with_hello() -> None:
    for dec in decoded():
        assert verify(dec, REFERENCE) is None
        assert verify_inner(dec, REFERENCE) is None
        assert dec.auth is not None and dec.auth.startswith("3 ") and dec.auth_index == 3
        assert dec.signed == dec.raw[: dec.raw.rindex(b"%%%\n") + 4]


@pytest.mark.parametrize(
    ("authkeys", "failure"),
    [
        ("auth 3\n3 md5 Hello\n", AuthFailure.DIGEST_MISMATCH),  # one character short
        ("auth 3\n3 md5 hello!\n", AuthFailure.DIGEST_MISMATCH),
        ("auth 3\n3 sha1 Hello!\n", AuthFailure.DIGEST_MISMATCH),
        ("auth 3\n3 crc\n", AuthFailure.DIGEST_MISMATCH),
        ("auth 4\n4 md5 Hello!\n", AuthFailure.UNKNOWN_KEY_INDEX),
    ],
)
def test_a_wrong_key_fails_on_every_datagram(authkeys: str, failure: AuthFailure) -> None:
    keys = parse_authkeys(authkeys)
    for dec in decoded():
        assert verify(dec, keys) is failure
        assert verify_inner(dec, keys) is failure


def test_first_datagram_is_protocol_md_example() -> None:
    assert payloads()[0] == FIRST
    message = decoded()[0].message
    assert message.pairs()[:6] == [
        ("t", "status"),
        ("st", "init"),
        ("dt", "1f40"),
        ("protocol", "1"),
        ("src", "master"),
        ("srcuuid", UUID_MASTER),
    ]
    assert message.fields[5].type is FieldType.BINARY
    assert decoded()[0].inner_auth == "3 9247a291f053b52c980210acdf46f4bc"
    assert decoded()[0].auth == "3 e7c46e38600d8536a5e9d95a7bb96d49"


def test_the_field_table_fits_every_captured_message() -> None:
    types = Counter(dec.message.type for dec in decoded())
    assert types["status"] == 206 and types["NS_ackmsg"] == 55 and types["repnodes"] == 5
    for dec in decoded():
        assert schema.problems(dec.message) == [], dec.message
    status = decoded()[0].message
    assert [schema.number(status, n) for n in ("seq", "hg", "dt", "ttl", "protocol")] == [
        1,
        0x6B0638C4,
        8000,
        4,
        1,
    ]
    ack = next(d.message for d in decoded() if d.message.type == "NS_ackmsg")
    assert "seq" not in ack and schema.number(ack, "ackseq") is not None
    assert not schema.is_sequenced(ack)


# -- signatures --------------------------------------------------------------------------------
def test_crc_is_crc32_posix_without_length() -> None:
    assert heartbeat_crc(b"123456789") == 0x765E7680  # the catalogue's check value
    assert heartbeat_crc(b"") == 0xFFFFFFFF
    # %lx drops leading zeros: find a short input whose CRC has some.
    small = next(
        bytes([a, b])
        for a in range(256)
        for b in range(256)
        if heartbeat_crc(bytes([a, b])) < 1 << 24
    )
    text = digest(Key(1, AuthMethod.CRC), small)
    assert len(text) < 8 and int(text, 16) == heartbeat_crc(small) and text == text.lower()


def _crc_bit_by_bit(data: bytes) -> int:
    """The same CRC straight from its definition, one message bit at a time."""
    register = 0
    for byte in data:
        for bit in range(7, -1, -1):
            top = (register >> 31) ^ ((byte >> bit) & 1)
            register = ((register << 1) & 0xFFFFFFFF) ^ (0x04C11DB7 if top else 0)
    return register ^ 0xFFFFFFFF


@given(st.binary(max_size=200))
def test_crc_table_matches_the_definition(data: bytes) -> None:
    assert heartbeat_crc(data) == _crc_bit_by_bit(data)


def test_hmac_vectors_rfc2202() -> None:
    md5 = Key(1, AuthMethod.MD5, b"\x0b" * 16)
    sha1 = Key(2, AuthMethod.SHA1, b"\x0b" * 20)
    assert digest(md5, b"Hi There") == "9294727a3638bb1c13f48ef8158bfc9d"
    assert digest(sha1, b"Hi There") == "b617318655057264e28bc0b6fb378c8ef146be00"
    long_key = Key(3, AuthMethod.SHA1, b"\xaa" * 80)  # longer than a block: hashed first
    assert (
        digest(long_key, b"Test Using Larger Than Block-Size Key - Hash Key First")
        == "aa4ae5e15272d00e95705637ce8a3b55ed402112"
    )
    assert sign(Keyring.single(7, "md5", "k"), b"x").startswith("7 ")


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ("3 abc", (3, "abc")),
        ("  3\tabc trailing words", (3, "abc")),  # sscanf skips blanks, ignores the rest
        ("3abc", (3, "abc")),  # the blank in "%d %s" matches zero blanks too
        ("+3 abc", (3, "abc")),
        ("-1 abc", (-1, "abc")),
        ("99999999999999 abc", (-1, "abc")),  # no such index, and no slow int()
        ("3\0 abc", None),  # a C string ends at the NUL
        ("3", None),
        ("3 ", None),
        ("", None),
        ("x abc", None),
        ("+ 3 abc", None),
        ("\udcff abc", None),  # a surrogate-escaped byte from the wire: no crash
    ],
)
def test_parse_auth_untrusted(auth: str, expected: tuple[int, str] | None) -> None:
    assert parse_auth_untrusted(auth) == expected


def test_verify_reasons() -> None:
    message = Message.of(("t", "status"), ("src", "x"))
    unsigned = parse_untrusted(build(message))
    assert unsigned.auth is None and verify(unsigned, REFERENCE) is AuthFailure.MISSING_AUTH
    garbled = parse_untrusted(build(message) + b"3:abc,")
    assert verify(garbled, REFERENCE) is AuthFailure.BAD_TRAILER_SYNTAX
    # Every configured index verifies with its own method and key.
    two = Keyring(1, {1: Key(1, AuthMethod.SHA1, b"a"), 5: Key(5, AuthMethod.CRC)})
    by_crc = parse_untrusted(build(message, Keyring.single(5, "crc")))
    assert verify(by_crc, two) is None and verify_inner(by_crc, two) is None


# -- authkeys ----------------------------------------------------------------------------------
def test_parse_authkeys() -> None:
    keys = parse_authkeys("# comment\n\nauth 2\n1 crc\n2 sha1 S3cret extra # ignored\n")
    assert keys.outbound == 2 and keys.signing_key == Key(2, AuthMethod.SHA1, b"S3cret")
    assert keys.keys[1].secret == b""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 md5 x\n", "Missing auth directive"),
        ("auth 2\n1 md5 x\n", r"Auth Key \[2\] not found"),
        ("auth 1\n1 md5\n", r"requires a key \(authkeys, line 2\)"),
        ("auth 1\n1 rot13 x\n", "line 2"),
        ("auth 16\n16 crc\n", r"Invalid authnum \[16\].*line 2"),
        ("auth 1\nauth\n1 crc\n", "line 2"),
    ],
)
def test_parse_authkeys_errors(text: str, message: str) -> None:
    with pytest.raises(AuthkeysError, match=message):
        parse_authkeys(text)


# -- building ----------------------------------------------------------------------------------
NESTED = Message.of(
    ("t", "x"),
    ("inner", Message.of(("a", "1"), ("deeper", Message.of(("b", "2\n3"))))),
    ("list", ["one", "two"]),
    ("bin", b"\x00\x01\n"),
)


def test_nested_round_trip_both_encodings() -> None:
    for encoding in Encoding:
        data = build(NESTED, REFERENCE, encoding)
        dec = parse_untrusted(data)
        assert without_auth(dec.message) == NESTED and verify(dec, REFERENCE) is None
        assert reencode(dec) == data
    classic = build(NESTED, None, Encoding.CLASSIC)
    assert classic.startswith(
        b">>>\nt=x\n(2)inner=>>>\x14a=1\x14(2)deeper=>>>\x15b=2\x133\x15<<<\x15"
    )
    assert b"(3)list=3:one,3:two,\n(1)bin=" + base64.b64encode(b"\x00\x01\n") in classic


def test_inner_auth_kept_in_place_and_netstring_without_it() -> None:
    message = Message.of(("t", "x"), ("auth", "old"), ("src", "y"))
    dec = parse_untrusted(build(message, REFERENCE))
    assert [f.name for f in dec.message.fields] == ["t", "auth", "src"]
    plain = parse_untrusted(build(Message.of(("t", "x")), REFERENCE, inner_auth=False))
    assert "auth" not in plain.message and verify(plain, REFERENCE) is None
    nul = parse_untrusted(build(message, REFERENCE, Encoding.CLASSIC, trailing_nul=True))
    assert nul.trailing_nul and verify(nul, REFERENCE) is None


@pytest.mark.parametrize(
    ("message", "encoding"),
    [
        (Message.of(("a=b", "1")), Encoding.NETSTRING),
        (Message.of(("", "1")), Encoding.NETSTRING),
        (Message.of(("a\nb", "1")), Encoding.NETSTRING),
        (Message.of(("a", "")), Encoding.CLASSIC),  # "a=" does not read back
        (Message.of(("a", "x\x13y")), Encoding.CLASSIC),
        (Message.of(("(1)a", "x")), Encoding.CLASSIC),
        (Message.of(("a", "x\0")), Encoding.CLASSIC),
        (Message.of(("a", b"")), Encoding.CLASSIC),
        (Message.of(("a", ["x\ny"])), Encoding.CLASSIC),
        (Message.of(("a", [])), Encoding.NETSTRING),
        (Message.of(("a", ["x", ""])), Encoding.NETSTRING),
        (Message([Field("a", FieldType.UNCOMPRESS, Message())]), Encoding.CLASSIC),
        (Message.of(("n", Message.of(("v", "\x14")))), Encoding.CLASSIC),  # its depth marker
        (Message.of(("big", "x" * (256 * 1024))), Encoding.NETSTRING),
    ],
)
def test_build_refuses_what_cannot_be_read_back(message: Message, encoding: Encoding) -> None:
    with pytest.raises(BuildError):
        build(message, None, encoding)


def test_field_refuses_a_value_of_the_wrong_type() -> None:
    with pytest.raises(BuildError):
        Field("a", FieldType.BINARY, "text")
    with pytest.raises(BuildError):
        Message.of(("a", 3))  # type: ignore[arg-type]


def nest(depth: int) -> Message:
    message = Message.of(("leaf", "1"))
    for _ in range(depth):
        message = Message.of(("n", message))
    return message


@pytest.mark.parametrize("encoding", list(Encoding))
def test_nesting_limit_is_16_both_ways(encoding: Encoding) -> None:
    assert parse_untrusted(build(nest(16), None, encoding)).message == nest(16)
    with pytest.raises(BuildError):
        build(nest(17), None, encoding)


# -- malformed bytes, table-driven ------------------------------------------------------------
def ns(*fields: bytes, trailer: bytes | None = None) -> bytes:
    body = b"###\n" + b"".join(b"%d:%s," % (len(f), f) for f in fields) + b"%%%\n"
    return body if trailer is None else body + b"%d:%s," % (len(trailer), trailer)


BAD = [
    (b"", "neither"),
    (b"##\n", "neither"),
    (b"hello world", "neither"),
    (b"###\n" * 2, "netstring"),
    (b"###\n11:(0)t=status,", "ends before"),
    (b"###\n011:(0)t=status,%%%\n", "length"),  # not canonical
    (b"###\n1234567:x,%%%\n", "length"),
    (b"###\n-1:x,%%%\n", "length"),
    (b"###\n11:(0)t=status;%%%\n", "','"),
    (b"###\n99:(0)t=status,%%%\n", "','"),
    (ns(b"t=status"), "(T)"),
    (ns(b"(6)t=status"), "(T)"),
    (ns(b"(0)tstatus"), "'='"),
    (ns(b"(0)=status"), "name"),
    (ns(b"(0)a\0b=1"), "name"),
    (ns(b"(0)a\nb=1"), "name"),
    (ns(b"(3)l="), "empty list"),
    (ns(b"(3)l=0:,"), "empty list item"),
    (ns(b"(3)l=3:ab,"), "','"),
    (ns(b"(2)n=###\n%%%\nx"), "after the nested"),
    (ns(b"(2)n=x"), "netstring message"),
    (ns(b"(0)t=x", trailer=b"3 abc") + b"x", "after the auth trailer"),
    (ns(b"(0)t=x", trailer=b"3 abc") + b"\0", "after the auth trailer"),
    (ns(b"(0)t=x") + b"%%%\n", "length"),
    (b"###\n" + b"12:(2)n=###\n%%%\n," * 1 + b"%%%\n", "','"),
    (b">>>\nt=x\n", "<<<"),
    (b">>>\nt=x\n<<<", "<<<"),
    (b">>>\nt=x\n<<<\nu=y\n", "<<<"),
    (b">>>\nt=x\n<<<\n<<<\n", "after"),
    (b">>>\nt=x\n<<<\n\0\0", "NUL"),
    (b">>>\nt\0=x\n<<<\n", "NUL"),
    (b">>>\nt=\n<<<\n", "=value"),
    (b">>>\ntx\n<<<\n", "=value"),
    (b">>>\n(0)t=x\n<<<\n", "(T)"),
    (b">>>\n(1)u=%%%\n<<<\n", "base64"),
    (b">>>\n(1)u=YQ\n<<<\n", "base64"),
    (b">>>\n(5)u=x\n<<<\n", "type 5"),
    (b">>>\n(2)n=x\n<<<\n", "classic message"),
    (b"###\n" + b"0:," * 10 + b"%%%\n", "(T)"),
    (b"###\n" + b"x" * (256 * 1024), "shorter"),
]


@pytest.mark.parametrize(("data", "reason"), BAD)
def test_malformed_datagrams_raise_codec_error(data: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=re.escape(reason)):
        parse_untrusted(data)


def test_too_deep_raises_codec_error() -> None:
    inner = b"###\n8:(0)a=1,%%%\n"
    for _ in range(17):
        field = b"(2)n=" + inner
        inner = b"###\n%d:%s,%%%%%%\n" % (len(field), field)
    with pytest.raises(CodecError, match="deeper"):
        parse_untrusted(inner)
    with pytest.raises(CodecError):
        parse_untrusted("###\n")  # type: ignore[arg-type]


def test_a_classic_datagram_may_have_blank_lines_and_one_nul() -> None:
    dec = parse_untrusted(b">>>\n\nt=x\n\n(1)u=YQ==\n<<<\n\0")
    assert dec.message.pairs() == [("t", "x"), ("u", b"a")] and dec.trailing_nul


SAMPLE_NAMES = ("status", "repnodes", "classic", "nested", "crc")


@functools.cache
def samples() -> dict[str, bytes]:
    """A real status and repnodes, and built ones: classic, nested, crc-signed."""
    repnodes = next(d.raw for d in decoded() if d.message.type == "repnodes")
    return {
        "status": FIRST,
        "repnodes": repnodes,
        "classic": build(NESTED, REFERENCE, Encoding.CLASSIC),
        "nested": build(NESTED, REFERENCE),
        "crc": build(NESTED, Keyring.single(1, "crc")),
    }


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_truncation_raises_or_is_the_unsigned_body(name: str) -> None:
    data = samples()[name]
    whole = parse_untrusted(data)
    for cut in range(len(data)):
        try:
            dec = parse_untrusted(data[:cut])
        except CodecError:
            continue
        # Only cutting the trailer off whole, or the NUL of a classic datagram, parses.
        assert dec.message == whole.message, cut
        assert data[:cut] in (whole.signed, data.rstrip(b"\0")), cut


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_bit_flip_raises_or_fails_to_verify(name: str) -> None:
    data = samples()[name]
    whole = parse_untrusted(data)
    keys = Keyring.single(1, "crc") if name == "crc" else REFERENCE
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        try:
            dec = parse_untrusted(bytes(flipped))
        except CodecError:
            continue
        # A flip that parses either breaks the signature or changes nothing that
        # is signed (classic base64 may have unused low bits).
        assert verify(dec, keys) is not None or dec.message == whole.message, bit
        if dec.encoding is Encoding.NETSTRING:
            assert reencode(dec) == bytes(flipped), bit  # the parser takes canonical bytes only


@pytest.mark.parametrize("name", SAMPLE_NAMES)
@pytest.mark.parametrize("garbage", [b"x", b"\0\0", b"1:x,", b"%%%\n", b"\n", b" "])
def test_trailing_garbage_raises(name: str, garbage: bytes) -> None:
    with pytest.raises(CodecError):
        parse_untrusted(samples()[name] + garbage)


ANY_BYTES = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda tail: b"###\n" + tail),
    st.binary(max_size=300).map(lambda tail: b">>>\n" + tail),
    st.sampled_from(SAMPLE_NAMES)
    .flatmap(lambda name: st.tuples(st.just(name), st.integers(0, 400), st.binary(max_size=4)))
    .map(lambda job: _splice(samples()[job[0]], job[1], job[2])),
)


def _splice(data: bytes, at: int, new: bytes) -> bytes:
    at %= len(data)
    return data[:at] + new + data[at + len(new) :]


@settings(max_examples=400)
@given(ANY_BYTES)
def test_any_bytes_parse_or_raise_codec_error(data: bytes) -> None:
    try:
        dec = parse_untrusted(data)
    except CodecError:
        return
    if dec.encoding is Encoding.NETSTRING:
        assert reencode(dec) == data
    else:
        assert parse_untrusted(reencode(dec)).message == dec.message


def test_md5_key_is_the_key_text() -> None:
    key = Key(3, AuthMethod.MD5, b"Hello!")
    body = FIRST[: FIRST.index(b"%%%\n") + 4]
    assert (
        digest(key, body)
        == hmac.new(b"Hello!", body, hashlib.md5).hexdigest()
        == "e7c46e38600d8536a5e9d95a7bb96d49"
    )
