"""Value syntax: Heartbeat times (cl_get_msec), booleans, numbers, hosts, interface names."""

from __future__ import annotations

import pytest

from hbnode.config.values import (
    ValueSyntaxError,
    parse_bool,
    parse_host,
    parse_ifname,
    parse_int,
    parse_msec,
)


@pytest.mark.parametrize(
    ("text", "msec"),
    [
        ("2", 2000),
        ("1.5", 1500),
        (".5", 500),
        ("5.", 5000),
        ("0", 0),
        ("500ms", 500),
        ("200 ms", 200),
        ("200\tms", 200),
        ("1MS", 1),
        ("250msec", 250),
        ("10us", 0),  # 0.01 ms rounds to 0, as cl_get_msec does
        ("1500us", 2),  # 1.5 ms rounds half up
        ("2500usec", 3),
        ("0.0015", 2),
        ("  3  ", 3000),
        ("1000ms", 1000),  # Heartbeat's own default strings parse
        ("30000ms", 30000),
    ],
)
def test_times(text: str, msec: int) -> None:
    assert parse_msec(text) == msec


@pytest.mark.parametrize("text", ["", "ms", "1.2.3", "1 s", "1sec", "-1", "1e3", "abc", "5 ms x"])
def test_bad_times_name_the_value(text: str) -> None:
    with pytest.raises(ValueSyntaxError) as caught:
        parse_msec(text)
    assert str(caught.value) == (
        f"invalid time {text!r} (want seconds, or a number followed by ms or us)"
    )


@pytest.mark.parametrize("text", ["true", "ON", "Yes", "y", "1"])
def test_true(text: str) -> None:
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["false", "Off", "NO", "n", "0"])
def test_false(text: str) -> None:
    assert parse_bool(text) is False


def test_bad_boolean() -> None:
    with pytest.raises(ValueSyntaxError, match=r"^invalid boolean 'maybe' "):
        parse_bool("maybe")


@pytest.mark.parametrize(
    ("text", "low", "high", "message"),
    [
        ("12abc", 0, None, "invalid number '12abc'"),
        ("-1", 0, None, "invalid number '-1'"),
        ("", 0, None, "invalid number ''"),
        ("256", 0, 255, "'256' is out of range (want 0..255)"),
        ("0", 1, None, "'0' is out of range (want at least 1)"),
    ],
)
def test_bad_ints(text: str, low: int, high: int | None, message: str) -> None:
    with pytest.raises(ValueSyntaxError) as caught:
        parse_int(text, low, high)
    assert str(caught.value) == message


def test_hosts() -> None:
    assert parse_host("172.16.254.28") == "172.16.254.28"
    assert parse_host("slave.example.com") == "slave.example.com"
    for bad in ("10.0.0.300", "10.0.0", "bad host", "-x"):
        with pytest.raises(ValueSyntaxError):
            parse_host(bad)


def test_interface_names() -> None:
    assert parse_ifname("eth1") == "eth1"
    for bad in ("", "eth0:0", "a/b", "x" * 16, ".."):
        with pytest.raises(ValueSyntaxError):
            parse_ifname(bad)
