"""The datagram codec against a real capture of two Heartbeat 3.0.6 nodes, and abuse.

Golden bytes come from ``tests/fixtures/hb306-md5-Hello.pcap`` (authkeys ``auth 3`` /
``3 md5 Hello!``); malformed input, whole, truncated, bit-flipped or random, must
raise WireError and nothing else.
"""

from __future__ import annotations

import contextlib
import functools
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbnode.auth import AuthFailure, AuthKey, AuthKeys, AuthMethod, sign
from hbnode.message import Field, FieldType, Message
from hbnode.wire import (
    DEPTH_SYMS,
    MAXDEPTH,
    MAXMSG,
    Datagram,
    EncodeError,
    Encoding,
    WireError,
    classic_signed_bytes,
    decode_untrusted,
    encode_classic,
    encode_datagram,
    encode_netstring,
    verify_datagram,
)
from tests.pcap_util import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    UdpDatagram,
    capture_path,
    read_pcap,
    udp_datagrams,
)

REFERENCE = AuthKeys(3, {3: AuthKey(3, AuthMethod.MD5, b"Hello!")})
OTHER_KEY = AuthKeys(3, {3: AuthKey(3, AuthMethod.MD5, b"Hello?")})
OTHER_INDEX = AuthKeys(1, {1: AuthKey(1, AuthMethod.MD5, b"Hello!")})
UUID_MASTER = bytes.fromhex("ebbb091be3e3491b80e1ae3bea4213cf")
FIRST = (  # protocol.md §1.5: the first status message after start
    b"###\n11:(0)t=status,10:(0)st=init,10:(0)dt=1f40,13:(0)protocol=1,13:(0)src=master,"
    b"27:(1)srcuuid=" + UUID_MASTER + b",8:(0)seq=1,14:(0)hg=6b0638c4,14:(0)ts=6b0638c3,"
    b"30:(0)ld=0.23 0.11 0.04 1/95 8215,8:(0)ttl=4,42:(0)auth=3 9247a291f053b52c980210acdf46f4bc,"
    b"%%%\n34:3 e7c46e38600d8536a5e9d95a7bb96d49,"
)
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def capture() -> tuple[UdpDatagram, ...]:
    path = capture_path()
    if not path.is_file():
        pytest.fail(f"golden capture {path} is missing from the checkout (tests/fixtures)")
    return tuple(udp_datagrams(path))


def payloads() -> list[bytes]:
    return [d.payload for d in capture()]


def decode_ok(data: bytes) -> Datagram:
    datagram = decode_untrusted(data)
    assert verify_datagram(datagram, REFERENCE) is None
    return datagram


# -- the capture ---------------------------------------------------------------------


def test_capture_is_the_expected_one() -> None:
    grams = capture()
    assert len(grams) == 346
    assert all(694 in (d.sport, d.dport) for d in grams)
    assert grams[0].payload == FIRST
    assert max(len(d.payload) for d in grams) == 383


def test_every_packet_decodes_and_verifies_with_the_reference_key() -> None:
    for data in payloads():
        datagram = decode_ok(data)
        assert datagram.encoding is Encoding.NETSTRING
        assert datagram.auth_index == 3 and datagram.auth_digest is not None
        assert datagram.signed_bytes == data[: data.index(b"%%%\n") + 4]
        assert datagram.message.type and datagram.message.src in ("master", "slave")


def test_every_packet_fails_with_another_key() -> None:
    for data in payloads():
        datagram = decode_untrusted(data)
        assert verify_datagram(datagram, OTHER_KEY) is AuthFailure.DIGEST_MISMATCH
        assert verify_datagram(datagram, OTHER_INDEX) is AuthFailure.UNKNOWN_KEY_INDEX


def test_reencoding_reproduces_every_datagram_exactly() -> None:
    """Field order, every (T), the inner auth field and the trailer are all right."""
    for data in payloads():
        message = decode_untrusted(data).message
        assert encode_datagram(message, REFERENCE) == data
        assert encode_netstring(message, REFERENCE) == data


def test_inner_auth_field_signs_the_classic_rendering() -> None:
    for data in payloads():
        message = decode_untrusted(data).message
        assert message.fields[-1].name == "auth"
        assert message.get("auth") == sign(REFERENCE, classic_signed_bytes(message))


