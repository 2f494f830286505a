"""WireTrace's timeline and queries on the golden capture, its pcap loader, its kernel
filter (run by a small BPF interpreter here) and its reader thread on a socket pair.

No live sniffing: packets are fed to the timeline directly, read from the pcap,
or written into a socketpair that stands in for a packet socket.
"""

from __future__ import annotations

import errno
import functools
import socket
import struct
import threading
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from lab.hbcodec import Keyring, Message, build, parse_authkeys
from lab.wireevents import ArpEvent, AuthStatus, HeartbeatEvent, IntervalStats, PingEvent
from lab.wireframe import (
    LINKTYPE_LINUX_SLL,
    LINKTYPE_RAW,
    ArpPacket,
    IcmpPacket,
    UdpPacket,
    parse_frame,
    read_pcap,
)
from lab.wirequery import TraceError, garp, mark, msg, ping
from lab.wiretrace import Tap, WireTrace, bpf_program
from tests.pcap_util import capture_path, udp_datagrams

REFERENCE = parse_authkeys("auth 3\n3 md5 Hello!\n")
WRONG = parse_authkeys("auth 3\n3 md5 Goodbye!\n")
VIP = "192.168.0.38"
MAC_SLAVE = "02:00:00:00:00:28"


@functools.cache
def datagrams() -> tuple[UdpPacket, ...]:
    return tuple(UdpPacket(d.ip_src, d.sport, d.ip_dst, d.dport, d.payload) for d in _raw())


@functools.cache
def _raw() -> tuple[object, ...]:
    return tuple(udp_datagrams(capture_path()))


def times() -> list[float]:
    return [d.time for d in udp_datagrams(capture_path())]  # type: ignore[attr-defined]


def fed(
    keys: Keyring | None = REFERENCE, label: str = "slave:eth1", shift: float = 0.0
) -> WireTrace:
    """The golden capture fed to a trace datagram by datagram, as a sniffer would."""
    trace = WireTrace(keys)
    feed(trace, label, shift)
    return trace


def feed(trace: WireTrace, label: str, shift: float = 0.0) -> None:
    for when, udp in zip(times(), datagrams(), strict=True):
        assert trace.add_udp(when + shift, label, udp) is not None


@functools.cache
def golden() -> WireTrace:
    return fed()


# -- filling it -----------------------------------------------------------------------------------
def test_the_golden_capture_decodes_and_verifies() -> None:
    trace = golden()
    assert trace.summary() == {
        "heartbeats": 346,
        "by_type": {
            "status": 206,
            "NS_ackmsg": 55,
            "reqnodes": 5,
            "repnodes": 5,
            "starting": 5,
            "hbapi-clstat": 7,
            "resource": 37,
            "num_ping_nodes": 6,
            "abort_giveup": 4,
            "ip-request-resp": 2,
            "stonith": 4,
            "ask_resources": 8,
            "shutdone": 2,
        },
        "by_src": {"master": 151, "slave": 195},
        "bad_signatures": 0,
        "undecodable": 0,
        "arps": 0,
        "pings": 0,
        "gratuitous_arps": 0,
        "marks": 0,
    }
    assert all(e.auth is AuthStatus.OK for e in trace.messages())
    first = trace.messages()[0]
    assert (first.t, first.src, first.seq, first.hg, first.get("st")) == (
        "status",
        "master",
        1,
        0x6B0638C4,
        "init",
    )
    assert str(first).endswith("slave:eth1 t=status st=init src=master seq=1 auth=ok")


def test_from_pcap_gives_the_same_timeline_as_feeding() -> None:
    loaded = WireTrace.from_pcap(capture_path(), REFERENCE, label="slave:eth1")
    assert loaded.events == golden().events
    unlabelled = WireTrace.from_pcap(capture_path())
    assert {e.iface for e in unlabelled.events} == {"hb306-md5-Hello"}
    assert {e.auth for e in unlabelled.messages()} == {AuthStatus.UNCHECKED}


