"""The IPaddr agent against a fake netlink and a fake packet socket (no root needed)."""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from hbnode.config.haresources import parse_resource
from hbnode.resources.base import ResourceStatus
from hbnode.resources.errors import GarpError, InterfaceError, ResourceError
from hbnode.resources.ipaddr import GarpSettings, IPAddrAgent
from hbnode.resources.rtnl import NetlinkError

MAC = bytes.fromhex("020000000001")


class Msg(dict[str, Any]):
    """An RtNetlink (or pyroute2) message: header fields by key, attributes by get_attr."""

    def __init__(self, attrs: dict[str, Any], **header: Any) -> None:
        super().__init__(header)
        self.attrs = attrs

    def get_attr(self, name: str) -> Any:
        return self.attrs.get(name)


@dataclass
class FakeNetlink:
    links: dict[str, list[int]] = field(default_factory=lambda: {"lo": [1, 0x9], "eth0": [2, 0]})
    addrs: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    race: int | None = None  # an errno the next addr() call fails with

    def __call__(self) -> FakeNetlink:
        return self

    def close(self) -> None:
        pass

    def get_links(self) -> list[Msg]:
        return [
            Msg({"IFLA_IFNAME": name}, index=index, flags=flags)
            for name, (index, flags) in self.links.items()
        ]

    def get_addr(self, family: int) -> list[Msg]:
        return [
            Msg(
                {
                    "IFA_ADDRESS": a["address"],
                    "IFA_LABEL": a.get("label"),
                    "IFA_BROADCAST": a.get("broadcast"),
                },
                index=a["index"],
                prefixlen=a["prefixlen"],
            )
            for a in self.addrs
        ]

    def addr(self, command: str, **kwargs: Any) -> None:
        self.calls.append(("addr", command, kwargs))
        if self.race is not None:
            code, self.race = self.race, None
            raise NetlinkError(code)
        if command == "add":
            self.addrs.append(kwargs)
        elif command == "del":
            self.addrs = [a for a in self.addrs if a["address"] != kwargs["address"]]

    def link(self, command: str, **kwargs: Any) -> None:
        self.calls.append(("link", command, kwargs))
        for entry in self.links.values():
            if entry[0] == kwargs["index"] and kwargs.get("state") == "up":
                entry[1] |= 0x1


class FakeSocket:
    mac = MAC
    sent: ClassVar[list[tuple[str, bytes]]] = []
    fail = False

    def __init__(self, ifname: str) -> None:
        if FakeSocket.fail:
            raise GarpError(f'Interface "{ifname}" is not ARPable')
        self.ifname = ifname

    def send(self, frame: bytes) -> None:
        FakeSocket.sent.append((self.ifname, frame))

    def close(self) -> None:
        pass


@pytest.fixture
def net() -> FakeNetlink:
    FakeSocket.sent, FakeSocket.fail = [], False
    return FakeNetlink(addrs=[{"index": 2, "address": "192.168.0.10", "prefixlen": 24}])


def make(token: str, net: FakeNetlink, count: int = 2) -> IPAddrAgent:
    settings = GarpSettings(count=count, interval=0.0, background=False)
    return IPAddrAgent(
        parse_resource(token),
        netlink=net,
        garp_settings=settings,
        garp_socket=FakeSocket,  # type: ignore[arg-type]
    )


class Events(list[tuple[str, dict[str, Any]]]):
    def __call__(self, step: str, fields: dict[str, Any]) -> None:
        self.append((step, fields))


