"""The Wireshark dissector agrees with the scapy layer (hbnode.wire) on every packet.

For each capture, tshark runs once with heartbeat.lua (``-T ek``) and every frame
is compared with the Python decoding of the same UDP payload: encoding, the
generic name/value pairs in order (nested messages included), each named field
(numbers in their on-wire base, raw text kept), the trailer, and the signature
verdicts (``heartbeat.auth_ok`` with hbnode's failure names, and the inner auth
field). The captures: the golden one (two real 3.0.6 nodes, md5), real 3.0.6
captures with sha1 and crc keys (scripts/make-auth-captures.sh), and datagrams
built here for what real traffic rarely shows (classic, nested, lists, several
key indexes, NS_rexmit, broken signatures).
"""

from __future__ import annotations

import contextlib
import functools
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from hbnode.auth import AuthKeys, check_untrusted, parse_auth_untrusted
from hbnode.config.authkeys import parse_authkeys_text, read_authkeys_text
from hbnode.message import Field, FieldType, Message
from hbnode.wire import (
    EncodeError,
    Encoding,
    WireError,
    classic_signed_bytes,
    decode_untrusted,
    encode_classic,
    encode_netstring,
    verify_datagram,
    with_inner_auth,
)
from lab.wireshark.tshark import is_true
from tests.pcap_util import capture_path, fixtures_dir, udp_datagrams
from tests.tshark_util import assert_no_lua_error, ek_packets, one, run_tshark, values

HEX_FIELDS = ("seq", "hg", "ts", "dt", "ackseq")
DEC_FIELDS = ("ttl", "protocol")
STRING_FIELDS = (
    "t", "st", "src", "dest", "ld", "auth", "info", "rsc_hold", "rtype", "isstable", "ipaddr",
    "weown", "ok", "nodelist", "delnodelist", "from_id", "to_id", "client_gen", "node", "result",
)  # fmt: skip
UUID_FIELDS = ("srcuuid", "destuuid")
FIELDS = (
    "heartbeat.encoding",
    "heartbeat.field.name",
    "heartbeat.field.value",
    "heartbeat.trailer",
    "heartbeat.auth_ok",
    "heartbeat.auth_error",
    "heartbeat.inner_auth_ok",
    "heartbeat.malformed",
    "heartbeat.bug",
    "heartbeat.firstseq",
    "heartbeat.lastseq",
    "_ws.col.Info",
    *(f"heartbeat.{name}" for name in STRING_FIELDS + UUID_FIELDS + HEX_FIELDS + DEC_FIELDS),
    *(f"heartbeat.{name}.raw" for name in HEX_FIELDS + DEC_FIELDS),
)
REAL_CAPTURES = ("hb306-sha1-SecretKey", "hb306-crc")
MULTI_KEYS = "auth 2\n1 md5 alpha\n2 sha1 SecretKey\n3 crc\n"


@dataclass
class Expected:
    """What the scapy layer makes of one payload."""

    malformed: bool
    encoding: str | None = None
    names: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    message: Message | None = None
    trailer: str | None = None
    auth_ok: bool | None = None
    auth_error: str | None = None
    inner_ok: bool | None = None


def _walk(message: Message, names: list[str], texts: list[str]) -> None:
    """Pre-order, as the dissector's tree: names of all fields, values of string/list ones."""
    for f in message.fields:
        names.append(f.name)
        if f.type is FieldType.STRING:
            assert isinstance(f.value, str)
            texts.append(f.value)
        elif f.type is FieldType.LIST:
            assert isinstance(f.value, list)
            texts.append("".join(f"{len(item.encode())}:{item}," for item in f.value))
        elif isinstance(f.value, Message):
            _walk(f.value, names, texts)


def _last_auth(message: Message) -> str | None:
    found = None
    for f in message.fields:
        if f.name == "auth":
            found = f.value if isinstance(f.value, str) else None
    return found


