"""Impersonation and replay on the heartbeat link (hbnode on both nodes).

Heartbeat's authentication is one shared key (authkeys): it tells "holds the key"
from "does not", and nothing more. So:

* a valid packet captured on the link and replayed later, by anyone, is ignored:
  its seq is old (``out_of_window``/``duplicate``), or, once the sender has
  restarted, its generation is (``replayed``, "attempted replay attack"). Replays
  cannot keep a dead node alive either;
* a packet forged with the key under a cluster node's name is believed:
  tests/scenarios/forged-right-key.yaml shows it (for every implementation pairing);
* a correctly signed packet from a name that is not a ``node`` in ha.cf is
  dropped, counted (``unknown_node``) and logged at most once per 10 s.

Packets are sniffed inside slave's namespace and sent from gw's, spoofing master's
address where they claim to be master's; nothing leaves the lab.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from lab import netsock
from lab.hafiles import AUTHKEYS
from lab.hbcodec import CodecError, parse_authkeys, parse_untrusted
from lab.hbpacket import signed_datagram, status_message
from lab.topology import REFERENCE

from .badnews import ExpectedLog
from .helpers import Cluster, holds_for, wait_until

SPEC = "hbnode"
HB_PORT = 694
ETH_P_IP = 0x0800
MARGIN = 6.0  # seconds beyond deadtime for a takeover on a loaded machine
CAPTURE = 20  # master's datagrams to capture
REPLAY_ROUNDS = 5  # each captured datagram is replayed this many times
FLOOD = 200  # signed packets from a node name that is not in ha.cf
REPLAY_COUNTERS = ("duplicate", "out_of_window", "replayed")


def _eth1(node: str) -> tuple[str, str]:
    """(IPv4 address, MAC) of ``node``'s eth1 in the reference topology."""
    host = REFERENCE.host(node)
    assert host is not None
    interface = host.interface("eth1")
    assert interface is not None
    return str(interface.address.ip), interface.mac


def _status(c: Cluster, node: str) -> dict[str, Any]:
    done = c.lab.run(node, ["hbnode", "status", "--json"], timeout=10)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _counters(c: Cluster, node: str) -> dict[str, int]:
    counters: dict[str, int] = _status(c, node)["counters"]
    return counters


def _netns(c: Cluster, node: str) -> str:
    return c.lab.netns_of(node)  # a name on netns, a /proc path on docker


class Capture:
    """Master's heartbeat datagrams (whole IP packets) as slave's eth1 receives them."""

    def __init__(self, c: Cluster, max_seconds: float = 60.0) -> None:
        self.master_ip = _eth1("master")[0]
        self.sock = netsock.packet_socket(_netns(c, "slave"), "eth1", ETH_P_IP)
        self.packets: list[bytes] = []  # IP layer bytes, in arrival order
        self.seqs: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(max_seconds,), daemon=True)

    def _loop(self, max_seconds: float) -> None:
        deadline = time.monotonic() + max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if ready:
                self._keep(Ether(self.sock.recv(65535)))

    def _keep(self, frame: Any) -> None:
        if UDP not in frame or frame[UDP].dport != HB_PORT or frame[IP].src != self.master_ip:
            return
        try:
            message = parse_untrusted(bytes(frame[UDP].payload)).message
        except CodecError:
            return
        seq = message.get("seq")
        if message.get("src") == "master" and seq is not None:
            self.packets.append(bytes(frame[IP]))
            self.seqs.append(int(seq, 16))

    def __enter__(self) -> Capture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self.sock.close()


@contextmanager
def _sender(c: Cluster) -> Iterator[Callable[[bytes], None]]:
    """Send IP packets from gw's eth1 to slave's MAC, whatever their source address."""
    gw_mac, slave_mac = _eth1("gw")[1], _eth1("slave")[1]
    sock = netsock.packet_socket(_netns(c, "gw"), "eth1", ETH_P_IP)
    try:
        yield lambda packet: _send(sock, gw_mac, slave_mac, packet)
    finally:
        sock.close()


def _send(sock: socket.socket, src_mac: str, dst_mac: str, packet: bytes) -> None:
    ip = IP(packet)
    # A capture on a veth holds checksum-offloaded packets (the UDP checksum is only
    # the pseudo-header's): let scapy fill the real ones, or the kernel drops them.
    del ip.chksum
    if UDP in ip:
        del ip[UDP].chksum
    sock.send(bytes(Ether(src=src_mac, dst=dst_mac) / ip))


def _replay(c: Cluster, packets: list[bytes], rounds: int) -> int:
    with _sender(c) as send:
        for _ in range(rounds):
            for packet in packets:
                send(packet)
    return rounds * len(packets)


def _capture_master(c: Cluster) -> Capture:
    with Capture(c) as capture:
        wait_until(lambda: len(capture.packets) >= CAPTURE, 30.0, "captured master's packets")
    return capture


def _replays_counted(c: Cluster, before: dict[str, int], sent: int) -> Callable[[], bool]:
    def counted() -> bool:
        now = _counters(c, "slave")
        return sum(now[k] - before[k] for k in REPLAY_COUNTERS) >= sent

    return counted


