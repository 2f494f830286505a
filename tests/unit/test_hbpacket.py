"""The scapy Heartbeat layer and ``hblab dump`` against the real 3.0.6 capture."""

from __future__ import annotations

import functools
import io
import itertools
import json
import socket
import time
from datetime import datetime
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import rdpcap

from hbnode.auth import AuthKey, AuthKeys, AuthMethod
from hbnode.message import Message as DaemonMessage
from hbnode.wire import decode_untrusted, encode_datagram
from lab import dump
from lab.errors import LabError
from lab.hbcodec import AuthFailure, CodecError, Encoding, FieldType, Message, parse_authkeys
from lab.hbpacket import (
    Heartbeat,
    forge,
    heartbeat_packet,
    signed_datagram,
    status_message,
)
from tests.pcap_util import capture_path

REFERENCE = parse_authkeys("auth 3\n3 md5 Hello!\n")
OTHER_KEY = parse_authkeys("auth 3\n3 md5 Goodbye!\n")
# hbnode's own key type, for the checks that the layer and the daemon agree.
HBNODE_REFERENCE = AuthKeys(3, {3: AuthKey(3, AuthMethod.MD5, b"Hello!")})
UUID_MASTER = bytes.fromhex("ebbb091be3e3491b80e1ae3bea4213cf")


@functools.cache
def packets() -> tuple[Packet, ...]:
    path = capture_path()
    if not path.is_file():
        pytest.fail(f"golden capture {path} is missing from the checkout (tests/fixtures)")
    return tuple(rdpcap(str(path)))


def first_payload() -> bytes:
    return bytes(packets()[0][UDP].payload)


# -- the layer ---------------------------------------------------------------------------


def test_every_captured_packet_dissects_and_verifies() -> None:
    assert len(packets()) == 346
    for pkt in packets():
        hb = pkt[Heartbeat]
        assert hb.verify(REFERENCE), pkt.summary()
        assert not hb.verify(OTHER_KEY)
        assert hb.auth_failure(OTHER_KEY) is AuthFailure.DIGEST_MISMATCH
        assert hb.get("src") in ("master", "slave")


def test_first_packet_fields() -> None:
    hb = packets()[0][Heartbeat]
    assert hb.encoding is Encoding.NETSTRING
    assert hb.fields_list[:6] == [
        ("t", "status"),
        ("st", "init"),
        ("dt", "1f40"),
        ("protocol", "1"),
        ("src", "master"),
        ("srcuuid", UUID_MASTER),
    ]
    assert [name for name, _ in hb.fields_list[6:]] == ["seq", "hg", "ts", "ld", "ttl", "auth"]
    assert (hb.get("t"), hb.get("seq"), hb.get("nope"), hb.get("nope", "-")) == (
        "status",
        "1",
        None,
        "-",
    )
    assert hb.get_binary("srcuuid") == UUID_MASTER
    assert packets()[0].summary().endswith("Heartbeat t=status st=init src=master seq=1")


def test_exact_bytes_round_trip() -> None:
    for pkt in packets():
        payload = bytes(pkt[UDP].payload)
        assert bytes(pkt[Heartbeat]) == payload
        assert bytes(Heartbeat(payload)) == payload
        rebuilt = Heartbeat.build_from(pkt[Heartbeat].message, REFERENCE)
        assert bytes(rebuilt) == payload


def test_status_message_has_the_306_field_order() -> None:
    """Forging the first captured status reproduces its bytes exactly."""
    message = status_message(
        "master",
        seq=1,
        hg=0x6B0638C4,
        ts=0x6B0638C3,
        st="init",
        deadtime_ms=8000,
        srcuuid=UUID_MASTER,
        load="0.23 0.11 0.04 1/95 8215",
        ttl=4,
    )
    assert bytes(forge(message, REFERENCE)) == first_payload()
    assert signed_datagram(message, REFERENCE) == first_payload()


def test_forge_a_status_in_masters_name() -> None:
    message = status_message("master", seq=0x42, hg=0x6B0638C4, ts=0x6B063999, st="active")
    pkt = heartbeat_packet(message, "172.16.254.18", "172.16.254.28", keys=REFERENCE, sport=40000)
    wire = bytes(pkt)
    again = IP(wire)
    assert (again[IP].src, again[UDP].sport, again[UDP].dport) == ("172.16.254.18", 40000, 694)
    hb = again[Heartbeat]
    assert hb.verify(REFERENCE) and not hb.verify(OTHER_KEY)
    assert (hb.get("src"), hb.get("seq"), hb.get("hg"), hb.get("ts")) == (
        "master",
        "42",
        "6b0638c4",
        "6b063999",
    )
    assert hb.verify(HBNODE_REFERENCE)  # hbnode's AuthKeys are accepted too
    pairs = [(name, str(value)) for name, value in message.pairs()]
    assert bytes(hb) == encode_datagram(DaemonMessage.of(*pairs), HBNODE_REFERENCE)
    # The daemon's codec reads the lab's bytes as the lab meant them.
    daemon_view = decode_untrusted(bytes(hb)).message
    assert [(f.name, f.value) for f in daemon_view.fields[:-1]] == message.pairs()


def test_forge_from_pairs_and_classic() -> None:
    pairs = [("t", "NS_ackmsg"), ("dest", "slave"), ("ackseq", "1e"), ("destuuid", b"\x01" * 16)]
    hb = forge(pairs, REFERENCE)
    assert hb.fields_list[:4] == pairs and hb.message.fields[3].type is FieldType.BINARY
    classic = forge(pairs, REFERENCE, Encoding.CLASSIC)
    assert bytes(classic).startswith(b">>>\nt=NS_ackmsg\n") and classic.verify(REFERENCE)
    assert forge(Message.of(("t", "x")), None).datagram.auth is None