def test_wrong_keys_make_every_signature_bad() -> None:
    trace = fed(WRONG)
    assert len(trace.bad_signatures()) == 346 and trace.summary()["bad_signatures"] == 346
    assert {e.reason for e in trace.bad_signatures()} == {"digest-mismatch"}
    assert trace.messages(auth=True) == []
    assert len(trace.bad_signatures(src="slave")) == 195


def test_tampered_and_junk_datagrams_are_counted_not_raised() -> None:
    trace = WireTrace(REFERENCE)
    status = datagrams()[0]
    tampered = bytearray(status.payload)
    tampered[tampered.index(b"init")] = ord("I")
    trace.add_udp(1.0, "x", UdpPacket("1.1.1.1", 5, "2.2.2.2", 694, bytes(tampered)))
    trace.add_udp(2.0, "x", UdpPacket("1.1.1.1", 5, "2.2.2.2", 694, b"###\n99:junk"))
    trace.add_udp(3.0, "x", UdpPacket("1.1.1.1", 694, "2.2.2.2", 7, status.payload))
    assert trace.add_udp(4.0, "x", UdpPacket("1.1.1.1", 5, "2.2.2.2", 53, status.payload)) is None
    assert [e.get("st") for e in trace.bad_signatures()] == ["Init"]
    junk = trace.undecodable()
    assert len(junk) == 1 and junk[0].reason and junk[0].reason.startswith("undecodable")
    assert trace.messages(decoded=False, auth=False)[1] is junk[0]
    assert len(trace.messages(auth=True)) == 1
    assert trace.summary()["undecodable"] == 1


# -- queries --------------------------------------------------------------------------------------
def test_filters_and_windows() -> None:
    trace = golden()
    statuses = trace.messages(t="status", src="slave")
    assert len(statuses) == 122 and all(e.src == "slave" for e in statuses)
    assert len(trace.messages(t=["starting", "shutdone"])) == 7
    assert len(trace.messages(t="status", src="slave", iface="slave:eth1")) == 122
    assert trace.messages(t="status", iface="master:eth1") == []
    middle = statuses[60]
    after = trace.messages(t="status", src="slave", after=middle)
    assert after == statuses[61:]  # strictly after
    assert (
        trace.messages(t="status", src="slave", after=middle.time, before=statuses[63])
        == statuses[61:63]
    )
    assert len(trace.messages(t="resource", rsc_hold="all", src="slave")) == 5
    takeover = trace.messages(t="resource", info="mach_down")
    assert [e.src for e in takeover] == ["slave"] * 3
    assert trace.first(t="status", src="slave").get("st") == "init"  # type: ignore[union-attr]
    assert trace.last(t="shutdone").src == "slave"  # type: ignore[union-attr]
    assert trace.first(t="no-such-type") is None
    assert len(trace.messages(where=lambda e: (e.seq or 0) > 0x7F)) > 0
    assert trace.messages(t="status", outgoing=True) == []  # a pcap does not know directions


def test_order_checks_on_masters_crash_and_return() -> None:
    """In the capture master dies; slave reports it (stonith) and takes over (mach_down)."""
    trace = golden()
    steps = trace.sequence(
        msg(t="stonith", src="slave"),
        msg(t="resource", src="slave", rsc_hold="all"),
        msg(t="resource", src="slave", info="mach_down"),
        msg(t="starting", src="master"),
    )
    assert [e.t for e in steps] == ["stonith", "resource", "resource", "starting"]
    assert steps[0].time < steps[1].time < steps[2].time < steps[3].time
    assert trace.precedes(msg(t="stonith", src="slave"), msg(t="shutdone", src="master"))
    assert not trace.precedes(msg(t="shutdone"), msg(t="status", st="init"))
    with pytest.raises(TraceError, match=r"step 2, heartbeat.*never came after"):
        trace.sequence(msg(t="shutdone", src="slave"), msg(t="stonith"))
    # First X after Y, the form the failover tests want:
    death = trace.first(t="stonith", src="slave")
    assert death is not None
    takeover = trace.first(t="resource", src="slave", info="mach_down", after=death)
    assert takeover is not None and takeover.time - death.time == pytest.approx(0.162, abs=0.001)


