"""The lab's pure parts: topology data, ha.d rendering, impl specs, probe windows."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from scapy.layers.l2 import ARP, Ether

from lab.hafiles import (
    ProfileError,
    cluster_timers,
    parse_overrides,
    render_hacf,
    render_haresources,
    timers_for,
)
from lab.impls import Impl, ImplError, parse_impls
from lab.probes import ArpWatch, windows_of
from lab.topology import REFERENCE

NODES = ["master", "slave"]


def test_reference_topology_matches_the_tutorial() -> None:
    master, slave, gw = REFERENCE.host("master"), REFERENCE.host("slave"), REFERENCE.host("gw")
    assert master and slave and gw
    assert str(master.address_on("eth0")) == "192.168.0.18/24"
    assert str(master.address_on("eth1")) == "172.16.254.18/24"
    assert str(slave.address_on("eth0")) == "192.168.0.28/24"
    assert str(slave.address_on("eth1")) == "172.16.254.28/24"
    assert str(gw.address_on("eth1")) == "172.16.254.1/24"
    assert str(REFERENCE.vip) == "192.168.0.38/24" and REFERENCE.vip_label == "eth0:0"
    assert REFERENCE.peer_of("master").name == "slave"


def test_macs_are_stable_and_distinct() -> None:
    macs = [i.mac for h in REFERENCE.hosts for i in h.interfaces]
    assert len(set(macs)) == len(macs)
    assert REFERENCE.host("master").interfaces[0].mac == "02:4c:61:62:00:12"  # type: ignore[union-attr]


def test_hacf_has_the_tutorial_lines_and_the_peer() -> None:
    text = render_hacf(REFERENCE, REFERENCE.host("master"), "seed")  # type: ignore[arg-type]
    lines = text.splitlines()
    for expected in (
        "debugfile /var/log/ha-debug",
        "logfile /var/log/ha-log",
        "logfacility local0",
        "keepalive 2",
        "deadtime 30",
        "warntime 10",
        "initdead 60",
        "udpport 694",
        "ucast eth1 172.16.254.28",
        "auto_failback on",
        "node master",
        "node slave",
        "ping 172.16.254.1",
        "respawn hacluster /usr/lib64/heartbeat/ipfail",
    ):
        assert expected in lines
    assert lines.index("udpport 694") < lines.index("ucast eth1 172.16.254.28")


def test_overrides_replace_add_and_remove() -> None:
    text = render_hacf(
        REFERENCE,
        REFERENCE.host("slave"),
        "fast",  # type: ignore[arg-type]
        parse_overrides(["auto_failback=off", "ping=", "debug=1"]),
    )
    lines = text.splitlines()
    assert "auto_failback off" in lines and "debug 1" in lines
    assert not any(line.startswith("ping") for line in lines)
    assert "ucast eth1 172.16.254.18" in lines


def test_fast_profile_obeys_heartbeats_rules() -> None:
    t = timers_for("fast")
    assert t.seconds("keepalive") < 1
    assert t.seconds("deadtime") > 2 * t.seconds("keepalive")
    assert t.seconds("initdead") >= t.seconds("deadtime")
    with pytest.raises(ProfileError):
        timers_for("turbo")


def test_haresources_is_the_tutorials() -> None:
    assert render_haresources(REFERENCE) == "master 192.168.0.38/24/eth0:0 nginx\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, {"master": Impl.HBNODE, "slave": Impl.HBNODE}),
        ("hbnode", {"master": Impl.HBNODE, "slave": Impl.HBNODE}),
        ("master=heartbeat,slave=hbnode", {"master": Impl.HEARTBEAT, "slave": Impl.HBNODE}),
    ],
)
def test_parse_impls(text: str | None, expected: dict[str, Impl]) -> None:
    assert parse_impls(text, NODES) == expected


@pytest.mark.parametrize("text", ["pacemaker", "gw=hbnode", "master=nope"])
def test_parse_impls_rejects(text: str) -> None:
    with pytest.raises(ImplError):
        parse_impls(text, NODES)


def test_overrides_need_equals() -> None:
    with pytest.raises(ProfileError):
        parse_overrides(["keepalive"])


def test_windows_of_counts_two_and_none() -> None:
    a, b = frozenset({"aa"}), frozenset({"bb"})
    samples = [
        (0.0, a),
        (0.1, a | b),
        (0.2, a | b),
        (0.3, frozenset()),
        (0.4, frozenset()),
        (0.5, b),
    ]
    w = windows_of(samples, 0.1)
    assert w.two_holders == pytest.approx(0.2)
    assert w.no_holder == pytest.approx(0.2)
    assert w.longest_no_holder == pytest.approx(0.2)
    assert w.holders_seen == [a, a | b, b]


def test_only_a_reply_to_the_clients_own_who_has_names_a_holder() -> None:
    """A gratuitous ARP from the new holder is no answer: in the same probe window as
    the old holder's last reply it would read as two holders."""
    client, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with client, peer:
        watch = ArpWatch(client, "02:00:00:00:00:64", "192.168.0.38", "192.168.0.100")
    reply = ARP(op=2, psrc="192.168.0.38", pdst="192.168.0.100", hwsrc="02:00:00:00:00:28")
    gratuitous = ARP(op=2, psrc="192.168.0.38", pdst="192.168.0.38", hwsrc="02:00:00:00:00:28")
    other = ARP(op=2, psrc="192.168.0.18", pdst="192.168.0.100")
    request = ARP(op=1, psrc="192.168.0.38", pdst="192.168.0.100")
    assert watch.answers(reply)
    assert not watch.answers(gratuitous)
    assert not watch.answers(other)
    assert not watch.answers(request)


