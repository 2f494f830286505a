"""The core's messages against a capture of two real Heartbeat 3.0.6 nodes.

The first status of the capture is rebuilt byte for byte (same uuid, generation,
wall clock, load average and md5 key), and every other message type the capture
holds is rebuilt from its caller fields and compared field by field: names, types
and order are what a 3.0.6 peer sees and what the signature covers.
"""

from __future__ import annotations

import functools
import random

import pytest

from hbnode.auth import AuthKey, AuthKeys, AuthMethod
from hbnode.core.protocol import HeartbeatCore
from hbnode.core.timers import Timers
from hbnode.message import Field, Message
from hbnode.wire import decode_untrusted, encode_datagram, verify_datagram
from tests.pcap_util import capture_path, udp_datagrams

REFERENCE = AuthKeys(3, {3: AuthKey(3, AuthMethod.MD5, b"Hello!")})
UUID_MASTER = bytes.fromhex("ebbb091be3e3491b80e1ae3bea4213cf")
UUID_SLAVE = bytes.fromhex("3dc9f8d4c5ac47289fe0cfe24a46c6f5")
GENERATION_MASTER = 0x6B0638C4
WALL = float(0x6B0638C3)
LOADAVG = "0.23 0.11 0.04 1/95 8215"
# The capture's ha.cf: deadtime 6 (dt=1770, 1f40 in the first 5 s) and ttl=4 with two
# nodes, so one ping node with the default hopfudge of 1.
CAPTURE_TIMERS = Timers(
    keepalive=1.0, deadtime=6.0, warntime=3.0, initdead=12.0, deadping=6.0,
    max_rexmit_delay=0.25, hopfudge=1,
)  # fmt: skip
MASTER_IP = "172.16.254.18"


@functools.cache
def capture() -> tuple[tuple[str, Message, bytes], ...]:
    path = capture_path()
    if not path.exists():
        pytest.skip(f"capture {path} not found")
    return tuple(
        (d.ip_src, decode_untrusted(d.payload).message, d.payload) for d in udp_datagrams(path)
    )


def master_core() -> HeartbeatCore:
    return HeartbeatCore(
        me="master",
        nodes=["master", "slave"],
        ping_nodes=["172.16.254.1"],
        timers=CAPTURE_TIMERS,
        generation=GENERATION_MASTER,
        uuid=UUID_MASTER,
        rng=random.Random(0),
        wallclock=lambda: WALL,
        loadavg=lambda: LOADAVG,
    )


def layout(msg: Message) -> list[tuple[str, int]]:
    return [(f.name, int(f.type)) for f in msg if f.name != "auth"]


def test_first_status_is_byte_identical_to_the_capture() -> None:
    core = master_core()
    core.start(100.0)
    first = core.take_outgoing()[0]
    assert encode_datagram(first, REFERENCE) == capture()[0][2]


def test_startup_statuses_match_the_capture() -> None:
    """init then up at once, seq 1 and 2, dt = deadtime + 2000 for the first 5 s."""
    core = master_core()
    core.start(100.0)
    sent = core.take_outgoing()
    real = [m for ip, m, _ in capture() if ip == MASTER_IP and m.get("t") == "status"][:2]
    assert [layout(m) for m in sent] == [layout(m) for m in real]
    for ours, theirs in zip(sent, real, strict=True):
        for name in ("t", "st", "dt", "protocol", "src", "seq", "hg", "ttl"):
            assert ours.get(name) == theirs.get(name), name
    core.handle_timer(105.0)
    later = core.take_outgoing()[-1]
    assert (later.get("st"), later.get("dt")) == ("up", "1770")


def test_status_decodes_and_verifies_after_encoding() -> None:
    core = master_core()
    core.start(0.0)
    for msg in core.take_outgoing():
        datagram = decode_untrusted(encode_datagram(msg, REFERENCE))
        assert verify_datagram(datagram, REFERENCE) is None
        assert datagram.message.fields[: len(msg)] == msg.fields


def caller_fields(msg: Message) -> Message:
    """The fields before the §3.1 block (a caller's own ``src`` may sit among them)."""
    names = [f.name for f in msg]
    end = min(names.index(n) for n in ("destuuid", "srcuuid") if n in names)
    return Message(msg.fields[:end])


def master_messages_of_each_layout() -> list[Message]:
    seen: dict[tuple[tuple[str, int], ...], Message] = {}
    for ip, msg, _ in capture():
        if ip == MASTER_IP:
            seen.setdefault(tuple(layout(msg)), msg)
    return list(seen.values())