def test_intervals_per_sender() -> None:
    stats = golden().keepalive_stats()
    assert sorted(stats) == ["master", "slave"]
    master, slave = stats["master"], stats["slave"]
    assert (master.count, slave.count) == (84, 122)
    assert master.median == pytest.approx(1.0, abs=0.005)  # keepalive 1 s
    assert slave.percentile(95) == pytest.approx(1.0, abs=0.01)
    assert master.max == pytest.approx(32.5, abs=0.1)  # master was down
    assert [round(gap, 1) for _, gap in master.late(5.0)] == [12.6, 32.5, 7.5]  # two restarts
    assert master.min is not None and master.min < 0.001  # init, up, up at start-up
    assert "interval median 1.00" in str(master)
    window = golden().intervals("master", after=master.times[10], before=master.times[20])
    assert window.count == 9


def test_a_message_seen_on_two_interfaces_counts_once() -> None:
    both = fed(label="slave:eth1")
    feed(both, "master:eth1", shift=0.0002)
    alone = golden().intervals("slave")
    assert both.intervals("slave").times == alone.times
    assert len(both.messages(t="status", src="slave")) == 244
    assert len(both.messages(t="status", src="slave", iface="master:eth1")) == 122


def test_interval_stats_edges() -> None:
    empty = IntervalStats("x", "status", ())
    assert (empty.min, empty.median, empty.percentile(50), empty.late(1)) == (None, None, None, [])
    assert "no interval" in str(empty)
    one = IntervalStats("x", "status", (0.0, 1.0, 3.0, 6.0))
    assert one.gaps == (1.0, 2.0, 3.0) and one.percentile(100) == 3.0 and one.percentile(0) == 1.0
    assert one.late(1.5) == [(3.0, 2.0), (6.0, 3.0)]


# -- ARP and marks --------------------------------------------------------------------------------
def garp_frame(ip: str, mac: str, op: int = 1) -> bytes:
    return bytes(
        Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=op, hwsrc=mac, psrc=ip, hwdst="ff:ff:ff:ff:ff:ff", pdst=ip)
    )


def who_has(ip: str, asker: str) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:64") / ARP(op=1, psrc=asker, pdst=ip))


def test_gratuitous_arps_and_marks() -> None:
    trace = WireTrace(REFERENCE)
    t0 = trace.mark("poweroff master", when=100.0)
    trace.add_frame(who_has(VIP, "192.168.0.100"), 100.5, "client:eth0")
    for second in range(3):
        trace.add_frame(garp_frame(VIP, MAC_SLAVE), 101.0 + second, "client:eth0")
    trace.add_frame(garp_frame("192.168.0.99", MAC_SLAVE, op=2), 105.0, "client:eth0")
    assert len(trace.arps()) == 5 and len(trace.arps(ip="192.168.0.100")) == 1
    announced = trace.gratuitous_arps(ip=VIP, after=t0)
    assert [e.time for e in announced] == [101.0, 102.0, 103.0]
    assert all(e.arp.sender_mac == MAC_SLAVE for e in announced)
    assert trace.first_gratuitous_arp(mac=MAC_SLAVE, after=101.0).time == 102.0  # type: ignore[union-attr]
    assert len(trace.gratuitous_arps()) == 4 and trace.arps(op=2)[0].arp.sender_ip == "192.168.0.99"
    assert trace.gratuitous_arps(ip=VIP, before=t0) == []
    assert [m.label for m in trace.marks()] == ["poweroff master"]
    steps = trace.sequence(mark("poweroff master"), garp(ip=VIP))
    assert isinstance(steps[1], ArpEvent) and steps[1].time == 101.0
    assert "gratuitous ARP request 192.168.0.38 is-at 02:00:00:00:00:28" in trace.render()
    assert trace.summary()["gratuitous_arps"] == 4


def test_wait_for_returns_a_match_or_times_out() -> None:
    trace = WireTrace(REFERENCE)
    with pytest.raises(TraceError, match=r"within 0\.0 s"):
        trace.wait_for(garp(ip=VIP), timeout=0)
    go = threading.Event()

    def later() -> None:
        go.wait(5)
        trace.add_frame(garp_frame(VIP, MAC_SLAVE), 7.0, "client:eth0")

    worker = threading.Thread(target=later)
    worker.start()
    go.set()
    event = trace.wait_for(garp(ip=VIP), timeout=10)
    worker.join()
    assert event.time == 7.0 and event.kind == "arp"