def test_first_packet_fields() -> None:
    message = decode_ok(FIRST).message
    assert [(f.name, f.type, f.value) for f in message] == [
        ("t", FieldType.STRING, "status"),
        ("st", FieldType.STRING, "init"),
        ("dt", FieldType.STRING, "1f40"),
        ("protocol", FieldType.STRING, "1"),
        ("src", FieldType.STRING, "master"),
        ("srcuuid", FieldType.BINARY, UUID_MASTER),
        ("seq", FieldType.STRING, "1"),
        ("hg", FieldType.STRING, "6b0638c4"),
        ("ts", FieldType.STRING, "6b0638c3"),
        ("ld", FieldType.STRING, "0.23 0.11 0.04 1/95 8215"),
        ("ttl", FieldType.STRING, "4"),
        ("auth", FieldType.STRING, "3 9247a291f053b52c980210acdf46f4bc"),
    ]
    assert classic_signed_bytes(message).startswith(b"t=status\nst=init\n")
    assert b"(1)srcuuid=67sJG+PjSRuA4a476kITzw==\n" in classic_signed_bytes(message)


def test_repnodes_starts_with_dest() -> None:
    repnodes = [decode_ok(d).message for d in payloads() if b"t=repnodes" in d]
    assert repnodes and all(m.fields[0].name == "dest" for m in repnodes)
    assert repnodes[0].get("delnodelist") == " "


def test_message_without_inner_auth_or_trailer() -> None:
    message = decode_untrusted(FIRST).message
    message.remove("auth")
    bare = encode_netstring(message)
    assert bare.endswith(b"%%%\n") and b"(0)auth=" not in bare
    datagram = decode_untrusted(bare)
    assert datagram.auth_string is None and datagram.message == message
    assert verify_datagram(datagram, REFERENCE) is AuthFailure.MISSING_AUTH
    trailer_only = decode_untrusted(encode_netstring(message, REFERENCE, inner_auth=False))
    assert "auth" not in trailer_only.message
    assert verify_datagram(trailer_only, REFERENCE) is None


# -- classic ---------------------------------------------------------------------------


def test_classic_golden_text() -> None:
    data = b">>>\nt=status\n\nsrc=a\n(1)u=AAEC\nmulti=a\x13b=c\n(3)l=1:x,3:y,z,\n<<<\n"
    message = decode_untrusted(data).message
    assert [(f.name, f.value) for f in message] == [
        ("t", "status"),
        ("src", "a"),
        ("u", b"\x00\x01\x02"),
        ("multi", "a\nb=c"),
        ("l", ["x", "y,z"]),
    ]
    assert encode_classic(message) == data.replace(b"\n\nsrc", b"\nsrc")


@pytest.mark.parametrize("trailing_nul", [False, True])
def test_classic_datagram_signed_and_round_trip(trailing_nul: bool) -> None:
    message = decode_untrusted(FIRST).message
    data = encode_classic(message, REFERENCE, trailing_nul=trailing_nul)
    assert data.startswith(b">>>\nt=status\n") and data.endswith(
        b"<<<\n\0" if trailing_nul else b"<<<\n"
    )
    # the same digest as the netstring inner auth field: both sign the classic rendering
    assert b"\nauth=3 9247a291f053b52c980210acdf46f4bc\n<<<\n" in data
    datagram = decode_ok(data)
    assert datagram.encoding is Encoding.CLASSIC
    assert datagram.message == message
    assert encode_classic(datagram.message, REFERENCE, trailing_nul=trailing_nul) == data
    assert verify_datagram(datagram, OTHER_KEY) is AuthFailure.DIGEST_MISMATCH
    assert verify_datagram(decode_untrusted(encode_classic(message.copy())), REFERENCE) is None


def test_classic_tampered_field_fails_auth() -> None:
    data = encode_classic(decode_untrusted(FIRST).message, REFERENCE)
    datagram = decode_untrusted(data.replace(b"seq=1\n", b"seq=2\n"))
    assert verify_datagram(datagram, REFERENCE) is AuthFailure.DIGEST_MISMATCH
    unsigned = Message.of(("t", "status"), ("src", "a"))
    assert verify_datagram(decode_untrusted(encode_classic(unsigned)), REFERENCE) is (
        AuthFailure.MISSING_AUTH
    )


def nested(depth: int) -> Message:
    """A message ``depth`` levels deep, each level with a newline in a string."""
    message = Message.of(("leaf", "line one\nline two"))
    for level in range(depth):
        message = Message(
            [
                Field("level", FieldType.STRING, str(level)),
                Field("child", FieldType.STRUCT, message),
            ]
        )
    return message