def test_upper_layer_messages_get_the_control_fields_the_capture_shows() -> None:
    """Every non-NS, non-status message type master sent: same fields, same order."""
    core = master_core()
    core.start(0.0)
    slave_status = next(m for ip, m, _ in capture() if ip != MASTER_IP and m.get("seq") == "1")
    core.receive(slave_status, "eth1", 0.1)  # learn the slave's uuid for destuuid
    checked = set()
    for real in master_messages_of_each_layout():
        kind = real.get("t") or ""
        if kind.startswith("NS_") or kind in ("status", "reqnodes", "repnodes"):
            continue
        core.send(caller_fields(real), 1.0)
        ours = core.take_outgoing()[-1]
        assert layout(ours) == layout(real), kind
        if real.get("destuuid") is not None or real.get_binary("destuuid") is not None:
            assert ours.get_binary("destuuid") == real.get_binary("destuuid")
        checked.add(kind)
    assert {"ip-request-resp", "resource", "starting", "shutdone", "stonith"} <= checked


def test_core_protocol_messages_match_the_capture_layout() -> None:
    """reqnodes, repnodes and NS_ackmsg as the core builds them."""
    real = {m.get("t"): m for ip, m, _ in capture() if ip == MASTER_IP}
    core = master_core()
    core.start(0.0)
    core.take_outgoing()
    slave = HeartbeatCore(
        me="slave",
        nodes=["master", "slave"],
        ping_nodes=["172.16.254.1"],
        timers=CAPTURE_TIMERS,
        generation=0x6B0638C6,
        uuid=UUID_SLAVE,
        rng=random.Random(0),
        wallclock=lambda: WALL,
    )
    slave.start(0.0)
    for node in (core, slave):
        node.ping_reply("172.16.254.1", 0.5)  # comm-up also waits for the ping node
    for msg in slave.take_outgoing():
        core.receive(msg, "eth1", 0.5)
    ours = {m.get("t"): m for m in core.take_outgoing()}
    assert layout(ours["reqnodes"]) == layout(real["reqnodes"])
    slave.receive(ours["reqnodes"], "eth1", 0.6)
    answer = slave.take_outgoing()
    for msg in answer:
        core.receive(msg, "eth1", 0.6)  # a hole in the slave's seqs would hold back ACKs
    repnodes = next(m for m in answer if m.get("t") == "repnodes")
    real_repnodes = next(m for ip, m, _ in capture() if m.get("t") == "repnodes")
    assert layout(repnodes) == layout(real_repnodes)
    assert [f for f in repnodes if f.name in ("dest", "t", "nodelist", "delnodelist")] == [
        f for f in real_repnodes if f.name in ("dest", "t", "nodelist", "delnodelist")
    ]
    acks = [m for m in core.take_outgoing() if m.get("t") == "NS_ackmsg"]
    for _ in range(200):  # drive traffic until some ACK is due
        if acks:
            break
        slave.handle_timer(slave.get_timer() or 0.0)
        for msg in slave.take_outgoing():
            core.receive(msg, "eth1", 1.0)
        acks = [m for m in core.take_outgoing() if m.get("t") == "NS_ackmsg"]
    assert acks
    assert layout(acks[0]) == layout(real["NS_ackmsg"])


def test_the_capture_replayed_into_a_core_is_accepted() -> None:
    """Feed the slave's half of the capture to a core playing master's peer view."""
    core = HeartbeatCore(
        me="observer",
        nodes=["master", "slave", "observer"],
        ping_nodes=["172.16.254.1"],
        timers=CAPTURE_TIMERS,
        generation=1,
        uuid=bytes(16),
        rng=random.Random(0),
        wallclock=lambda: WALL,
    )
    core.start(0.0)
    for ip, msg, _ in capture():
        if ip != MASTER_IP:
            core.receive(msg, "eth1", 1.0)
    counters = core.counters()
    assert counters["malformed"] == counters["unknown_node"] == counters["replayed"] == 0
    assert counters["restarts"] == 1  # the slave came back with hg 6b0638c7
    assert core.node_status("slave") == "active"  # its last status in the capture


def test_field_is_what_the_capture_has() -> None:
    """Guard the helper above: layouts compare types, not only names."""
    assert layout(Message([Field("a", 1, b"x")])) != layout(Message.of(("a", "x")))  # type: ignore[arg-type]