# -- frames and pcap files ------------------------------------------------------------------------
def heartbeat_frame(payload: bytes, sport: int = 40000, dport: int = 694) -> bytes:
    return bytes(
        Ether()
        / IP(src="172.16.254.28", dst="172.16.254.18")
        / UDP(sport=sport, dport=dport)
        / Raw(payload)
    )


def echo_frame(payload: bytes, reply: bool = False, pinger: str = "172.16.254.28") -> bytes:
    """A node's ping to the ping node (172.16.254.1), or the answer."""
    ends = ("172.16.254.1", pinger) if reply else (pinger, "172.16.254.1")
    return bytes(
        Ether()
        / IP(src=ends[0], dst=ends[1])
        / ICMP(type=0 if reply else 8, id=35, seq=7)
        / Raw(payload)
    )


def ns_st() -> bytes:
    """The message Heartbeat's ping medium puts after the ICMP header (§3.2)."""
    message = Message.of(
        ("t", "NS_st"), ("st", "ping"), ("info", "ping"), ("src", "172.16.254.1"), ("ts", "1")
    )
    return build(message, REFERENCE)


def test_parse_frame() -> None:
    payload = datagrams()[0].payload
    udp = parse_frame(heartbeat_frame(payload))
    assert udp == UdpPacket("172.16.254.28", 40000, "172.16.254.18", 694, payload)
    tagged = bytes(Ether() / Dot1Q(vlan=5) / IP() / UDP(dport=694) / Raw(b"x"))
    assert isinstance(parse_frame(tagged), UdpPacket)
    ip_only = bytes(IP(src="1.2.3.4") / UDP(dport=694) / Raw(b"y"))
    assert parse_frame(ip_only, LINKTYPE_RAW) == UdpPacket("1.2.3.4", 53, "127.0.0.1", 694, b"y")
    cooked = b"\x00\x00\x00\x01\x00\x06" + b"\x00" * 8 + b"\x08\x00" + ip_only
    assert parse_frame(cooked, LINKTYPE_LINUX_SLL) == parse_frame(ip_only, LINKTYPE_RAW)
    arp = parse_frame(garp_frame(VIP, MAC_SLAVE))
    assert arp == ArpPacket(1, MAC_SLAVE, VIP, "ff:ff:ff:ff:ff:ff", VIP) and arp.gratuitous
    echo = parse_frame(echo_frame(b"abc"))
    assert echo == IcmpPacket("172.16.254.28", "172.16.254.1", 8, 0, 35, 7, b"abc")
    assert echo.request and not echo.reply
    answer = parse_frame(echo_frame(b"abc", reply=True))
    assert isinstance(answer, IcmpPacket) and answer.reply and answer.ip_dst == "172.16.254.28"
    unreachable = bytes(Ether() / IP() / ICMP(type=3, code=1) / Raw(b"\x00" * 28))
    fragment = bytes(Ether() / IP(flags="MF") / UDP(dport=694) / Raw(b"z"))
    tcp = bytes(Ether() / IP(proto=6) / Raw(b"\x00" * 20))
    for junk in (
        b"",
        b"\x00" * 13,
        heartbeat_frame(payload)[:30],
        fragment,
        tcp,
        garp_frame(VIP, MAC_SLAVE)[:30],
        unreachable,
        echo_frame(b"")[:40],  # an ICMP header cut short
    ):
        assert parse_frame(junk) is None