def test_nested_messages_round_trip_both_encodings() -> None:
    message = nested(3)
    message.fields.append(Field("names", FieldType.LIST, ["master", "slave"]))
    message.fields.append(Field("blob", FieldType.BINARY, b"\0\n\x13,="))
    classic = encode_classic(message, REFERENCE)
    assert DEPTH_SYMS[0:1] in classic and DEPTH_SYMS[2:3] in classic
    assert classic.count(b"\n") == 1 + len(message.fields) + 1 + 1  # >>>, fields, auth, <<<
    for data in (classic, encode_netstring(message, REFERENCE)):
        datagram = decode_ok(data)
        datagram.message.remove("auth")
        assert datagram.message == message
    inner = decode_untrusted(encode_netstring(message)).message.fields[1].value
    assert isinstance(inner, Message) and inner.get("level") == "1"


def test_depth_limit() -> None:
    assert decode_untrusted(encode_netstring(nested(MAXDEPTH))).message == nested(MAXDEPTH)
    assert decode_untrusted(encode_classic(nested(MAXDEPTH))).message == nested(MAXDEPTH)
    for encode in (encode_netstring, encode_classic):
        with pytest.raises(EncodeError):
            encode(nested(MAXDEPTH + 1))
    too_deep = b"###\n6:(0)a=b,%%%\n"
    for _ in range(MAXDEPTH + 1):
        field = b"(2)c=" + too_deep
        too_deep = b"###\n%d:%s,%%%%%%\n" % (len(field), field)
    with pytest.raises(WireError, match="nested deeper"):
        decode_untrusted(too_deep)


@pytest.mark.parametrize(
    "message",
    [
        Message.of(("t", "")),  # a classic receiver refuses "name="
        Message.of(("t", "a\x13b")),  # 0x13 would come back as a newline
        Message.of(("t", "a\0b")),  # a C reader stops at the NUL
        Message.of(("(1)t", "x")),  # would read back as a binary field
        Message([Field("l", FieldType.LIST, ["a\nb"])]),
        Message([Field("u", FieldType.UNCOMPRESS, Message.of(("a", "b")))]),  # no classic form
        Message([Field("c", FieldType.STRUCT, Message.of(("a", "\x14")))]),  # the depth marker
    ],
)
def test_classic_encoder_refuses_what_cannot_be_read_back(message: Message) -> None:
    with pytest.raises(EncodeError):
        encode_classic(message)


@pytest.mark.parametrize(
    "message",
    [
        Message.of(("a=b", "x")),
        Message.of(("", "x")),
        Message.of(("a", "\ud800")),  # a lone surrogate that came from no byte
        Message([Field("l", FieldType.LIST, [])]),
        Message([Field("b", FieldType.BINARY, "not bytes")]),
        Message.of(("big", "x" * MAXMSG)),
    ],
)
def test_netstring_encoder_refuses_bad_messages(message: Message) -> None:
    with pytest.raises(EncodeError):
        encode_netstring(message, REFERENCE)


def test_arbitrary_bytes_survive_in_strings() -> None:
    raw = bytes(range(256))
    data = FIRST.replace(b"14:(0)hg=6b0638c4", b"%d:(0)hg=%s" % (len(raw) + 6, raw))
    datagram = decode_untrusted(data)
    assert datagram.message.get("hg") == raw.decode("utf-8", "surrogateescape")
    assert encode_netstring(datagram.message) == datagram.signed_bytes
    assert verify_datagram(datagram, REFERENCE) is AuthFailure.DIGEST_MISMATCH


# -- malformed input -------------------------------------------------------------------

BODY = b"###\n11:(0)t=status,%%%\n"


def ns(payload: bytes) -> bytes:
    return b"%d:%s," % (len(payload), payload)


