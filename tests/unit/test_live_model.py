"""The live model's pure parts: log lines, node views, changes, probes, layout, actions."""

from __future__ import annotations

import socket

import pytest

from lab.errors import LabError
from lab.live import actions
from lab.live.build import Facts, changes, node_view
from lab.live.layout import layout
from lab.live.logstate import NodeLog, step_of_event, step_of_line
from lab.live.model import LinkView, NodeView, Snapshot, VipView, probe_code
from lab.live.netview import NetState, if_addresses, if_flags
from lab.live.timestamps import line_time
from lab.live.wire import arp_request
from lab.topology import REFERENCE

CLUSTER = frozenset({"master", "slave"})


def test_node_log_follows_heartbeat_lines() -> None:
    log = NodeLog(CLUSTER)
    for line in (
        "Nov 30 14:57:06 master heartbeat: [126]: info: Configuration validated. "
        "Starting heartbeat 3.0.6",
        "Nov 30 14:57:06 master heartbeat: [127]: info: Local status now set to: 'up'",
        "Nov 30 14:57:06 master heartbeat: [127]: info: Link slave:eth1 up.",
        "Nov 30 14:57:07 master heartbeat: [127]: info: Link 172.16.254.1:172.16.254.1 up.",
        "Nov 30 14:57:07 master heartbeat: [127]: info: Status update for node 172.16.254.1: "
        "status ping",
        "Nov 30 14:57:07 master heartbeat: [127]: info: Local status now set to: 'active'",
        "Nov 30 14:57:07 master heartbeat: [127]: info: Status update for node slave: "
        "status active",
    ):
        log.feed(line)
    assert (log.own, log.peers, log.links) == ("active", {"slave": "active"}, {"slave:eth1": "up"})
    log.feed("Nov 30 14:58:00 master heartbeat: [127]: WARN: node slave: is dead")
    log.feed("Nov 30 14:58:00 master heartbeat: [127]: info: Link slave:eth1 dead.")
    assert (log.peers, log.links) == ({"slave": "dead"}, {"slave:eth1": "dead"})
    log.feed("Nov 30 14:59:00 master heartbeat: [127]: info: master Heartbeat shutdown complete.")
    assert (log.own, log.peers, log.links) == ("stopped", {}, {})


def test_steps_from_either_log() -> None:
    assert step_of_line("x heartbeat: WARN: node master: is dead") == "peer_dead master"
    assert step_of_line("x info: Link master:eth1 dead.", CLUSTER) == "link master:eth1 dead"
    assert step_of_line("x info: Link 172.16.254.1:172.16.254.1 up.", CLUSTER) is None
    assert step_of_line("x info: Status update for node slave: status active") is None
    event = {"ts": 1.0, "step": "peer_dead", "node": "master", "extra": [1]}
    assert step_of_event(event, CLUSTER) == "peer_dead node=master"
    assert step_of_event({"ts": 1.0, "step": "ping_node", "node": "x"}, CLUSTER) is None
    ping_link = {"ts": 1.0, "step": "link", "node": "172.16.254.1", "status": "up"}
    assert step_of_event(ping_link, CLUSTER) is None


def test_line_time_reads_both_stamp_forms() -> None:
    now = 1796050626.0  # 2026-11-30
    syslog = line_time("Nov 30 14:57:06 master heartbeat: [127]: info: x", now)
    harc = line_time("2026/11/30_14:57:06  harc(default)[138]:    info: x", now)
    assert syslog == harc
    assert line_time("garbage", now) == now


def facts(**kw: object) -> Facts:
    base: dict[str, object] = {
        "name": "master",
        "role": "node",
        "on": True,
        "impl": "hbnode",
        "interfaces": ["eth0", "eth1"],
    }
    base.update(kw)
    return Facts(**base)  # type: ignore[arg-type]