def test_pings_carry_ns_st_and_answer_queries() -> None:
    trace = WireTrace(REFERENCE)
    t0 = trace.mark("cut", when=10.0)
    for n, when in enumerate((9.0, 10.5, 11.0)):
        trace.add_frame(echo_frame(ns_st()), when, "gw:eth1")
        if n != 1:  # one request left unanswered
            trace.add_frame(echo_frame(ns_st(), reply=True), when + 0.001, "gw:eth1")
    trace.add_frame(echo_frame(b"plain", pinger="172.16.254.18"), 12.0, "gw:eth1")
    assert len(trace.pings()) == 6 and trace.summary()["pings"] == 6
    requests = trace.pings("172.16.254.28", "172.16.254.1", after=t0, reply=False)
    replies = trace.pings("172.16.254.28", after=t0, reply=True)
    assert [e.time for e in requests] == [10.5, 11.0] and [e.time for e in replies] == [11.001]
    assert all(isinstance(e, PingEvent) and e.pinger == "172.16.254.28" for e in replies)
    assert replies[0].target == "172.16.254.1" and replies[0].message is not None
    assert replies[0].message.get("t") == "NS_st"
    plain = trace.pings("172.16.254.18")
    assert len(plain) == 1 and plain[0].message is None and plain[0].request
    assert trace.pings(iface="client:eth0") == [] and trace.messages() == []
    found = trace.wait_for(ping("172.16.254.18"), timeout=1)
    assert found.kind == "ping"
    assert "ICMP echo reply 172.16.254.1 > 172.16.254.28 id=35 seq=7 NS_st" in trace.render()


def test_load_pcap_with_arp_and_heartbeats(tmp_path: Path) -> None:
    path = tmp_path / "eth0.pcap"
    frames = [Ether(heartbeat_frame(datagrams()[0].payload)), Ether(garp_frame(VIP, MAC_SLAVE))]
    frames[0].time, frames[1].time = 10.25, 11.5
    wrpcap(str(path), frames)
    trace = WireTrace.from_pcap(path, REFERENCE)
    assert [e.kind for e in trace.events] == ["heartbeat", "arp"]
    assert [e.iface for e in trace.events] == ["eth0", "eth0"]
    assert trace.events[0].time == pytest.approx(10.25) and trace.first(t="status") is not None
    assert len(list(read_pcap(path))) == 2
    notes = tmp_path / "notes.txt"
    notes.write_text("not a capture")
    with pytest.raises(ValueError, match="not a libpcap"):
        WireTrace.from_pcap(notes)


# -- the kernel filter ----------------------------------------------------------------------------
def run_bpf(program: list[tuple[int, int, int, int]], frame: bytes) -> int:
    """A classic-BPF interpreter for the instructions bpf_program uses."""
    a = x = pc = 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code == 0x28:  # ldh [k]
            a = struct.unpack_from("!H", frame, k)[0] if k + 2 <= len(frame) else None  # type: ignore[assignment]
        elif code == 0x30:  # ldb [k]
            a = frame[k] if k < len(frame) else None  # type: ignore[assignment]
        elif code == 0x48:  # ldh [x + k]
            a = struct.unpack_from("!H", frame, x + k)[0] if x + k + 2 <= len(frame) else None  # type: ignore[assignment]
        elif code == 0xB1:  # ldx 4 * ([k] & 0xf)
            x = 4 * (frame[k] & 0x0F)
        elif code == 0x15:  # jeq #k
            pc += jt if a == k else jf
        elif code == 0x45:  # jset #k
            pc += jt if a & k else jf
        elif code == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"unexpected BPF code {code:#x}")
        if a is None:
            return 0  # the kernel drops a packet read past its end


@pytest.mark.parametrize(
    ("heartbeat", "arp", "icmp", "expected"),
    [
        (True, False, False, (1, 1, 0, 0, 0, 1, 0, 0)),
        (False, True, False, (0, 0, 0, 1, 0, 0, 0, 0)),
        (True, True, False, (1, 1, 0, 1, 0, 1, 0, 0)),
        (False, False, True, (0, 0, 0, 0, 0, 0, 1, 0)),
        (True, True, True, (1, 1, 0, 1, 0, 1, 1, 0)),
    ],
)
def test_bpf_program(heartbeat: bool, arp: bool, icmp: bool, expected: tuple[int, ...]) -> None:
    program = bpf_program(heartbeat, arp, 694, icmp)
    frames = (
        heartbeat_frame(b"x", 40000, 694),  # to the port
        heartbeat_frame(b"x", 694, 40000),  # from it
        heartbeat_frame(b"x", 40000, 695),
        garp_frame(VIP, MAC_SLAVE),
        bytes(Ether() / IP(flags="MF") / UDP(dport=694) / Raw(b"z")),
        bytes(Ether() / IP(options=[b"\x01\x01\x01\x00"]) / UDP(sport=7, dport=694)),  # IP options
        echo_frame(b"ping"),
        bytes(Ether() / IP(flags="MF") / ICMP() / Raw(b"z")),  # an ICMP fragment
    )
    accepted = tuple(int(run_bpf(program, frame) > 0) for frame in frames)
    assert accepted == expected
    assert all(jt >= 0 and jf >= 0 for _, jt, jf, _ in program)


