"""Sequencing, retransmission, ACKs, generations and message filtering between two cores
(protocol.md §3.3, §3.4, §4.2), through the real codec and a lossy fake network.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from hbnode.core import events as ev
from hbnode.core.errors import LocalProtocolError
from hbnode.message import Message
from tests.harness.core_sim import CoreClusterSim, uuid_of, wire_roundtrip


def up_pair(**kwargs: object) -> CoreClusterSim:
    cluster = CoreClusterSim(**kwargs)  # type: ignore[arg-type]
    cluster.start_all()
    cluster.run_until(1.0)
    assert all(core.comm_up() for core in cluster.cores.values())
    return cluster


def send(cluster: CoreClusterSim, name: str, *pairs: tuple[str, str]) -> Message:
    cluster.cores[name].send(Message.of(*pairs), cluster.now)
    cluster.flush(name)
    return cluster.sent[name][-1]


def delivered(cluster: CoreClusterSim, name: str, src: str) -> list[ev.Delivered]:
    return [e for e in cluster.of_type(name, ev.Delivered) if e.msg.get("src") == src]


def test_a_lost_message_is_asked_for_and_retransmitted_once() -> None:
    cluster = up_pair()
    cluster.run_until(1.1)
    cluster.drop = lambda src, dst, msg: (
        src == "slave" and dst == "master" and msg.get("n") == "1" and cluster.now < 1.2
    )
    lost = send(cluster, "slave", ("t", "resource"), ("n", "1"))
    seq = int(lost.get("seq") or "", 16)
    send(cluster, "slave", ("t", "resource"), ("n", "2"))
    cluster.run_until(2.0)
    assert cluster.of_type("master", ev.PacketsLost) == [
        ev.PacketsLost("slave", seq, seq, 1, now=1.101)
    ]
    requests = cluster.sent_of_type("master", "NS_rexmit")
    assert [(m.get("dest"), m.get("firstseq"), m.get("lastseq")) for m in requests] == [
        ("slave", str(seq), str(seq))  # decimal, unlike seq itself
    ]
    assert "seq" not in requests[0] and "ld" not in requests[0]
    resent = [m for m in cluster.sent["slave"] if m.get("n") == "1"]
    assert len(resent) == 2 and resent[0].fields == resent[1].fields  # same seq, same ts
    got = [(e.msg.get("n"), e.link) for e in delivered(cluster, "master", "slave")]
    assert got == [("2", "eth1"), ("1", "eth1")]
    counters = cluster.cores["master"].counters()
    assert (counters["lost"], counters["rexmit_requested"]) == (1, 1)
    assert cluster.cores["slave"].counters()["rexmit_sent"] == 1
    assert cluster.cores["master"]._table.peers["slave"].window.missing == {}


def test_the_first_request_comes_50_to_250ms_after_the_gap_then_every_250ms() -> None:
    cluster = up_pair()
    cluster.run_until(1.1)
    cluster.drop = lambda src, dst, msg: src == "slave" and msg.get("n") == "1"  # forever
    send(cluster, "slave", ("t", "resource"), ("n", "1"))
    send(cluster, "slave", ("t", "resource"), ("n", "2"))
    # Keep the slave from answering so the request repeats.
    cluster.run_until(2.5)
    times = [
        round(t, 6)
        for t, _, m in cluster.received["slave"]
        if m.get("t") == "NS_rexmit" and m.get("src") == "master"
    ]
    first = times[0] - 0.001  # sent one network delay before it arrived
    assert 1.101 + 0.05 <= first <= 1.101 + 0.25
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [0.25] * (len(times) - 1)
    # Each request was answered by a resend that the network lost again.
    assert cluster.cores["slave"].counters()["rexmit_sent"] == len(times)


def test_lossy_duplicating_reordering_network_loses_nothing_and_kills_nobody() -> None:
    cluster = up_pair(seed=5)
    cluster.net.set_all(loss=0.2, duplicate=0.1, jitter=0.05)
    sent: dict[str, list[str]] = {"master": [], "slave": []}
    for step in range(300):  # 60 s; each node sends an upper-layer message every 0.2 s
        cluster.run_until(1.0 + step * 0.2)
        for name in ("master", "slave"):
            send(cluster, name, ("t", "resource"), ("n", f"{name}-{step}"))
            sent[name].append(f"{name}-{step}")
    cluster.net.set_all(loss=0.0, duplicate=0.0)
    cluster.run_until(65.0)
    for name, peer in (("master", "slave"), ("slave", "master")):
        core = cluster.cores[name]
        assert [c for c in cluster.status_changes(name, peer) if c[2] == "dead"] == []
        got = Counter(e.msg.get("n") for e in delivered(cluster, name, peer))
        assert got == Counter(sent[peer]), "each message exactly once"
        counters = core.counters()
        assert counters["lost"] > 0 and counters["rexmit_requested"] > 0
        assert counters["duplicate"] + counters["out_of_window"] > 0
        assert cluster.cores[peer].counters()["rexmit_sent"] > 0
        assert core._table.peers[peer].window.missing == {}
        own = Counter(e.msg.get("n") for e in delivered(cluster, name, name))
        assert own == Counter(sent[name])  # our own, by loopback, exactly once


def test_acks_follow_the_trigger_and_stop_without_flow_control() -> None:
    cluster = up_pair()
    cluster.run_until(20.0)
    acks = cluster.sent_of_type("master", "NS_ackmsg")
    assert acks
    trigger = cluster.cores["master"]._table.peers["slave"].window.ack_trigger
    assert {int(m.get("ackseq") or "", 16) % 10 for m in acks} == {trigger}
    assert {m.get("dest") for m in acks} == {"slave"}
    assert cluster.cores["slave"]._table.peers["master"].acked == max(
        int(m.get("ackseq") or "", 16) for m in acks
    )

    plain = CoreClusterSim(flow_control={"master": True, "slave": False})
    plain.start_all()
    plain.run_until(20.0)
    assert plain.sent_of_type("master", "NS_ackmsg") == []
    assert plain.sent_of_type("master", "reqnodes") == []
    assert "protocol" not in plain.sent_of_type("slave", "status")[0]
    assert plain.cores["master"].comm_up() and plain.cores["slave"].comm_up()


def test_rexmit_requests_too_low_too_high_acked_and_recent() -> None:
    cluster = up_pair(flow_control={"master": False, "slave": True})  # master never ACKs
    slave = cluster.cores["slave"]
    for step in range(520):
        slave.send(Message.of(("t", "resource"), ("n", str(step))), cluster.now)
    cluster.flush("slave")
    cluster.run_for(0.1)
    highest = slave._sender.seq

    def ask(first: int, last: int) -> None:
        pairs = (("dest", "slave"), ("firstseq", str(first)), ("lastseq", str(last)))
        send(cluster, "master", ("t", "NS_rexmit"), *pairs)
        cluster.run_for(0.01)

    ask(1, 1)
    naks = cluster.sent_of_type("slave", "NS_nak_rexmit")
    assert [(m.get("firstseq"), m.get("dest"), m.get("info")) for m in naks] == [
        ("1", "master", "seqno too low")
    ]
    before = slave.counters()
    ask(highest + 1, highest + 3)
    assert slave.counters()["rexmit_too_high"] == before["rexmit_too_high"] + 3
    assert len(cluster.sent_of_type("slave", "NS_nak_rexmit")) == 1  # a warning only
    ask(highest - 10, highest - 10)
    ask(highest - 10, highest - 10)  # within 240 ms: still in flight
    assert slave.counters()["rexmit_sent"] == before["rexmit_sent"] + 1
    cluster.run_for(0.25)
    ask(highest - 10, highest - 10)
    assert slave.counters()["rexmit_sent"] == before["rexmit_sent"] + 2
    ask(highest - 200, highest - 100)  # at most 50 per request
    assert slave.counters()["rexmit_sent"] == before["rexmit_sent"] + 52
    ack = (("dest", "slave"), ("ackseq", f"{highest - 5:x}"))
    send(cluster, "master", ("t", "NS_ackmsg"), *ack)
    cluster.run_for(0.3)
    ask(highest - 6, highest - 6)  # ACKed already: ignored
    assert slave.counters()["rexmit_sent"] == before["rexmit_sent"] + 52
    # The retransmissions were old news to master: nothing delivered twice.
    got = Counter(e.msg.get("n") for e in delivered(cluster, "master", "slave"))
    assert set(got.values()) == {1}


def test_a_nak_stops_the_requests() -> None:
    cluster = up_pair()
    cluster.run_until(1.1)
    cluster.drop = lambda src, dst, msg: src == "slave" and msg.get("n") == "1"
    lost = send(cluster, "slave", ("t", "resource"), ("n", "1"))
    send(cluster, "slave", ("t", "resource"), ("n", "2"))
    cluster.run_until(1.6)
    master = cluster.cores["master"]
    assert master.counters()["rexmit_requested"] >= 1
    nak = (("firstseq", lost.get("seq") or ""), ("dest", "master"), ("info", "seqno too low"))
    send(cluster, "slave", ("t", "NS_nak_rexmit"), *nak)
    cluster.run_for(0.01)
    requested = master.counters()["rexmit_requested"]
    cluster.run_until(3.0)
    assert master.counters()["rexmit_requested"] == requested
    assert master.counters()["nak_received"] == 1


def test_a_huge_gap_resets_tracking_without_requests() -> None:
    cluster = up_pair()
    cluster.run_until(1.1)
    slave = cluster.cores["slave"]
    slave._sender.seq += 300  # as if 300 messages never reached anyone
    send(cluster, "slave", ("t", "resource"), ("n", "after"))
    cluster.run_until(2.0)
    lost = cluster.of_type("master", ev.PacketsLost)
    assert len(lost) == 1 and lost[0].reset and lost[0].count == 300
    assert cluster.sent_of_type("master", "NS_rexmit") == []
    assert delivered(cluster, "master", "slave")[-1].msg.get("n") == "after"


def test_messages_for_others_are_sequenced_but_not_kept() -> None:
    cluster = up_pair()
    cluster.run_until(1.1)
    send(cluster, "slave", ("t", "ip-request-resp"), ("dest", "slave"), ("ipaddr", "x"))
    send(cluster, "slave", ("t", "ip-request-resp"), ("dest", "master"), ("ipaddr", "y"))
    cluster.run_until(1.2)
    assert [e.msg.get("ipaddr") for e in delivered(cluster, "master", "slave")] == ["y"]
    assert cluster.of_type("master", ev.PacketsLost) == []
    assert cluster.cores["master"].counters()["not_for_us"] == 1
    # The sender is a receiver of its own messages, unless they name someone else.
    own = [(e.msg.get("ipaddr"), e.link) for e in delivered(cluster, "slave", "slave")]
    assert own == [("x", None)]
    # The name decides over a (cloned, say) uuid; a lone destuuid must be ours.
    master = cluster.cores["master"]
    for dest, destuuid, kept in (
        ("slave", uuid_of("master"), False),
        ("master", uuid_of("slave"), True),
        (None, uuid_of("slave"), False),
        (None, uuid_of("master"), True),
    ):
        msg = Message.of(("t", "resource"))
        if dest is not None:
            msg.add("dest", dest)
        msg.add_binary("destuuid", destuuid)
        assert master._for_us(msg) is kept
    to_master = cluster.sent["slave"][-1]
    assert to_master.get_binary("destuuid") == uuid_of("master")
    assert cluster.sent["slave"][-2].get_binary("destuuid") == uuid_of("slave")


def test_replayed_old_generation_is_dropped_and_counted() -> None:
    cluster = up_pair()
    old = [wire_roundtrip(m) for m in cluster.sent["slave"] if m.get("t") == "status"][:3]
    cluster.crash("slave")
    cluster.start("slave", at=1.2)
    cluster.run_until(1.5)
    master = cluster.cores["master"]
    for msg in old:
        master.receive(msg, "eth1", 1.5)
    cluster.flush("master")
    drops = cluster.of_type("master", ev.Dropped)
    assert [d.reason for d in drops] == [ev.DropReason.REPLAY] * 3
    assert drops[0].detail == "[gen = 1795569860, curgen = 1795569861]"
    assert master.counters()["replayed"] == 3
    assert master.node_status("slave") == "active"


def test_newer_generation_before_its_status_is_dropped() -> None:
    cluster = up_pair()
    cluster.run_until(1.1)
    msg = send(cluster, "slave", ("t", "resource"))
    forged = wire_roundtrip(msg)
    forged.set("hg", f"{0x6B0638C4 + 1:x}")
    cluster.cores["master"].receive(forged, "eth1", 1.1)
    cluster.flush("master")
    assert cluster.of_type("master", ev.Dropped)[-1].reason is ev.DropReason.EARLY_GENERATION
    assert cluster.of_type("master", ev.NodeRestarted) == []


def test_unknown_nodes_malformed_and_ping_impostors_are_dropped() -> None:
    cluster = up_pair(ping_nodes=["10.0.0.254"])
    master = cluster.cores["master"]
    base = wire_roundtrip(cluster.sent_of_type("slave", "status")[-1])
    cases = {
        "intruder": ev.DropReason.UNKNOWN_NODE,
        "10.0.0.254": ev.DropReason.PING_OVER_UDP,
    }
    for src, reason in cases.items():
        msg = base.copy()
        msg.set("src", src)
        msg.remove("srcuuid")
        master.receive(msg, "eth1", cluster.now)
        cluster.flush("master")
        assert cluster.of_type("master", ev.Dropped)[-1] == ev.Dropped(
            reason, src, "type [status]", now=cluster.now
        )
    for name, value in (("ts", "0"), ("seq", "zz"), ("hg", "0x1"), ("ts", "-1")):
        msg = base.copy()
        msg.set(name, value)
        master.receive(msg, "eth1", cluster.now)
    msg = base.copy()
    msg.remove("seq")
    master.receive(msg, "eth1", cluster.now)
    cluster.flush("master")
    reasons = [d.reason for d in cluster.of_type("master", ev.Dropped)[2:]]
    assert reasons == [ev.DropReason.MALFORMED] * 5
    assert master.counters()["unknown_node"] == master.counters()["ping_over_udp"] == 1


def test_reqnodes_is_retried_every_second_until_repnodes_arrives() -> None:
    cluster = CoreClusterSim()
    cluster.drop = lambda src, dst, msg: msg.get("t") == "repnodes" and cluster.now < 2.5
    cluster.start_all()
    cluster.run_until(4.0)
    times = [
        round(t, 6)
        for t, _, m in cluster.received["slave"]
        if m.get("t") == "reqnodes" and m.get("src") == "master"
    ]
    assert times == [0.002, 1.002, 2.002]
    # The lost repnodes answers were seq'd: once the network lets them through, the
    # rexmit requests bring one back, and comm comes up before the next retry.
    first_answer = min(
        t
        for t, _, m in cluster.received["master"]
        if m.get("t") == "repnodes" and m.get("src") == "slave"
    )
    assert 2.5 < first_answer < 3.0
    assert [e.now for e in cluster.of_type("master", ev.CommUp)] == [first_answer]
    answers = cluster.sent_of_type("slave", "repnodes")
    assert {(m.get("nodelist"), m.get("delnodelist")) for m in answers} == {("master slave ", " ")}


def test_misuse_raises_local_protocol_error() -> None:
    cluster = CoreClusterSim()
    core = cluster.make_core("master")
    with pytest.raises(LocalProtocolError):
        core.receive(Message.of(("t", "status")), "eth1", 0.0)
    core.start(0.0)
    with pytest.raises(LocalProtocolError):
        core.start(0.0)
    with pytest.raises(LocalProtocolError):
        core.set_status("dead", 0.0)
    with pytest.raises(LocalProtocolError):
        core.send(Message.of(("a", "b")), 0.0)
    with pytest.raises(LocalProtocolError):
        cluster.names = ["slave"]
        cluster.make_core("master")


def test_our_own_echo_refreshes_our_link_and_is_not_delivered_twice() -> None:
    cluster = up_pair()
    send(cluster, "master", ("t", "resource"), ("n", "mine"))
    cluster.run_for(0.5)
    master = cluster.cores["master"]
    assert [e.msg.get("n") for e in delivered(cluster, "master", "master")] == ["mine"]
    assert master.counters()["own_echo"] > 0
    old_self = wire_roundtrip(cluster.sent["master"][0])
    old_self.set("hg", "1")
    master.receive(old_self, "eth1", cluster.now)
    cluster.flush("master")
    assert cluster.of_type("master", ev.Dropped)[-1].reason is ev.DropReason.REPLAY