def expected(payload: bytes, keys: AuthKeys | None) -> Expected:
    try:
        datagram = decode_untrusted(payload)
    except WireError:
        return Expected(
            malformed=True,
            auth_ok=None if keys is None else False,
            auth_error=None if keys is None else "undecodable",
        )
    exp = Expected(False, datagram.encoding.value, message=datagram.message)
    _walk(datagram.message, exp.names, exp.values)
    if datagram.encoding is Encoding.NETSTRING:
        exp.trailer = datagram.auth_string
    if keys is not None:
        failure = verify_datagram(datagram, keys)
        exp.auth_ok, exp.auth_error = failure is None, None if failure is None else failure.value
        has_auth = any(f.name == "auth" for f in datagram.message.fields)
        if datagram.encoding is Encoding.NETSTRING and has_auth:
            try:
                signed = classic_signed_bytes(datagram.message)
            except EncodeError:
                signed = None
            if signed is not None:
                inner = check_untrusted(keys, _last_auth(datagram.message), signed)
                exp.inner_ok = inner is None
    return exp


def _uuid(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _bool(text: str | None) -> bool | None:
    return None if text is None else is_true(text)


def disagreements(layers: dict[str, list[Any]], exp: Expected) -> list[str]:
    """Every way the dissector's view of a frame differs from the expected one."""
    found: list[str] = []

    def check(what: str, got: object, want: object) -> None:
        if got != want:
            found.append(f"{what}: tshark {got!r} != scapy {want!r}")

    check("malformed", one(layers, "heartbeat.malformed") is not None, exp.malformed)
    check("bug", one(layers, "heartbeat.bug"), None)
    check("auth_ok", _bool(one(layers, "heartbeat.auth_ok")), exp.auth_ok)
    check("auth_error", one(layers, "heartbeat.auth_error"), exp.auth_error)
    if exp.malformed:
        return found
    assert exp.message is not None
    message = exp.message
    check("encoding", one(layers, "heartbeat.encoding"), exp.encoding)
    check("names", values(layers, "heartbeat.field.name"), exp.names)
    check("values", values(layers, "heartbeat.field.value"), exp.values)
    check("trailer", one(layers, "heartbeat.trailer"), exp.trailer)
    check("inner_auth_ok", _bool(one(layers, "heartbeat.inner_auth_ok")), exp.inner_ok)
    for name in STRING_FIELDS:
        check(name, one(layers, f"heartbeat.{name}"), message.get(name))
    for name in UUID_FIELDS:
        raw = message.get_binary(name)
        want = _uuid(raw) if raw is not None and len(raw) == 16 else None
        check(name, one(layers, f"heartbeat.{name}"), want)
    msg_type = message.get("t")
    numbers = [(n, 16) for n in HEX_FIELDS] + [(n, 10) for n in DEC_FIELDS]
    base = 10 if msg_type == "NS_rexmit" else 16
    numbers += [("firstseq", base), ("lastseq", base)]
    for name, radix in numbers:
        text = message.get(name)
        got = one(layers, f"heartbeat.{name}")
        check(
            name, None if got is None else int(got, 0), None if text is None else int(text, radix)
        )
        if name not in ("firstseq", "lastseq"):
            check(f"{name}.raw", one(layers, f"heartbeat.{name}.raw"), text)
    return found


def check_capture(pcap: Path, keys_text: str | None, home: Path) -> int:
    """Compare every frame of ``pcap``; returns how many frames agreed (all, or it fails)."""
    keys = None if keys_text is None else parse_authkeys_text(keys_text)
    authkeys = None
    if keys_text is not None:
        authkeys = home.parent / f"{pcap.stem}.authkeys"
        authkeys.write_text(keys_text)
    packets = ek_packets(pcap, FIELDS, home, authkeys)
    datagrams = udp_datagrams(pcap)
    assert len(packets) == len(datagrams) > 0
    problems = []
    for number, (layers, datagram) in enumerate(zip(packets, datagrams, strict=True), 1):
        for problem in disagreements(layers, expected(datagram.payload, keys)):
            problems.append(f"frame {number}: {problem}")
    assert not problems, "\n".join(problems[:20])
    return len(packets)


# -- the golden capture and the real sha1/crc ones ---------------------------------------


@pytest.mark.parametrize("keys_text", ["auth 3\n3 md5 Hello!\n", "auth 3\n3 md5 Nope!\n", None])
def test_golden_capture_agrees(keys_text: str | None, tmp_path: Path) -> None:
    assert check_capture(capture_path(), keys_text, tmp_path / "home") == 346


def test_golden_capture_signatures_are_good_and_bad_as_expected(tmp_path: Path) -> None:
    keys = tmp_path / "authkeys"
    for text, verdict in (("auth 3\n3 md5 Hello!\n", "1"), ("auth 3\n3 md5 Nope!\n", "0")):
        keys.write_text(text)
        packets = ek_packets(capture_path(), ["heartbeat.auth_ok"], tmp_path / "home", keys)
        assert [one(p, "heartbeat.auth_ok") in (verdict, str(verdict == "1")) for p in packets] == [
            True
        ] * 346


@pytest.mark.parametrize("name", REAL_CAPTURES)
def test_real_captures_with_other_keys_agree(name: str, tmp_path: Path) -> None:
    pcap = fixtures_dir() / f"{name}.pcap"
    keys_text = (fixtures_dir() / f"{name}.authkeys").read_text()
    assert check_capture(pcap, keys_text, tmp_path / "home") > 100
    keys = parse_authkeys_text(keys_text)
    verdicts = [verify_datagram(decode_untrusted(d.payload), keys) for d in udp_datagrams(pcap)]
    assert verdicts == [None] * len(verdicts)  # real traffic: every signature is good


# -- datagrams built here -----------------------------------------------------------------


@functools.cache
def golden_messages() -> tuple[Message, ...]:
    """The golden capture's messages without their inner auth field."""
    found = []
    for datagram in udp_datagrams(capture_path()):
        message = decode_untrusted(datagram.payload).message
        message.remove("auth")
        found.append(message)
    return tuple(found)


def nested_message() -> Message:
    inner = Message.of(("t", "inner"), ("x", "1"))
    inner.fields.append(Field("deeper", FieldType.STRUCT, Message.of(("y", "2"))))
    message = Message.of(("t", "frobnicate"), ("src", "master"), ("seq", "2a"), ("hg", "5"))
    message.fields.append(Field("payload", FieldType.STRUCT, inner))
    message.fields.append(Field("names", FieldType.LIST, ["master", "slave", "gw x"]))
    message.add_binary("srcuuid", bytes(range(16)))
    message.add_binary("blob", b"\x00\xff\n=")
    message.add("ts", "6b0638c3")
    return message


def rexmit_messages() -> list[Message]:
    return [
        Message.of(
            ("t", "NS_rexmit"), ("dest", "master"), ("firstseq", "31"), ("lastseq", "33"),
            ("src", "slave"), ("hg", "6b0638c4"), ("ts", "6b0638c3"), ("ttl", "4"),
        ),
        Message.of(
            ("t", "NS_nak_rexmit"), ("firstseq", "1f"), ("dest", "slave"),
            ("info", "seqno too low"), ("src", "master"), ("hg", "6b0638c4"), ("ts", "6b0638c9"),
        ),
        Message.of(("t", "NS_ackmsg"), ("dest", "master"), ("ackseq", "ff"), ("src", "slave")),
        Message.of(("t", "status"), ("src", "master"), ("ld", "two\nlines"), ("seq", "3")),
    ]  # fmt: skip


def built_datagrams() -> list[bytes]:
    """Every encoding and key index, nested and list fields, and broken signatures."""
    keys_by_index = {i: AuthKeys(i, parse_authkeys_text(MULTI_KEYS).keys) for i in (1, 2, 3)}
    rng = random.Random(16)
    messages = [*golden_messages()[:60], nested_message(), *rexmit_messages()]
    out: list[bytes] = []
    for number, message in enumerate(messages):
        keys = keys_by_index[1 + number % 3]
        out.append(encode_netstring(message, keys))
        with contextlib.suppress(EncodeError):  # what the classic text cannot carry
            out.append(encode_classic(message, keys, trailing_nul=number % 2 == 0))
    unknown = AuthKeys(7, {7: parse_authkeys_text("auth 7\n7 md5 x\n").keys[7]})
    base = encode_netstring(messages[0], keys_by_index[2])
    body = base[: base.rindex(b"%%%\n") + 4]
    out += [
        encode_netstring(messages[1], unknown),  # an index nobody has
        encode_netstring(messages[2], None),  # no trailer
        body + b"1:3,",  # a trailer without a digest
        body + b"5:2 abc,",  # a wrong digest
        base[:-5] + (b"0" if base[-5:-4] != b"0" else b"1") + base[-4:],  # one digit changed
        base[: rng.randrange(len(base))],  # truncated
        base + b"junk",  # garbage after the trailer
        b">>>\nt=status\nsrc=x\n",  # no end
        encode_classic(messages[4], unknown),  # classic, an index nobody has
        encode_classic(messages[5], keys_by_index[1]).replace(b"src=", b"src=x"),  # tampered
    ]
    wrong_inner = messages[3].copy()
    wrong_inner.add("auth", "2 0123")
    out.append(encode_netstring(wrong_inner, keys_by_index[2], inner_auth=False))
    for message in messages[6:12]:
        out += auth_string_variants(message, keys_by_index[2])
    return out


def _respell(auth: str) -> list[str]:
    """``"N digest"`` written other ways sscanf("%d %s") reads: no blank (a digest
    starting with a digit then joins the index), blanks first, words after, +0N."""
    index, digest = auth.split(" ")
    return [index + digest, f" \t{index}\v{digest} and more", f"+0{index} {digest}"]


def with_trailer(datagram: bytes, auth: str) -> bytes:
    """A netstring datagram with its auth trailer replaced by ``auth``."""
    body = datagram[: datagram.rindex(b"%%%\n") + 4]
    raw = auth.encode()
    return body + f"{len(raw)}:".encode() + raw + b","


def auth_string_variants(message: Message, keys: AuthKeys) -> list[bytes]:
    """The trailer, the inner auth field and a classic auth field, each respelled."""
    out = []
    datagram = encode_netstring(message, keys)
    trailer = decode_untrusted(datagram).auth_string
    assert trailer is not None
    out += [with_trailer(datagram, auth) for auth in _respell(trailer)]
    signed = with_inner_auth(message, keys)
    inner = signed.get("auth")
    assert inner is not None
    for auth in _respell(inner):
        respelled = signed.copy()
        respelled.set("auth", auth)
        out.append(encode_netstring(respelled, keys, inner_auth=False))
        out.append(encode_classic(respelled, None))
    return out


def write_pcap(path: Path, payloads: list[bytes]) -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    frames = [
        Ether() / IP(src="172.16.254.18", dst="172.16.254.28") / UDP(sport=40000, dport=694)
        / Raw(payload)
        for payload in payloads
    ]  # fmt: skip
    wrpcap(str(path), frames)


@pytest.mark.parametrize("keys_text", [MULTI_KEYS, "auth 3\n3 md5 Hello!\n", None])
def test_built_datagrams_agree(keys_text: str | None, tmp_path: Path) -> None:
    pcap = tmp_path / "built.pcap"
    payloads = built_datagrams()
    write_pcap(pcap, payloads)
    assert check_capture(pcap, keys_text, tmp_path / "home") == len(payloads)
    if keys_text == MULTI_KEYS:  # all three methods verified, each both ways
        keys = parse_authkeys_text(MULTI_KEYS)
        results = {
            (decode_untrusted(p).encoding, verify_datagram(decode_untrusted(p), keys) is None)
            for p in payloads
            if not p.endswith(b"junk") and _decodes(p)
        }
        assert results >= {(e, ok) for e in Encoding for ok in (True, False)}


AUTH_STRING = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]++)[ \t\n\v\f\r]*([^ \t\n\v\f\r\0]+)")