# -- the reader thread, on a socket pair instead of a packet socket -------------------------------
class FakeTaps:
    """An opener handing out one end of a socketpair per tap; tests write frames in."""

    def __init__(self) -> None:
        self.writers: dict[str, socket.socket] = {}
        self.readers: list[socket.socket] = []

    def __call__(self, netns: str, iface: str, tap: Tap) -> socket.socket:
        reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        reader.setblocking(False)
        self.writers[tap.label] = writer
        self.readers.append(reader)
        return reader


def test_live_trace_records_until_stopped() -> None:
    taps = FakeTaps()
    trace = WireTrace(REFERENCE, opener=taps, max_seconds=60)
    trace.sniff("hblab-slave", "eth1", "slave:eth1").sniff(
        "hblab-client", "eth0", "client:eth0", heartbeat=False, arp=True
    )
    with trace:
        assert trace.running
        for udp in datagrams()[:3]:
            taps.writers["slave:eth1"].send(heartbeat_frame(udp.payload))
        taps.writers["client:eth0"].send(heartbeat_frame(datagrams()[3].payload))  # not kept there
        taps.writers["client:eth0"].send(garp_frame(VIP, MAC_SLAVE))
        trace.wait_for(garp(ip=VIP), timeout=10)
        trace.wait_for(msg(t="NS_ackmsg"), timeout=10)
    assert not trace.running and trace.stopped_because == "stopped"
    assert all(reader.fileno() == -1 for reader in taps.readers)
    beats = [e for e in trace.events if isinstance(e, HeartbeatEvent)]
    assert [(e.iface, e.t, e.auth) for e in beats] == [
        ("slave:eth1", "status", AuthStatus.OK),
        ("slave:eth1", "status", AuthStatus.OK),
        ("slave:eth1", "NS_ackmsg", AuthStatus.OK),
    ]
    assert [e.iface for e in trace.arps()] == ["client:eth0"]
    trace.stop()  # idempotent
    with pytest.raises(RuntimeError):
        trace.start()


def test_live_trace_stops_itself_at_max_events() -> None:
    taps = FakeTaps()

    def opener(netns: str, iface: str, tap: Tap) -> socket.socket:
        reader = taps(netns, iface, tap)
        for udp in datagrams()[:5]:  # queued before the reader starts
            taps.writers[tap.label].send(heartbeat_frame(udp.payload))
        return reader

    trace = WireTrace(REFERENCE, opener=opener, max_events=3).sniff("ns", "eth1", "slave:eth1")
    trace.start()
    assert trace._thread is not None
    trace._thread.join(10)
    assert not trace.running and trace.stopped_because == "max_events (3)"
    assert len(trace) == 3 and trace.dropped == 1
    assert taps.readers[0].fileno() == -1  # closed by the reader itself
    trace.stop()


def test_live_trace_stops_itself_at_max_seconds() -> None:
    trace = WireTrace(REFERENCE, opener=FakeTaps(), max_seconds=0).sniff("ns", "eth1")
    trace.start()
    assert trace._thread is not None
    trace._thread.join(10)
    assert trace.stopped_because == "max_seconds (0 s)" and trace.taps[0].label == "ns:eth1"
    trace.stop()