MALFORMED = {
    "empty": b"",
    "short": b"##",
    "unknown start": b"GET / HTTP/1.0\r\n\r\n",
    "start only": b"###\n",
    "no end": b"###\n11:(0)t=status,",
    "length not a number": b"###\nxx:(0)t=status,%%%\n",
    "leading zero length": b"###\n011:(0)t=status,%%%\n",
    "huge length": b"###\n99999999999999999999:(0)t=x,%%%\n",
    "length too long": b"###\n99:(0)t=status,%%%\n",
    "length too short": b"###\n10:(0)t=status,%%%\n",
    "missing comma": b"###\n11:(0)t=status;%%%\n",
    "no type": b"###\n8:t=status,%%%\n",
    "type 6": b"###\n11:(6)t=status,%%%\n",
    "type letter": b"###\n11:(x)t=status,%%%\n",
    "no equals": b"###\n10:(0)tstatus,%%%\n",
    "empty name": b"###\n10:(0)=status,%%%\n",
    "NUL in name": b"###\n12:(0)t\0=status,%%%\n",
    "empty list": b"###\n5:(3)l=,%%%\n",
    "zero-length list item": b"###\n8:(3)l=0:,,%%%\n",
    "bad nested": b"###\n11:(2)c=status,%%%\n",
    "nested trailing bytes": b"###\n" + ns(b"(2)c=###\n%%%\nx") + b"%%%\n",
    "nested no end": b"###\n" + ns(b"(2)c=###\n" + ns(b"(0)a=b")) + b"%%%\n",
    "trailer garbage": b"###\n11:(0)t=status,%%%\nxyz",
    "trailer no comma": b"###\n11:(0)t=status,%%%\n5:3 abc",
    "after trailer": BODY + b"5:3 abc,x",
    "NUL after trailer": BODY + b"5:3 abc,\0",
    "oversized": b"###\n" + b"9:(0)a=bcd," * (MAXMSG // 11) + b"%%%\n",
    "classic no end": b">>>\nt=status\n",
    "classic no newline": b">>>\nt=status\n<<<",
    "classic no equals": b">>>\nt\n<<<\n",
    "classic empty value": b">>>\nt=\n<<<\n",
    "classic empty name": b">>>\n=x\n<<<\n",
    "classic (0)": b">>>\n(0)t=status\n<<<\n",
    "classic (5)": b">>>\n(5)t=status\n<<<\n",
    "classic open paren": b">>>\n(1t=status\n<<<\n",
    "classic bad base64": b">>>\n(1)u=%%%%\n<<<\n",
    "classic NUL inside": b">>>\nt=st\0atus\n<<<\n",
    "classic after end": b">>>\nt=status\n<<<\nx",
    "classic two NULs": b">>>\nt=status\n<<<\n\0\0",
    "classic bad nested": b">>>\n(2)c=abc\n<<<\n",
    "classic bad list": b">>>\n(3)l=3:ab,\n<<<\n",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_raises_wire_error(data: bytes) -> None:
    with pytest.raises(WireError):
        decode_untrusted(data)


def test_not_bytes_is_a_wire_error() -> None:
    with pytest.raises(WireError):
        decode_untrusted("###\n")  # type: ignore[arg-type]


def samples() -> list[bytes]:
    grams = payloads()
    largest = max(grams, key=len)
    classic = encode_classic(decode_untrusted(largest).message, REFERENCE, trailing_nul=True)
    return [grams[0], grams[2], largest, classic]


def test_truncated_at_every_byte() -> None:
    for data in samples():
        signed = decode_untrusted(data).signed_bytes
        for cut in range(len(data)):
            if data.startswith(b"###") and cut == len(signed):
                # the trailer is gone entirely: decodes, but is not authentic
                assert verify_datagram(decode_untrusted(data[:cut]), REFERENCE) is (
                    AuthFailure.MISSING_AUTH
                )
                continue
            if data.startswith(b">>>") and cut == len(data) - 1:
                decode_ok(data[:cut])  # only the optional trailing NUL went
                continue
            with pytest.raises(WireError):
                decode_untrusted(data[:cut])


def test_every_bit_flip_is_refused_or_unauthentic() -> None:
    for data in samples():
        original = decode_untrusted(data).message
        for position in range(len(data)):
            for bit in range(8):
                mutated = bytearray(data)
                mutated[position] ^= 1 << bit
                assert_never_authentic(bytes(mutated), original)


def test_trailing_garbage() -> None:
    for data in payloads()[:5]:
        for junk in (b"\0", b"x", b"\n", b"5:3 abc,", data):
            with pytest.raises(WireError):
                decode_untrusted(data + junk)


def assert_never_authentic(data: bytes, original: Message) -> None:
    """Mutated bytes fail to decode (WireError only) or to authenticate.

    Classic text is malleable where it does not change the message (a spare bit
    in base64 padding, a blank line): the digest covers the re-serialised fields,
    in Heartbeat too, so such a variant is authentic, but carries the same message.
    """
    try:
        datagram = decode_untrusted(data)
    except WireError:
        return
    if verify_datagram(datagram, REFERENCE) is None:
        assert datagram.encoding is Encoding.CLASSIC and datagram.message == original


@SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_wire_error(data: bytes) -> None:
    for prefix in (b"", b"###\n", b">>>\n"):
        with contextlib.suppress(WireError):
            decode_untrusted(prefix + data)


@SETTINGS
@given(
    st.integers(min_value=0, max_value=345),
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=400), st.sampled_from("rid"), st.binary(max_size=3)
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_capture_packets(index: int, edits: list[tuple[int, str, bytes]]) -> None:
    data = bytearray(payloads()[index])
    for position, kind, chunk in edits:
        at = position % (len(data) + 1)
        if kind == "r":
            data[at : at + len(chunk)] = chunk
        elif kind == "i":
            data[at:at] = chunk
        else:
            del data[at : at + 1 + len(chunk)]
    if bytes(data) != payloads()[index]:
        assert_never_authentic(bytes(data), decode_untrusted(payloads()[index]).message)


# What classic text can carry: no NUL, 0x13 or depth markers; no "(" leading a name.
_unsayable = "\0\x13" + DEPTH_SYMS.decode()
_names = st.text(
    st.characters(codec="utf-8", exclude_characters="=\n" + _unsayable), min_size=1, max_size=8
).filter(lambda name: not name.startswith("("))
_values = st.text(
    st.characters(codec="utf-8", exclude_characters=_unsayable), min_size=1, max_size=20
)
_fields = st.one_of(
    st.builds(Field, _names, st.just(FieldType.STRING), _values),
    st.builds(Field, _names, st.just(FieldType.BINARY), st.binary(min_size=1, max_size=20)),
    st.builds(
        Field,
        _names,
        st.just(FieldType.LIST),
        st.lists(_values.filter(lambda v: "\n" not in v), min_size=1, max_size=3),
    ),
)
_messages = st.recursive(
    st.lists(_fields, min_size=1, max_size=6).map(Message),
    lambda children: st.lists(
        st.one_of(_fields, st.builds(Field, _names, st.just(FieldType.STRUCT), children)),
        min_size=1,
        max_size=4,
    ).map(Message),
    max_leaves=12,
)


@SETTINGS
@given(_messages)
def test_encode_decode_round_trip(message: Message) -> None:
    for data in (encode_netstring(message, REFERENCE), encode_classic(message, REFERENCE)):
        datagram = decode_ok(data)
        assert datagram.message.fields[:-1] == message.fields or "auth" in message
        assert encode_netstring(datagram.message, REFERENCE) == encode_netstring(message, REFERENCE)


# -- the pcap reader itself ------------------------------------------------------------


@pytest.mark.parametrize("cooked", [False, True])
def test_pcap_reader_big_endian_nanoseconds(tmp_path: Path, cooked: bool) -> None:
    """Rewrite the capture's first frames as another writer would store them."""
    frames = list(read_pcap(capture_path()))[:3]
    linktype = LINKTYPE_LINUX_SLL if cooked else LINKTYPE_ETHERNET
    out = [b"\xa1\xb2\x3c\x4d" + struct.pack(">HHiIII", 2, 4, 0, 0, 65535, linktype)]
    for when, _, frame in frames:
        if cooked:  # SLL: packet type, ARPHRD, address length, 8 address bytes, ethertype
            frame = struct.pack(">HHH8s", 0, 1, 6, frame[6:12]) + frame[12:]
        seconds, nanos = int(when), round((when - int(when)) * 1e9)
        out.append(struct.pack(">IIII", seconds, nanos, len(frame), len(frame)) + frame)
    path = tmp_path / "other.pcap"
    path.write_bytes(b"".join(out))
    grams = udp_datagrams(path)
    assert [g.payload for g in grams] == payloads()[:3]
    assert grams[0].time == pytest.approx(capture()[0].time, abs=1e-6)


def _peel_by_regex(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """The netstring length as the regex reads it (the old peel), None where it fails."""
    from hbnode.wire import _NETSTRING_LEN

    match = _NETSTRING_LEN.match(data, pos)
    if match is None:
        return None
    start = match.end()
    stop = start + int(match.group(1))
    if stop >= len(data) or data[stop] != ord(","):
        return None
    return start, stop, stop + 1


def test_the_netstring_length_is_read_as_the_regex_reads_it() -> None:
    import itertools
    import random

    from hbnode.wire import _peel_netstring_untrusted

    rng = random.Random(20)
    alphabet = b"0123456789:,x "
    cases = [bytes(p) for n in range(1, 5) for p in itertools.product(b"0:1,9x", repeat=n)]
    cases += [bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 12))) for _ in range(5000)]
    cases += [b"%d:%s," % (n, b"y" * n) for n in (0, 1, 9, 10, 99999, 100000)]
    cases += [b"0000001:a,", b"1234567:a,", b"01:a,", b"00:,", b"0:,", b":a,", b"\xd9\xa1:a,"]
    for data in cases:
        for pos in range(min(len(data), 3)):
            expected = _peel_by_regex(data, pos)
            try:
                got: tuple[int, int, int] | None = _peel_netstring_untrusted(data, pos)
            except WireError:
                got = None
            assert got == expected, (data, pos)
