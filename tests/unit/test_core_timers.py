"""Timers from ha.cf, the small parsers of fields.py, and the event records."""

from __future__ import annotations

import dataclasses

import pytest

from hbnode.config import HaCf, parse_hacf_text
from hbnode.config.hacf_checks import default_initdead
from hbnode.core import events as ev
from hbnode.core import fields as f
from hbnode.core.timers import Timers
from hbnode.message import Message

HACF = """\
keepalive 500ms
deadtime 6
initdead 12
udpport 694
bcast eth1
ping 10.0.0.254
ping_group routers 10.0.0.1 10.0.0.2
hopfudge 2
max_rexmit_delay 400
node master slave
"""
DEFAULTS = Timers(
    keepalive=1.0, deadtime=30.0, warntime=15.0, initdead=30.0, deadping=30.0,
    max_rexmit_delay=0.25, hopfudge=1,
)  # fmt: skip


def test_timers_from_hacf_in_seconds() -> None:
    timers = Timers.from_hacf(parse_hacf_text(HACF, "ha.cf", "master"))
    assert timers == Timers(
        keepalive=0.5,
        deadtime=6.0,
        warntime=3.0,  # deadtime / 2
        initdead=12.0,
        deadping=6.0,  # deadtime
        max_rexmit_delay=0.4,
        hopfudge=2,
    )
    assert timers.deadtime_ms == 6000


def test_timers_from_defaults() -> None:
    timers = Timers.from_hacf(parse_hacf_text("bcast eth1\nnode master\n", "ha.cf", "master"))
    assert (timers.keepalive, timers.deadtime, timers.warntime) == (1.0, 30.0, 15.0)
    assert (timers.initdead, timers.deadping, timers.max_rexmit_delay) == (30.0, 30.0, 0.25)


def test_timers_take_only_resolved_values() -> None:
    """Deriving warntime, initdead and deadping is the config layer's job, done once:
    an ha.cf that has not been through it (warntime_ms 0) is refused, not guessed at."""
    with pytest.raises(ValueError):
        Timers.from_hacf(HaCf(path="ha.cf"))
    resolved = parse_hacf_text("bcast eth1\nnode master\ndeadtime 5\n", "ha.cf", "master")
    assert Timers.from_hacf(resolved).initdead == default_initdead(5000) / 1000 == 12.0


@pytest.mark.parametrize(
    "changes", [{"keepalive": 0.0}, {"deadtime": -1.0}, {"max_rexmit_delay": 0.01}]
)
def test_timers_reject_nonsense(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(DEFAULTS, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "value"),
    [("1f", 31), ("6b0638c4", 0x6B0638C4), ("0", 0), ("ABC", 0xABC), (None, None), ("", None),
     ("0x1f", None), (" 1f", None), ("+1", None), ("1_0", None), ("g", None), ("1" * 17, None)],
)  # fmt: skip
def test_parse_hex(text: str | None, value: int | None) -> None:
    assert f.parse_hex(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), ("0", 0), ("-1", None), ("1e3", None), ("٣", None), (None, None), ("", None)],
)
def test_parse_decimal(text: str | None, value: int | None) -> None:
    assert f.parse_decimal(text) == value


def test_stamp_replaces_caller_fields_in_place_and_drops_seq_and_ld_for_ns() -> None:
    msg = Message.of(("t", "NS_ackmsg"), ("src", "liar"), ("seq", "9"), ("dest", "x"))
    control = f.Stamp(src="me", srcuuid=b"u" * 16, seq=None, hg=10, ts=11, ld=None, ttl=3)
    f.stamp(msg, control)
    assert [(x.name, x.value) for x in msg] == [
        ("t", "NS_ackmsg"),
        ("src", "me"),
        ("dest", "x"),
        ("srcuuid", b"u" * 16),
        ("hg", "a"),
        ("ts", "b"),
        ("ttl", "3"),
    ]


def test_repnodes_lists_every_node_followed_by_a_space() -> None:
    msg = f.repnodes_message("master", ["master", "slave"])
    assert [(x.name, x.value) for x in msg] == [
        ("dest", "master"),
        ("t", "repnodes"),
        ("nodelist", "master slave "),
        ("delnodelist", " "),
    ]


def test_events_are_frozen_and_stamped() -> None:
    event = ev.NodeStatusChanged("slave", "up", "dead", now=1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.new = "up"  # type: ignore[misc]
    assert event.now == 1.5
    assert str(ev.DropReason.UNKNOWN_NODE) == "unknown node"
    assert "replay" in str(ev.DropReason.REPLAY)