def test_a_tap_that_cannot_open_closes_the_others() -> None:
    taps = FakeTaps()

    def opener(netns: str, iface: str, tap: Tap) -> socket.socket:
        if iface == "eth9":
            raise OSError(19, "No such device")
        return taps(netns, iface, tap)

    trace = WireTrace(opener=opener).sniff("ns", "eth1").sniff("ns", "eth9")
    with pytest.raises(OSError, match="No such device"):
        trace.start()
    assert not trace.running and taps.readers[0].fileno() == -1


def test_a_socket_that_ends_is_dropped_and_reported() -> None:
    taps = FakeTaps()
    ended: list[socket.socket] = []

    def opener(netns: str, iface: str, tap: Tap) -> socket.socket:
        if tap.label != "a":
            return taps(netns, iface, tap)
        reader, writer = socket.socketpair()  # a stream: closing the writer ends it
        ended.append(writer)
        return reader

    trace = WireTrace(opener=opener).sniff("ns", "eth1", "a").sniff("ns", "eth2", "b")
    with trace:
        ended[0].close()
        taps.writers["b"].send(heartbeat_frame(datagrams()[0].payload))
        trace.wait_for(msg(t="status"), timeout=10)
    assert [e.iface for e in trace.events] == ["b"]
    assert trace.errors == ["a: the socket was closed"]


class DownOnce:
    """A tap whose interface went down once: the first read fails with ENETDOWN, as a
    packet socket's does after a power cut or a pulled cable; the next ones work."""

    def __init__(self, reader: socket.socket) -> None:
        self.reader, self.raised = reader, False

    def fileno(self) -> int:
        return self.reader.fileno()

    def recvmsg(self, *args: Any) -> Any:
        if not self.raised:
            self.raised = True
            raise OSError(errno.ENETDOWN, "Network is down")
        return self.reader.recvmsg(*args)

    def close(self) -> None:
        self.reader.close()


def test_a_link_going_down_keeps_the_tap() -> None:
    taps = FakeTaps()

    def opener(netns: str, iface: str, tap: Tap) -> Any:
        return DownOnce(taps(netns, iface, tap))

    trace = WireTrace(opener=opener).sniff("ns", "eth1", "master:eth1")
    with trace:
        taps.writers["master:eth1"].send(heartbeat_frame(datagrams()[0].payload))
        trace.wait_for(msg(t="status"), timeout=10)
    assert trace.errors == [] and [label for _, label in trace.link_downs] == ["master:eth1"]


def test_on_nodes_names_taps_by_node_and_interface() -> None:
    netns = {"master": "hblab-master", "slave": "hblab-slave", "client": "hblab-client"}
    trace = WireTrace.on_nodes(
        netns, REFERENCE, arp=["client:eth0", "slave:eth1"], opener=FakeTaps()
    )
    assert trace.taps == [
        Tap("hblab-master", "eth1", "master:eth1", heartbeat=True, arp=False),
        Tap("hblab-slave", "eth1", "slave:eth1", heartbeat=True, arp=True),
        Tap("hblab-client", "eth0", "client:eth0", heartbeat=False, arp=True),
    ]
    with pytest.raises(ValueError, match="node:iface"):
        WireTrace.on_nodes(netns, heartbeat=["gw:eth1"])
    pinged = WireTrace.on_nodes(
        {**netns, "gw": "hblab-gw"}, REFERENCE, icmp=["gw:eth1"], opener=FakeTaps()
    )
    assert pinged.taps[-1] == Tap("hblab-gw", "eth1", "gw:eth1", heartbeat=False, icmp=True)


def test_nonconforming_messages() -> None:
    assert golden().nonconforming() == []
    trace = WireTrace(REFERENCE)
    odd = Message.of(("t", "status"), ("st", "sleepy"), ("src", "x"), ("seq", "0x10"), ("ts", "1"))
    trace.add_udp(1.0, "x", UdpPacket("1.1.1.1", 5, "2.2.2.2", 694, build(odd, REFERENCE)))
    [(event, issues)] = trace.nonconforming(src="x")
    assert event.get("st") == "sleepy"
    assert issues == ["st='sleepy' is not one of the catalogue's values", "seq='0x10' is not hex"]
