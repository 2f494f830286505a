"""The dissector's sequence analysis and the tshark view of ``hblab dump``.

A stream of one sender, built here, holds each case the analysis names (a gap, a
late message filling it, a repeat, a retransmission answering NS_rexmit, a
restart, an older generation); tshark must flag each frame with its expert item,
the same whether it reads the file once or twice (``-2``: the notes are made on
the first pass and only shown after).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hbnode.config.authkeys import parse_authkeys_text
from hbnode.message import Message
from hbnode.wire import encode_netstring
from lab.hbpacket import status_message
from tests.pcap_util import capture_path
from tests.tshark_util import ek_packets, require_tshark, values
from tests.unit.test_wireshark_agreement import write_pcap

REPO = Path(__file__).resolve().parents[2]
KEYS = parse_authkeys_text("auth 1\n1 sha1 SecretKey\n")
HG = 0x6B0638C4
EXPERTS = (
    "lost",
    "out_of_order",
    "seq_back",
    "rexmit_request",
    "rexmit_nak",
    "retransmission",
    "restart",
    "old_generation",
)


def _status(seq: int, hg: int = HG) -> Message:
    """The lab's status (its own codec's message), as hbnode's Message for hbnode.wire."""
    lab_message = status_message("alpha", seq, hg, 0x6B0638C3)
    return Message.of(*((f.name, str(f.value)) for f in lab_message.fields))


def _rexmit(first: int, last: int) -> Message:
    return Message.of(
        ("t", "NS_rexmit"), ("dest", "alpha"), ("firstseq", str(first)), ("lastseq", str(last)),
        ("src", "beta"), ("hg", "1"), ("ts", "6b0638c3"), ("ttl", "4"),
    )  # fmt: skip


def stream() -> list[tuple[Message, set[str]]]:
    """Messages of "alpha" (and beta's NS_rexmit), each with the notes it must get."""
    nak = Message.of(
        ("t", "NS_nak_rexmit"), ("firstseq", "1"), ("dest", "beta"), ("info", "seqno too low"),
        ("src", "alpha"), ("hg", f"{HG:x}"), ("ts", "6b0638c3"),
    )  # fmt: skip
    return [
        (_status(1), set()),
        (_status(2), set()),
        (_status(5), {"lost"}),  # 3 and 4 missing
        (_status(3), {"out_of_order"}),  # fills the gap: accepted by a receiver
        (_status(5), {"seq_back"}),  # a repeat
        (_rexmit(4, 4), {"rexmit_request"}),
        (_status(4), {"retransmission"}),  # answers the request
        (nak, {"rexmit_nak"}),
        (_status(6), set()),
        (_status(1, HG + 1), {"restart"}),
        (_status(9, HG), {"old_generation"}),
        (_status(2, HG + 1), set()),
    ]


def _flags(layers: dict[str, list[object]]) -> set[str]:
    return {name for name in EXPERTS if values(layers, f"heartbeat.analysis.{name}")}


@pytest.mark.parametrize("two_pass", [False, True])
def test_each_frame_gets_its_analysis(two_pass: bool, tmp_path: Path) -> None:
    cases = stream()
    pcap = tmp_path / "stream.pcap"
    write_pcap(pcap, [encode_netstring(message, KEYS) for message, _ in cases])
    fields = [f"heartbeat.analysis.{name}" for name in EXPERTS]
    packets = ek_packets(pcap, fields, tmp_path / "home", extra=["-2"] if two_pass else [])
    assert [_flags(layers) for layers in packets] == [flags for _, flags in cases]


def test_a_bad_signature_keeps_out_of_the_analysis(tmp_path: Path) -> None:
    """A forged message (wrong key) is not believed: it cannot fake a restart."""
    wrong = parse_authkeys_text("auth 1\n1 sha1 Forged\n")
    pcap = tmp_path / "forged.pcap"
    datagrams = [
        encode_netstring(_status(1), KEYS),
        encode_netstring(_status(1, HG + 5), wrong),
        encode_netstring(_status(2), KEYS),
    ]
    write_pcap(pcap, datagrams)
    keys = tmp_path / "authkeys"
    keys.write_text("auth 1\n1 sha1 SecretKey\n")
    fields = [f"heartbeat.analysis.{name}" for name in EXPERTS]
    packets = ek_packets(pcap, fields, tmp_path / "home", keys)
    assert [_flags(layers) for layers in packets] == [set(), set(), set()]


def _dump(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lab", "dump", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("key", ["Hello!", "Nope!", None])
def test_dump_through_tshark_prints_what_the_scapy_view_prints(
    key: str | None, tmp_path: Path
) -> None:
    require_tshark()
    args = ["--read", str(capture_path())]
    if key is not None:
        keys = tmp_path / "authkeys"
        keys.write_text(f"auth 3\n3 md5 {key}\n")
        args += ["--authkeys", str(keys)]
    scapy_view = _dump(*args)
    assert len(scapy_view) == 346
    assert _dump("--tshark", *args) == scapy_view


def test_dump_through_tshark_json_and_malformed(tmp_path: Path) -> None:
    require_tshark()
    pcap = tmp_path / "mixed.pcap"
    good = encode_netstring(_status(7), KEYS)
    write_pcap(pcap, [good, good[:40], b">>>\nno end\n"])
    keys = tmp_path / "authkeys"
    keys.write_text("auth 1\n1 sha1 SecretKey\n")
    lines = _dump("--tshark", "--read", str(pcap), "--authkeys", str(keys))
    assert " t=status src=alpha seq=7 auth=ok" in lines[0]
    assert all(" t=- src=- seq=- auth=bad (undecodable: " in line for line in lines[1:])
    assert len(lines) == 3
    rows = _dump("--tshark", "--json", "--read", str(pcap))
    assert '"auth": "unchecked"' in rows[0] and '"seq": "7"' in rows[0]