def test_replayed_packets_are_ignored(
    lab_factory: Callable[..., Cluster], measure: Callable[..., None], expect_log: ExpectedLog
) -> None:
    expect_log(
        r"ERROR: should_drop_message: attempted replay attack", "replayed packets", ["slave"]
    )
    c = lab_factory(SPEC, {"auto_failback": "on"})
    c.startup("master")
    old = _capture_master(c)
    # Let master's seq move well past what was captured (a few keepalives).
    wait_until(lambda: _max_seq_seen(c) > max(old.seqs) + 4, 10.0, "master's seq moved on")
    log_offset = len(c.log("slave"))
    before = _counters(c, "slave")

    # 1. Same generation, old seqs: dropped by the sequence window.
    sent = _replay(c, old.packets, REPLAY_ROUNDS)
    wait_until(_replays_counted(c, before, sent), 10.0, "slave counted every replay")
    after = _counters(c, "slave")
    for name in ("restarts", "partitions", "lost", "seq_resets", "unknown_node", "impostor"):
        assert after[name] == before[name], f"{name} moved: {before[name]} -> {after[name]}"
    assert c.holders() == ["master"]
    assert c.nodestatus("slave", "master") == "active"
    new_lines = c.log("slave")[log_offset:]
    for text in ("Heartbeat restart", "lost packet", "returning after partition", "is dead"):
        assert text not in new_lines, f"slave logged {text!r} after a replay"
    measure("replayed_same_generation", sent)
    measure(
        "replay_drops_by_reason",
        json.dumps({k: after[k] - before[k] for k in REPLAY_COUNTERS}),
    )

    # 2. After master restarts (new generation, hg+1) the old packets are replays.
    c.lab.service("master", "heartbeat", "restart")
    wait_until(lambda: _counters(c, "slave")["restarts"] > after["restarts"], 30.0, "restart seen")
    c.wait_holder("master", 30.0)
    log_offset = len(c.log("slave"))
    before = _counters(c, "slave")
    sent = _replay(c, old.packets, REPLAY_ROUNDS)
    wait_until(
        lambda: _counters(c, "slave")["replayed"] - before["replayed"] >= sent,
        10.0,
        "slave counted the old generation's packets as replayed",
    )
    lines = c.log("slave")[log_offset:]
    assert lines.count("attempted replay attack [master]") == 1, "not rate-limited: " + lines
    assert c.holders() == ["master"]
    measure("replayed_old_generation", sent)

    # 3. Replays cannot keep a dead master alive: slave takes over on time, while both
    # the old generation's packets and the current one's (captured just now) replay.
    recent = _capture_master(c)
    packets = old.packets + recent.packets
    with _sender(c) as send:
        stop = threading.Event()
        thread = threading.Thread(target=_replay_loop, args=(send, packets, stop), daemon=True)
        thread.start()
        try:
            c.lab.poweroff("master")
            took = c.wait_holder("slave", c.deadtime + MARGIN)
        finally:
            stop.set()
            thread.join(5.0)
    measure("takeover_during_replay_s", round(took, 3))


def _replay_loop(
    send: Callable[[bytes], None], packets: list[bytes], stop: threading.Event
) -> None:
    for _ in range(10_000):  # bounded: at most ~100 s at the pace below
        for packet in packets:
            send(packet)
        if stop.wait(0.01 * len(packets)):
            return


def _max_seq_seen(c: Cluster) -> int:
    """The highest seq of master's packets arriving at slave now."""
    with Capture(c) as capture:
        wait_until(lambda: len(capture.seqs) >= 1, 5.0, "a packet from master")
    return max(capture.seqs)


def test_signed_packets_from_a_node_not_in_ha_cf_are_rejected(
    lab_factory: Callable[..., Cluster], measure: Callable[..., None], expect_log: ExpectedLog
) -> None:
    why = "signed packets from a node ha.cf does not name"
    expect_log(r"ERROR: process_status_message: bad node \[intruder\]", why, ["slave"])
    c = lab_factory(SPEC)
    c.startup("master")
    keys = parse_authkeys(AUTHKEYS)
    gw_ip, slave_ip = _eth1("gw")[0], _eth1("slave")[0]
    log_offset = len(c.log("slave"))
    before = _status(c, "slave")
    unknown_before = before["counters"]["unknown_node"]
    began = time.monotonic()
    with _sender(c) as send:
        for seq in range(1, FLOOD + 1):
            message = status_message("intruder", seq=seq, hg=0x6B0638C4, ts=int(time.time()))
            payload = signed_datagram(message, keys)
            send(bytes(IP(src=gw_ip, dst=slave_ip) / UDP(sport=HB_PORT, dport=HB_PORT) / payload))
    wait_until(
        lambda: _counters(c, "slave")["unknown_node"] - unknown_before >= FLOOD,
        10.0,
        f"slave counted {FLOOD} packets from an unknown node",
    )
    sent_in = time.monotonic() - began
    status = _status(c, "slave")
    assert status["counters"]["unknown_node"] - unknown_before == FLOOD
    names = [node["name"] for node in status["nodes"]]
    assert "intruder" not in names and names == [node["name"] for node in before["nodes"]]
    # Correctly signed: they passed the link layer and were judged by name alone.
    assert status["io"]["rejected"] == before["io"]["rejected"]
    lines = c.log("slave")[log_offset:]
    assert lines.count("bad node [intruder]") == 1, "not logged exactly once: " + lines
    holds_for(c.held_by("master"), 1.0, "master keeps the VIP")
    assert c.nodestatus("slave", "master") == "active"
    measure("unknown_node_packets", FLOOD)
    measure("unknown_node_send_s", round(sent_in, 3))
