"""link_io authenticates a netstring datagram before decoding it (the flood fast path).

The split must be exactly decode_untrusted's, so that what is accepted never
changes: checked on the golden capture whole, truncated, bit-flipped and with
garbage, against the old decode-then-verify path.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest

from hbnode.auth import AuthFailure
from hbnode.config import parse_authkeys_text
from hbnode.config.hacf_parse import parse_hacf_text
from hbnode.config.load import ClusterConfig
from hbnode.hblog import HbLogger
from hbnode.link_io import LinkIO, Rejection
from hbnode.wire import (
    WireError,
    decode_untrusted,
    encode_netstring,
    split_netstring_untrusted,
    verify_datagram,
)
from tests.pcap_util import capture_path, udp_datagrams

KEYS = parse_authkeys_text("auth 3\n3 md5 Hello!\n")
WRONG = parse_authkeys_text("auth 3\n3 md5 NotTheKey\n")


def _payloads() -> list[bytes]:
    return [d.payload for d in udp_datagrams(capture_path())]


def _variants(seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    for data in _payloads()[:60]:
        out.append(data)
        out.append(data[: rng.randrange(len(data))])
        flipped = bytearray(data)
        flipped[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        out.append(bytes(flipped))
        out.append(data + b"x")
        out.append(data.replace(b"(0)ts=", b"(9)ts=", 1))  # malformed field, signature broken
    return out


def _old_verdict(data: bytes) -> str:
    try:
        datagram = decode_untrusted(data)
    except WireError:
        return "malformed"
    failure = verify_datagram(datagram, KEYS)
    return "accepted" if failure is None else failure.value


def _new_verdict(data: bytes) -> str:
    try:
        signed, auth = split_netstring_untrusted(data)
    except WireError:
        return "malformed"
    from hbnode.auth import check_untrusted

    failure = check_untrusted(KEYS, auth, signed)
    if failure is not None:
        return failure.value
    try:
        decode_untrusted(data)
    except WireError:
        return "malformed"
    return "accepted"


def test_split_is_decode_untrusteds_split() -> None:
    for data in _variants():
        try:
            datagram = decode_untrusted(data)
        except WireError:
            continue
        assert split_netstring_untrusted(data) == (datagram.signed_bytes, datagram.auth_string)


def test_the_split_s_message_is_decode_untrusted_s() -> None:
    from hbnode.wire import message_from_split_untrusted, split_netstring_items_untrusted

    decoded = 0
    for data in _variants():
        try:
            split = split_netstring_items_untrusted(data)
        except WireError:
            continue
        try:
            expected = decode_untrusted(data).message
        except WireError:
            with pytest.raises(WireError):
                message_from_split_untrusted(data, split)
            continue
        assert message_from_split_untrusted(data, split) == expected
        decoded += 1
    assert decoded > 50  # the corpus did reach this far


@pytest.mark.parametrize("data", [b"", b">>>\nt=x\n<<<\n", b"###\n", b"###\n5:abc", b"x" * 10])
def test_split_refuses_what_is_no_netstring_datagram(data: bytes) -> None:
    with pytest.raises(WireError):
        split_netstring_untrusted(data)


def test_fast_path_accepts_exactly_what_decode_then_verify_accepts() -> None:
    changed = []
    for data in _variants():
        old, new = _old_verdict(data), _new_verdict(data)
        assert (old == "accepted") == (new == "accepted"), data[:60]
        if old != new:
            changed.append((old, new))
    # The only reclassification: malformed inside a field *and* unauthentic.
    assert changed
    assert all(old == "malformed" and new != "malformed" for old, new in changed)


class _Node:
    def __init__(self) -> None:
        self.got: list[Any] = []


def _link_io(log_text: io.StringIO) -> LinkIO:
    hacf = parse_hacf_text("node master\nnode slave\nucast eth1 10.0.0.2\n", node_name="master")
    config = ClusterConfig(Path("/nonexistent"), "master", hacf, KEYS)
    return LinkIO(config, _Node(), HbLogger(echo=log_text))  # type: ignore[arg-type]


def test_link_io_counts_each_reason_and_logs_once() -> None:
    text = io.StringIO()
    link = _link_io(text)
    good = _payloads()[0]
    wrong = bytes(decode_untrusted(good).signed_bytes) + b"34:3 " + b"0" * 32 + b","
    assert link._accept(good, "10.0.0.2:694") is not None
    for _ in range(100):
        assert link._accept(wrong, "10.0.0.9:694") is None
        assert link._accept(b"junk", "10.0.0.9:694") is None
    assert link.rejects.counts == {
        Rejection.BAD_SIGNATURE.value: 100,
        Rejection.MALFORMED.value: 100,
    }
    lines = text.getvalue().splitlines()
    assert len([line for line in lines if "authentication failed" in line]) == 1
    assert len([line for line in lines if "bad packet" in line]) == 1
    assert "src='master'" in text.getvalue()  # named (decoded only to log it), escaped


def test_a_wrong_key_is_a_bad_signature_and_the_right_key_is_accepted() -> None:
    link = _link_io(io.StringIO())
    message = decode_untrusted(_payloads()[0]).message
    message.fields = [f for f in message.fields if f.name != "auth"]
    assert link._accept(encode_netstring(message, WRONG), "x") is None
    assert link._accept(encode_netstring(message, KEYS), "x") is not None
    assert link.rejects.counts == {Rejection.BAD_SIGNATURE.value: 1}


def test_every_auth_failure_maps_to_a_rejection() -> None:
    from hbnode.link_io import _AUTH_REJECTION

    assert set(_AUTH_REJECTION) == set(AuthFailure)


def test_the_receive_buffer_grows_and_never_shrinks() -> None:
    import socket

    from hbnode.media import RECV_BUFFER, grow_receive_buffer

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        default = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        granted = grow_receive_buffer(sock, RECV_BUFFER)
    assert granted >= default


def test_an_unauthenticated_name_cannot_forge_a_log_line() -> None:
    text = io.StringIO()
    link = _link_io(text)
    message = decode_untrusted(_payloads()[0]).message
    message.fields = [f for f in message.fields if f.name != "auth"]
    message.set("src", "x\nheartbeat: info: slave is dead")
    assert link._accept(encode_netstring(message, WRONG), "x") is None
    assert len(text.getvalue().splitlines()) == 1
    assert "\\n" in text.getvalue()


def test_a_probe_is_signed_once_a_second_and_its_echo_known_by_its_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hbnode import link_io
    from hbnode.core.fields import ping_probe
    from hbnode.wire import encode_datagram

    link = _link_io(io.StringIO())
    signed: list[bytes] = []

    def counting(message: Any, keys: Any) -> bytes:
        signed.append(encode_datagram(message, keys))
        return signed[-1]

    monkeypatch.setattr(link_io, "encode_datagram", counting)
    probe = ping_probe("10.0.0.1", group=False, ts=0x100)
    first = link._probe_datagram("10.0.0.1", probe)
    again = link._probe_datagram("10.0.0.1", probe)  # the core hands the same one out again
    assert first is again and len(signed) == 1
    assert first == encode_datagram(ping_probe("10.0.0.1", group=False, ts=0x100), KEYS)
    later = link._probe_datagram("10.0.0.1", ping_probe("10.0.0.1", group=False, ts=0x101))
    assert later != first and len(signed) == 2
    echo = link._echoes[first]
    assert echo.get("info") == "ping" and echo.get("ts") == "100"
    for ts in range(0x102, 0x102 + link_io.MAX_ECHOES):
        link._probe_datagram("10.0.0.1", ping_probe("10.0.0.1", group=False, ts=ts))
    assert len(link._echoes) == link_io.MAX_ECHOES and first not in link._echoes
    link.keys = WRONG  # SIGHUP with new authkeys: nothing signed with the old key is reused
    assert not link._echoes and not link._probes
    assert link._probe_datagram("10.0.0.1", ping_probe("10.0.0.1", group=False, ts=0x100)) == (
        encode_datagram(ping_probe("10.0.0.1", group=False, ts=0x100), WRONG)
    )
