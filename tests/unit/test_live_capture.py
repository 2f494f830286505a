"""``hblab capture --live`` without a lab: the pcapng writer, the capture loop, the CLI.

The loop is fed by datagram socketpairs standing in for packet sockets; the
stream it writes is read back by the real tshark (interface names, nanosecond
timestamps, direction flags) when tshark is there.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from lab import livecap
from lab.errors import LabError
from lab.livecap import Tap, capture, is_heartbeat_frame, parse_taps
from lab.pcapng import Direction, Interface, PcapNgWriter
from tests.tshark_util import ek_packets

REPO = Path(__file__).resolve().parents[2]
STAMP_NS = 1_796_047_252_055_909_876


def frame(dport: int = 694, payload: bytes = b"###\n%%%\n") -> bytes:
    udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload
    ip = bytes([0x45, 0]) + struct.pack("!H", 20 + len(udp)) + bytes(5) + b"\x11" + bytes(10)
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp


def test_blocks_have_the_pcapng_layout() -> None:
    out = io.BytesIO()
    writer = PcapNgWriter(out, [Interface("master:eth1"), Interface("client:eth0", "eth0")])
    header = out.getvalue()
    assert header[:4] == b"\x0a\x0d\x0d\x0a"
    assert struct.unpack_from("<I", header, 8)[0] == 0x1A2B3C4D
    assert b"master:eth1" in header and b"client:eth0" in header
    block = writer.packet_block(1, STAMP_NS, b"\x01" * 5, direction=Direction.OUTBOUND)
    kind, total = struct.unpack_from("<II", block)
    assert (kind, total, len(block) % 4) == (6, len(block), 0)
    assert struct.unpack_from("<I", block, len(block) - 4)[0] == total
    interface, high, low, captured, original = struct.unpack_from("<IIIII", block, 8)
    assert (interface, (high << 32) | low, captured, original) == (1, STAMP_NS, 5, 5)
    with pytest.raises(ValueError):
        writer.packet_block(2, STAMP_NS, b"")


def test_tshark_reads_names_times_and_directions(tmp_path: Path) -> None:
    path = tmp_path / "named.pcapng"
    with path.open("wb") as out:
        writer = PcapNgWriter(out, [Interface("master:eth1"), Interface("slave:eth1")])
        writer.write(1, STAMP_NS, frame(), direction=Direction.OUTBOUND)
        writer.write(0, STAMP_NS + 1, frame(), direction=Direction.INBOUND)
    fields = ["frame.interface_name", "frame.time_epoch", "frame.packet_flags_direction"]
    packets = ek_packets(path, [*fields, "heartbeat.encoding"], tmp_path / "home")
    names = [p["frame_interface_name"][0] for p in packets]
    assert names == ["slave:eth1", "master:eth1"]
    assert packets[0]["frame_time_epoch"][0] == "1796047252.055909876"
    assert [int(p["frame_packet_flags_direction"][0], 0) for p in packets] == [2, 1]
    assert packets[0]["heartbeat_encoding"] == ["netstring"]


def test_taps_are_parsed_with_one_line_errors() -> None:
    assert parse_taps("master:eth1, slave:eth1,client:eth0") == [
        Tap("master", "eth1"),
        Tap("slave", "eth1"),
        Tap("client", "eth0"),
    ]
    for bad in ("master", "master:", ":eth1", "master:eth1,,", "a:b,a:b"):
        with pytest.raises(LabError):
            parse_taps(bad)


def test_heartbeat_frames_are_told_apart() -> None:
    assert is_heartbeat_frame(frame())
    assert not is_heartbeat_frame(frame(dport=53))
    assert not is_heartbeat_frame(b"\xff" * 12 + b"\x08\x06" + bytes(28))  # ARP
    assert not is_heartbeat_frame(frame()[:30])


def _sources(count: int) -> tuple[list[livecap._Source], list[socket.socket]]:
    sources, feeds = [], []
    for index in range(count):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        ours.setblocking(False)
        sources.append(livecap._Source(Tap(f"n{index}", "eth1"), index, ours))
        feeds.append(theirs)
    return sources, feeds


def test_capture_writes_every_frame_of_every_interface(tmp_path: Path) -> None:
    sources, feeds = _sources(2)
    try:
        feeds[0].send(frame())
        feeds[1].send(frame(dport=53))
        feeds[1].send(frame())
        out = io.BytesIO()
        result = capture(sources, out, seconds=30, max_packets=3)
    finally:
        livecap.close_sources(sources)
        for feed in feeds:
            feed.close()
    assert result.stopped_by == "count"
    assert result.counts == {"n0:eth1": 1, "n1:eth1": 2}
    path = tmp_path / "two.pcapng"
    path.write_bytes(out.getvalue())
    packets = ek_packets(path, ["frame.interface_name", "udp.dstport"], tmp_path / "home")
    got = sorted((p["frame_interface_name"][0], p["udp_dstport"][0]) for p in packets)
    assert got == [("n0:eth1", "694"), ("n1:eth1", "53"), ("n1:eth1", "694")]


def test_capture_keeps_only_what_the_filter_keeps_and_stops_when_the_reader_leaves() -> None:
    sources, feeds = _sources(1)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first packet
    try:
        feeds[0].send(frame(dport=53))
        feeds[0].send(frame())
        with open(write_end, "wb", buffering=0) as out:
            result = capture(sources, out, seconds=30, keep=is_heartbeat_frame)
    finally:
        livecap.close_sources(sources)
        feeds[0].close()
    assert result.stopped_by == "reader-gone"


def test_zero_seconds_ends_at_once() -> None:
    sources, feeds = _sources(1)
    try:
        result = capture(sources, io.BytesIO(), seconds=0)
    finally:
        livecap.close_sources(sources)
        feeds[0].close()
    assert (result.stopped_by, result.counts) == ("deadline", {"n0:eth1": 0})


class _CtrlCOnHeader(io.BytesIO):
    """An output that presses Ctrl-C (SIGINT to this process) once the header is out."""

    def flush(self) -> None:
        super().flush()
        if self.getvalue() and not getattr(self, "pressed", False):
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_ends_a_capture_started_with_sigint_ignored() -> None:
    # ``cmd &`` in a script (no job control) starts cmd with SIGINT ignored, and Python
    # keeps it so; the capture must still end on Ctrl-C (CI's docker stage: it did not).
    sources, feeds = _sources(1)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        result = capture(sources, _CtrlCOnHeader(), seconds=30)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # put back as found
    finally:
        signal.signal(signal.SIGINT, previous)
        livecap.close_sources(sources)
        feeds[0].close()
    assert result.stopped_by == "interrupt"


@pytest.mark.parametrize(
    "args",
    [
        ["capture", "-w", "x.pcap"],
        ["capture", "master", "eth1", "--live", "master:eth1", "-w", "-"],
        ["capture", "--live", "master", "-w", "-"],
        ["capture", "--live", "master:eth1", "--filter", "udp", "-w", "-"],
    ],
)
def test_cli_errors_are_one_line(args: list[str]) -> None:
    if os.geteuid() != 0:
        pytest.skip("capture checks root first")
    done = subprocess.run(
        [sys.executable, "-m", "lab", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "HBLAB_STATE_DIR": "/nonexistent-hblab-state"},
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("hblab: ")