def test_auth_string_parts_and_keyfile_warnings(tmp_path: Path) -> None:
    """The trailer's index and digest as sscanf("%d %s") reads them ("2<digest>" with
    no blank; a digest that starts with a digit joins the index), each pointing at its
    own bytes; and a key of several words signs with its first word, with hbnode's
    warning shown as expert info."""
    keys = AuthKeys(2, parse_authkeys_text(MULTI_KEYS).keys)
    payloads = [p for m in golden_messages()[:8] for p in auth_string_variants(m, keys)[:3]]
    pcap = tmp_path / "auth.pcap"
    write_pcap(pcap, payloads)
    authkeys = tmp_path / "authkeys"
    authkeys.write_text("auth 2\n2 sha1 SecretKey and more\n")
    reading = read_authkeys_text(authkeys.read_text(), str(authkeys))
    assert reading.keys is not None and reading.keys.signing_key.secret == b"SecretKey"
    done = run_tshark(
        ["-r", str(pcap), "-T", "pdml", "-o", f"heartbeat.authkeys:{authkeys}"], tmp_path / "home"
    )
    assert_no_lua_error(done)
    packets = ElementTree.fromstring(done.stdout).findall("packet")
    assert len(packets) == len(payloads)
    verdicts = []
    for packet, payload in zip(packets, payloads, strict=True):
        proto = packet.find("proto[@name='heartbeat']")
        assert proto is not None
        datagram = decode_untrusted(payload)
        text = datagram.auth_string
        assert text is not None
        parsed = parse_auth_untrusted(text)
        match = AUTH_STRING.match(text.encode())
        assert parsed is not None and match is not None
        # the trailer's text, in the frame: after "%%%\n" and the netstring's "LEN:"
        start = int(proto.get("pos", "0")) + payload.index(b":", payload.rindex(b"%%%\n")) + 1
        trailer = proto.find(".//field[@name='heartbeat.trailer']")
        assert trailer is not None
        index = trailer.find("field[@name='heartbeat.auth_index']")
        digest = trailer.find("field[@name='heartbeat.auth_digest']")
        assert index is not None and digest is not None
        assert (index.get("show"), index.get("pos"), index.get("size")) == (
            str(parsed[0]),
            str(start + match.start(1)),
            str(len(match.group(1))),
        ), text
        assert (digest.get("show"), digest.get("pos"), digest.get("size")) == (
            parsed[1],
            str(start + match.start(2)),
            str(len(match.group(2))),
        ), text
        ok = proto.find(".//field[@name='heartbeat.auth_ok']")
        assert ok is not None
        verdict = verify_datagram(datagram, reading.keys)
        assert is_true(ok.get("show", "")) == (verdict is None), text
        verdicts.append(None if verdict is None else verdict.value)
        warnings = [f.get("showname") for f in proto.iter("field")
                    if f.get("name") == "heartbeat.keyfile_warning"]  # fmt: skip
        assert warnings == [str(warning) for warning in reading.warnings]
    assert set(verdicts) == {None, "unknown-key-index"}


def _decodes(payload: bytes) -> bool:
    try:
        decode_untrusted(payload)
    except WireError:
        return False
    return True


def test_info_column_and_display_filters(tmp_path: Path) -> None:
    keys = tmp_path / "authkeys"
    keys.write_text("auth 3\n3 md5 Hello!\n")
    packets = ek_packets(
        capture_path(),
        ["_ws.col.Info"],
        tmp_path / "home",
        keys,
        extra=["-Y", 'heartbeat.t == "status" && heartbeat.src == "slave" && heartbeat.auth_ok'],
    )
    statuses = [
        d
        for d in udp_datagrams(capture_path())
        if decode_untrusted(d.payload).message.get("t") == "status"
        and decode_untrusted(d.payload).message.get("src") == "slave"
    ]
    assert len(packets) == len(statuses) > 50
    assert one(packets[0], "_ws.col.Info") == "status src=slave seq=1"