def test_start_adds_alias_brings_link_up_and_arps(net: FakeNetlink) -> None:
    events = Events()
    agent = make("192.168.0.38", net)
    assert agent.status(1.0) is ResourceStatus.STOPPED
    agent.start(events, 1.0)
    assert net.calls[0] == (
        "addr",
        "add",
        {
            "index": 2,
            "address": "192.168.0.38",
            "prefixlen": 24,
            "label": "eth0:0",
            "broadcast": "192.168.0.255",
        },
    )
    assert net.calls[1] == ("link", "set", {"index": 2, "state": "up"})  # as ifconfig does
    assert agent.status(1.0) is ResourceStatus.RUNNING
    assert [step for step, _ in events] == ["VIP added", "GARP sent"]
    assert events[1][1]["frames"] == 2 and events[1][1]["mac"] == "02:00:00:00:00:01"
    assert [ifname for ifname, _ in FakeSocket.sent] == ["eth0", "eth0"]


def test_start_when_present_adds_nothing_but_still_arps(net: FakeNetlink) -> None:
    net.addrs.append({"index": 2, "address": "192.168.0.38", "prefixlen": 24, "label": "eth0:3"})
    events = Events()
    make("192.168.0.38/24/eth0", net).start(events, 1.0)
    assert net.calls == []
    assert [step for step, _ in events] == ["VIP already present", "GARP sent"]
    assert events[0][1]["label"] == "eth0:3" and len(FakeSocket.sent) == 2


def test_start_survives_an_add_race(net: FakeNetlink) -> None:
    net.race = errno.EEXIST
    make("192.168.0.38", net).start(Events(), 1.0)


def test_start_reports_other_netlink_errors(net: FakeNetlink) -> None:
    net.race = errno.EPERM
    with pytest.raises(ResourceError, match=r"cannot add 192\.168\.0\.38 to eth0:0"):
        make("192.168.0.38", net).start(Events(), 1.0)


def test_start_missing_interface(net: FakeNetlink) -> None:
    with pytest.raises(InterfaceError, match="Interface eth7 does not exist"):
        make("192.168.0.38/24/eth7", net).start(Events(), 1.0)


def test_garp_failure_does_not_fail_the_start(net: FakeNetlink) -> None:
    FakeSocket.fail = True
    events = Events()
    make("192.168.0.38", net).start(events, 1.0)
    assert [step for step, _ in events] == ["VIP added", "GARP failed"]
    assert "not ARPable" in events[1][1]["error"]


def test_ipaddr2_uses_the_written_label_and_sends_five(net: FakeNetlink) -> None:
    agent = IPAddrAgent(parse_resource("IPaddr2::192.168.0.38/24/eth0:web"), netlink=net)
    assert agent.garp_settings.count == 5
    assert make("IPaddr2::192.168.0.38/24/eth0:web", net).garp_settings.count == 2
    make("IPaddr2::192.168.0.38/24/eth0:web", net).start(Events(), 1.0)
    assert net.calls[0][2]["label"] == "eth0:web"


def test_ipaddr_default_is_ten_one_second_apart(net: FakeNetlink) -> None:
    agent = IPAddrAgent(parse_resource("192.168.0.38"), netlink=net)
    assert (agent.garp_settings.count, agent.garp_settings.interval) == (10, 1.0)


def test_stop_removes_and_absent_is_success(net: FakeNetlink) -> None:
    agent = make("192.168.0.38", net)
    agent.start(Events(), 1.0)
    events = Events()
    agent.stop(events, 1.0)
    assert net.calls[-1] == (
        "addr",
        "del",
        {"index": 2, "address": "192.168.0.38", "prefixlen": 24},
    )
    agent.stop(events, 1.0)
    assert [step for step, _ in events] == ["VIP removed", "VIP already absent"]
    assert agent.status(1.0) is ResourceStatus.STOPPED


def test_stop_survives_a_delete_race(net: FakeNetlink) -> None:
    agent = make("192.168.0.38", net)
    agent.start(Events(), 1.0)
    net.race = errno.EADDRNOTAVAIL
    agent.stop(Events(), 1.0)


def test_announce_needs_the_vip(net: FakeNetlink) -> None:
    with pytest.raises(ResourceError, match="not on this host"):
        make("192.168.0.38", net).announce(Events())