def test_bound_on_either_port() -> None:
    payload = first_payload()
    for sport, dport in ((694, 40000), (40000, 694)):
        assert IP(bytes(IP() / UDP(sport=sport, dport=dport) / Raw(payload))).haslayer(Heartbeat)
    assert not IP(bytes(IP() / UDP(sport=40000, dport=695) / Raw(payload))).haslayer(Heartbeat)


def test_malformed_payload_still_dissects() -> None:
    hb = IP(bytes(IP() / UDP(dport=694) / Raw(b"###\n99:junk"))).getlayer(Heartbeat)
    assert hb is not None and not hb.verify(REFERENCE)
    assert "undecodable" in hb.mysummary() and "undecodable" in repr(hb)
    with pytest.raises(CodecError):
        hb.fields_list  # noqa: B018


# -- hblab dump --------------------------------------------------------------------------


def test_records_verify_or_not() -> None:
    good = list(dump.records(packets(), REFERENCE))
    assert len(good) == 346 and {r.auth for r in good} == {"ok"}
    assert {r.reason for r in good} == {None}
    bad = list(dump.records(packets(), OTHER_KEY))
    assert {(r.auth, r.reason) for r in bad} == {("bad", "digest-mismatch")}
    unchecked = list(dump.records(packets(), None))
    assert {r.auth for r in unchecked} == {"unchecked"}


def test_format_line() -> None:
    rec = next(dump.records(packets(), REFERENCE))
    stamp = datetime.fromtimestamp(float(packets()[0].time)).strftime("%H:%M:%S.%f")
    assert dump.format_line(rec) == (
        f"{stamp} 172.16.254.18:57460→172.16.254.28:694 t=status src=master seq=1 auth=ok"
    )
    ack = next(r for r in dump.records(packets(), None) if r.t == "NS_ackmsg")
    assert " seq=- auth=unchecked" in dump.format_line(ack)


def test_format_json() -> None:
    rec = next(dump.records(packets(), OTHER_KEY))
    row = json.loads(dump.format_json(rec))
    expected = {"t": "status", "src": "master", "seq": "1", "auth": "bad"}
    assert {k: row[k] for k in expected} == expected
    assert (row["ip_src"], row["ip_dst"], row["sport"], row["dport"]) == (
        "172.16.254.18",
        "172.16.254.28",
        57460,
        694,
    )
    assert row["time"] == pytest.approx(float(packets()[0].time))
    assert row["reason"] == "digest-mismatch"
    assert row["fields"][5] == ["srcuuid", UUID_MASTER.hex()]


def test_undecodable_record() -> None:
    pkt = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=694) / Raw(b"junk")
    rec = dump.record(Ether(bytes(pkt)), REFERENCE, when=1.0)
    assert (rec.t, rec.auth) == (None, "bad") and rec.reason and "undecodable" in rec.reason
    assert "t=- src=- seq=- auth=bad (undecodable:" in dump.format_line(rec)


def write_keys(tmp_path: Path, text: str, mode: int = 0o644) -> Path:
    path = tmp_path / "authkeys"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_dump_file(tmp_path: Path) -> None:
    out = io.StringIO()
    keys = write_keys(tmp_path, "auth 3\n3 md5 Hello!\n")  # 644 is fine for a dump
    assert dump.dump_file(capture_path(), keys, as_json=True, out=out) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 346 and {r["auth"] for r in rows} == {"ok"}


def test_dump_errors(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="auth"):
        dump.load_keys(write_keys(tmp_path, "3 md5 Hello!\n"))
    with pytest.raises(LabError, match="cannot read"):
        dump.load_keys(tmp_path / "missing")
    with pytest.raises(LabError, match="cannot read pcap"):
        dump.dump_file(write_keys(tmp_path, "not a pcap"), None, out=io.StringIO())
    assert dump.load_keys(None) is None


def frame_pair() -> tuple[socket.socket, socket.socket]:
    """A datagram socket pair standing in for an AF_PACKET socket: frames in order."""
    reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for pkt in packets()[:3]:
        writer.send(bytes(Ether() / IP() / UDP(sport=9, dport=53) / Raw(b"not us")))
        writer.send(bytes(pkt))
    return reader, writer


def test_live_records_from_a_socket() -> None:
    reader, writer = frame_pair()
    with reader, writer:
        deadline = time.monotonic() + 60.0  # never reached: islice stops after three
        recs = list(itertools.islice(dump.live_records(reader, REFERENCE, deadline), 3))
        assert [(r.seq, r.auth) for r in recs] == [("1", "ok"), ("2", "ok"), (None, "ok")]
        assert list(dump.live_records(reader, None, time.monotonic())) == []  # deadline passed


def test_dump_live_stops_after_count(monkeypatch: pytest.MonkeyPatch) -> None:
    reader, writer = frame_pair()
    opened: list[tuple[str, str]] = []

    def fake_packet_socket(netns: str, iface: str) -> socket.socket:
        opened.append((netns, iface))
        return reader

    monkeypatch.setattr(dump.netsock, "packet_socket", fake_packet_socket)
    out = io.StringIO()
    with writer:
        assert dump.dump_live("hblab-slave", "eth1", None, count=2, seconds=60, out=out) == 0
    assert opened == [("hblab-slave", "eth1")]
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "seq=2 auth=unchecked" in lines[1]
    assert reader.fileno() == -1  # dump_live closed its socket