def test_a_late_read_reply_counts_for_the_who_has_it_answered() -> None:
    """The prober ran late and read the old holder's reply only after its window: the
    reply belongs to that window, not to the next one, where the new holder answers."""
    client, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    # a socket pair stands in for the client's eth0
    watch = ArpWatch(client, "02:00:00:00:00:64", "192.168.0.38", "192.168.0.100", 0.05)

    def reply(mac: str) -> bytes:
        arp = ARP(op=2, psrc=watch.vip, pdst=watch.client_ip, hwsrc=mac)
        return bytes(Ether(src=mac, dst=watch.mac) / arp)

    with client, peer:
        watch.probe_once(time.monotonic())  # who-has 1: its answer is not read in time
        peer.recv(2048)
        peer.send(reply("02:00:00:00:00:1c"))  # the old holder's answer to who-has 1
        watch.probe_once(time.monotonic())  # who-has 2: only the new holder answers it
        peer.recv(2048)
        peer.send(reply("02:00:00:00:00:12"))
        watch.probe_once(time.monotonic())
    assert [set(s.macs) for s in watch.samples] == [
        {"02:00:00:00:00:1c"},
        {"02:00:00:00:00:12"},
        set(),
    ]


def test_a_config_with_several_problems_is_one_line(tmp_path: Path) -> None:
    """hblab's errors are one line: the first problem, and the command that lists all."""
    (tmp_path / "ha.cf").write_text("keepalive 2\ndeadtime x\nwarntime y\nbogus 1\nnode master\n")
    with pytest.raises(ProfileError) as caught:
        cluster_timers(REFERENCE, "fast", {}, tmp_path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("ha.cf of master:2: ")
    assert text.endswith(f"(3 more: hbnode --ha-d {tmp_path} check --files-only)")


def test_a_config_with_one_problem_is_that_problem(tmp_path: Path) -> None:
    (tmp_path / "ha.cf").write_text("keepalive 2\nbogus 1\nnode master\nucast eth1 1.2.3.4\n")
    with pytest.raises(ProfileError) as caught:
        cluster_timers(REFERENCE, "fast", {}, tmp_path)
    assert str(caught.value).startswith("ha.cf of master:2: ") and "more" not in str(caught.value)


def test_link_states_tell_a_pulled_cable_from_an_interface_set_down() -> None:
    from lab.wiring import IFF_LOWER_UP, IFF_UP, _state

    assert _state(IFF_UP | IFF_LOWER_UP) == "up"
    assert _state(IFF_UP) == "no-carrier"  # hblab link … down: the far end is down
    assert _state(0) == "down"
