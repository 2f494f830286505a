"""Gratuitous ARP frames (exact bytes), their parser, and burst timing in virtual time."""

from __future__ import annotations

import pytest

from hbnode.resources import garp
from hbnode.resources.errors import ArpFormatError, GarpError
from hbnode.resources.garp import ArpOp, GarpBurst, GarpJobs

MAC = bytes.fromhex("020000000001")
VIP = "192.168.0.38"
# send_arp's frame: broadcast, ARP request, sender = us/VIP, target ff..ff/VIP. Fields:
# Ethernet dst, src, type | htype, ptype, hlen, plen, op | sender MAC, IP | target MAC, IP
GOLDEN_REQUEST = bytes.fromhex(
    "ffffffffffff 020000000001 0806 0001 0800 06 04 0001"
    " 020000000001 c0a80026 ffffffffffff c0a80026"
)
GOLDEN_REPLY = bytes.fromhex(
    "ffffffffffff 020000000001 0806 0001 0800 06 04 0002"
    " 020000000001 c0a80026 020000000001 c0a80026"
)


def test_request_frame_bytes() -> None:
    assert garp.build_garp_frame(MAC, VIP) == GOLDEN_REQUEST
    assert len(GOLDEN_REQUEST) == garp.FRAME_LEN == 42


def test_reply_frame_bytes() -> None:
    assert garp.build_garp_frame(MAC, VIP, ArpOp.REPLY) == GOLDEN_REPLY


def test_bad_mac() -> None:
    with pytest.raises(GarpError):
        garp.build_garp_frame(b"\x01\x02", VIP)


@pytest.mark.parametrize("frame", [GOLDEN_REQUEST, GOLDEN_REPLY])
def test_parse_round_trip(frame: bytes) -> None:
    parsed = garp.parse_arp_frame_untrusted(frame)
    assert parsed.eth_dst == garp.BROADCAST_MAC and parsed.eth_src == MAC
    assert parsed.sender_mac == MAC and parsed.sender_ip == parsed.target_ip == VIP
    assert parsed.is_gratuitous
    assert garp.build_garp_frame(parsed.sender_mac, parsed.sender_ip, parsed.op) == frame
    # Ethernet padding to 60 bytes, as a NIC adds it, is fine.
    assert garp.parse_arp_frame_untrusted(frame + bytes(18)) == parsed


def test_parse_truncated() -> None:
    for cut in range(len(GOLDEN_REQUEST)):
        with pytest.raises(ArpFormatError):
            garp.parse_arp_frame_untrusted(GOLDEN_REQUEST[:cut])


def test_parse_bit_flips_raise_only_arp_format_error() -> None:
    for bit in range(len(GOLDEN_REQUEST) * 8):
        flipped = bytearray(GOLDEN_REQUEST)
        flipped[bit // 8] ^= 1 << (bit % 8)
        try:
            garp.parse_arp_frame_untrusted(bytes(flipped))
        except ArpFormatError:
            assert 12 <= bit // 8 < 22  # only ethertype and the fixed ARP header matter


class FakeSocket:
    mac = MAC

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self.sent: list[bytes] = []
        self.closed = False

    def send(self, frame: bytes) -> None:
        assert not self.closed
        self.sent.append(frame)

    def close(self) -> None:
        self.closed = True


def make_burst(count: int = 3, interval: float = 1.0, **kwargs: object) -> GarpBurst:
    return GarpBurst("eth0", VIP, count=count, interval=interval, open_socket=FakeSocket, **kwargs)  # type: ignore[arg-type]


def sock_of(burst: GarpBurst) -> FakeSocket:
    assert isinstance(burst.socket, FakeSocket)
    return burst.socket


def test_burst_in_virtual_time() -> None:
    burst = make_burst(count=3, interval=1.0)
    assert burst.next_due() is None  # not started
    assert burst.start(100.0) == 1
    assert (burst.rounds, burst.frames_sent, burst.next_due()) == (1, 1, 101.0)
    assert burst.send_due(100.5) == 0  # not due yet: nothing sent
    assert burst.send_due(101.0) == 1
    assert (burst.rounds, burst.next_due()) == (2, 102.0)
    assert burst.send_due(102.2) == 1
    assert (burst.rounds, burst.frames_sent, burst.next_due()) == (3, 3, None)
    assert burst.send_due(200.0) == 0  # over: bounded by count
    assert sock_of(burst).sent == [GOLDEN_REQUEST] * 3
    assert sock_of(burst).closed


def test_burst_requests_and_replies() -> None:
    burst = make_burst(count=2, ops=(ArpOp.REQUEST, ArpOp.REPLY))
    burst.start(0.0)
    burst.send_due(1.0)
    assert burst.frames_sent == 4
    assert sock_of(burst).sent == [GOLDEN_REQUEST, GOLDEN_REPLY] * 2


def test_burst_rejects_unbounded() -> None:
    with pytest.raises(ValueError):
        make_burst(count=0)


def test_run_burst_waits_interval_between_rounds() -> None:
    now = [10.0]
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    burst = make_burst(count=4, interval=0.5)
    assert garp.run_burst(burst, clock=lambda: now[0], wait=wait) == 4
    assert waits == [0.5, 0.5, 0.5]
    assert sock_of(burst).closed


def test_run_burst_stops_when_wait_says_so() -> None:
    burst = make_burst(count=10)
    answers = iter([False, True])
    assert garp.run_burst(burst, clock=lambda: 0.0, wait=lambda s: next(answers)) == 2


def test_jobs_send_first_frame_now_and_cancel_the_rest() -> None:
    jobs = GarpJobs(clock=lambda: 0.0)  # frozen time: round two never comes due
    burst = make_burst(count=50, interval=60.0)
    assert jobs.start(burst) == 1
    assert jobs.active() == [VIP]
    jobs.cancel(VIP)
    assert jobs.active() == []
    assert burst.frames_sent == 1 and sock_of(burst).closed


def test_jobs_run_the_rest_in_background() -> None:
    jobs = GarpJobs()
    burst = make_burst(count=3, interval=0.0)
    assert jobs.start(burst) == 1
    assert jobs.wait(VIP, timeout=5.0)
    assert burst.frames_sent == 3 and sock_of(burst).closed
    assert jobs.active() == []


def test_jobs_new_burst_replaces_old() -> None:
    jobs = GarpJobs(clock=lambda: 0.0)
    first = make_burst(count=50, interval=60.0)
    jobs.start(first)
    second = make_burst(count=50, interval=60.0)
    jobs.start(second)
    assert sock_of(first).closed and not sock_of(second).closed
    jobs.cancel(VIP)
    assert sock_of(second).closed


def test_real_socket_missing_interface() -> None:
    try:
        garp.GarpSocket("hbrt-nonexist0")
    except GarpError as exc:
        assert "hbrt-nonexist0" in str(exc) or "packet socket" in str(exc)
    else:
        pytest.fail("binding a missing interface must fail")