def test_node_view_tells_crashed_from_stopped() -> None:
    log = NodeLog(CLUSTER, own="active", peers={"slave": "active"}, links={"slave:eth1": "up"})
    net = NetState({"eth0": True, "eth1": False}, {"192.168.0.38"}, {"eth1": "netem loss 20%"})
    running = node_view(
        facts(log=log, net=net, daemon_running=True, nginx_running=True, heard={"eth1": 9.5}),
        "192.168.0.38",
        ["eth1"],
        10.0,
    )
    assert (running.daemon, running.status, running.vip, running.nginx) == (
        "running",
        "active",
        True,
        True,
    )
    assert running.peers == {"slave": "active"}
    assert running.links == [
        LinkView("eth0", "up"),
        LinkView("eth1", "down", 0.5, ["down", "netem loss 20%"], "up"),
    ]
    crashed = node_view(facts(log=log, net=net), "192.168.0.38", ["eth1"], 10.0)
    assert (crashed.daemon, crashed.status, crashed.peers) == ("crashed", "crashed", {})
    never = node_view(facts(log=NodeLog(CLUSTER)), "192.168.0.38", ["eth1"], 10.0)
    assert never.daemon == "stopped"
    off = node_view(facts(on=False), "192.168.0.38", ["eth1"], 10.0)
    assert (off.power, off.daemon, off.nginx, off.links[0].state) == ("off", "off", False, "off")
    client = node_view(facts(name="client", role="client", impl=None), "x", ["eth1"], 1.0)
    assert (client.daemon, client.status, client.nginx) == (None, None, None)


def test_changes_name_power_cables_and_faults() -> None:
    def view(power: str, eth1: str, faults: list[str]) -> NodeView:
        return NodeView("master", "node", power, links=[LinkView("eth1", eth1, faults=faults)])

    assert changes([view("on", "up", [])], [view("off", "off", [])]) == ["master powered off"]
    assert changes([view("on", "up", [])], [view("on", "down", ["down"])]) == [
        "master:eth1 cable down"
    ]
    assert changes([view("on", "up", [])], [view("on", "up", ["loss 30%"])]) == [
        "master:eth1 loss 30%"
    ]
    assert changes([view("on", "up", ["loss 30%"])], [view("on", "up", [])]) == [
        "master:eth1 no fault"
    ]
    assert changes([view("on", "up", [])], [view("on", "up", [])]) == []


def test_snapshot_json_and_probe_codes() -> None:
    vip = VipView("192.168.0.38", "eth0:0", ["master", "slave"], ["master"])
    snap = Snapshot(1.0, 1, "up", "netns", [], vip)
    data = snap.to_json()
    assert data["vip"]["split"] is True
    assert VipView("x", "y", ["master"], ["master"]).split is False
    assert VipView("x", "y", ["master"], ["a", "b"]).split is True
    nodes = ["master", "slave"]
    codes = [probe_code(s, nodes) for s in ("master", "slave", None, "other")]
    assert codes == ["0", "1", ".", "."]


def test_layout_places_every_host_inside_the_box() -> None:
    drawing = layout(REFERENCE)
    hosts = {h["name"]: h for h in drawing["hosts"]}
    assert set(hosts) == {"master", "slave", "gw", "client"}
    assert hosts["master"]["y"] < hosts["slave"]["y"]
    assert hosts["client"]["x"] < hosts["gw"]["x"]
    for item in [*drawing["hosts"], *drawing["segments"]]:
        assert 0 < item["x"] < drawing["width"] and 0 < item["y"] < drawing["height"]
    assert drawing["heartbeat_ifaces"] == ["eth1"]


def test_arp_request_bytes() -> None:
    frame = arp_request("02:4c:61:62:00:64", "192.168.0.100", "192.168.0.38")
    assert len(frame) == 60
    assert frame[:6] == b"\xff" * 6 and frame[12:14] == b"\x08\x06"
    assert frame[20:22] == b"\x00\x01"  # a request
    assert frame[28:32] == socket.inet_aton("192.168.0.100")
    assert frame[38:42] == socket.inet_aton("192.168.0.38")


def test_ioctls_read_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        assert if_flags(sock, "lo") & 1
        assert "127.0.0.1" in if_addresses(sock)
        with pytest.raises(OSError):
            if_flags(sock, "no-such-if0")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"kind": "format", "node": "master"}, "unknown action"),
        ({"kind": "link", "node": "master", "iface": "eth1", "arg": "sideways"}, "up or down"),
        ({"kind": "netem", "node": "master", "iface": "eth1", "arg": "lots"}, "loss"),
        ({"kind": "link", "node": "master", "arg": "down"}, "interface"),
        ("poweroff", "JSON object"),
    ],
)
def test_actions_refuse_what_the_lab_does_not_do(data: object, error: str) -> None:
    with pytest.raises(LabError, match=error):
        actions.parse(data)


def test_actions_describe_themselves() -> None:
    loss = actions.parse({"kind": "netem", "node": "slave", "iface": "eth1", "arg": "30%"})
    assert loss.describe() == "netem slave eth1 loss 30%"
    assert actions.parse({"kind": "poweroff", "node": "master"}).describe() == "poweroff master"
