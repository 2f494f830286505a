"""Value syntax: Heartbeat times (glue cl_get_msec), booleans, atoi numbers, hosts, names.

Every row names the Heartbeat (or glue) code path it mirrors; the accepted forms
were also run through the real Heartbeat 3.0.6 (Debian's heartbeat package).
"""

from __future__ import annotations

import pytest

from hbnode.config.values import (
    ValueSyntaxError,
    atoi_oddity,
    c_atoi,
    msec_oddity,
    parse_bool,
    parse_host,
    parse_ifname,
    parse_int,
    parse_msec,
)

MSEC = "glue cl_misc.c: cl_get_msec"


@pytest.mark.parametrize(
    ("path", "text", "msec", "odd"),
    [
        (f"{MSEC}: bare number is seconds", "2", 2000, False),
        (f"{MSEC}: atof fraction", "1.5", 1500, False),
        (f"{MSEC}: atof fraction", ".5", 500, False),
        (f"{MSEC}: atof fraction", "5.", 5000, False),
        (f"{MSEC}: zero", "0", 0, False),
        (f'{MSEC}: strncasecmp(units, "ms", 2)', "500ms", 500, False),
        (f"{MSEC}: whitespace before the unit", "200 ms", 200, False),
        (f"{MSEC}: whitespace before the unit", "200\tms", 200, False),
        (f"{MSEC}: unit in any case", "1MS", 1, False),
        (f"{MSEC}: 'msec' starts with ms", "250msec", 250, False),
        (f"{MSEC}: us, rounded half up", "10us", 0, False),
        (f"{MSEC}: us, rounded half up", "1500us", 2, False),
        (f"{MSEC}: usec", "2500usec", 3, False),
        (f"{MSEC}: dret += 0.5", "0.0015", 2, False),
        (f"{MSEC}: leading and trailing blanks", "  3  ", 3000, False),
        ("config.c Directives[]: keepalive default", "1000ms", 1000, False),
        ("config.c Directives[]: deadtime default", "30000ms", 30000, False),
        (f"{MSEC}: only the first two letters of the unit", "500msfoo", 500, True),
        (f"{MSEC}: only the first two letters of the unit", "2mss", 2, True),
        (f"{MSEC}: only the first two letters of the unit", "5 ms x", 5, True),
        (f"{MSEC}: atof stops at the second dot", "1.2.3", 1200, True),
        (f"{MSEC}: atof of a lone dot is 0", ".", 0, True),
        (f"{MSEC}: strchr(NUMCHARS, EOS) lets the empty string through", "", 0, True),
    ],
)
def test_times(path: str, text: str, msec: int, odd: bool) -> None:
    assert parse_msec(text) == msec, path
    assert (msec_oddity(text) is not None) == odd, path


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (f"{MSEC}: a unit other than ms/us", "1 s"),
        (f"{MSEC}: a unit other than ms/us", "1sec"),
        (f"{MSEC}: a unit other than ms/us", "2s"),
        (f"{MSEC}: '-' is not in NUMCHARS", "-1"),
        (f"{MSEC}: 'e' is a unit, not an exponent", "1e3"),
        (f"{MSEC}: no number", "abc"),
        (f"{MSEC}: no number", "ms"),
    ],
)
def test_bad_times_name_the_value(path: str, text: str) -> None:
    with pytest.raises(ValueSyntaxError) as caught:
        parse_msec(text)
    message = f"invalid time {text!r} (want seconds, or a number followed by ms or us)"
    assert str(caught.value) == message, path


@pytest.mark.parametrize("text", ["true", "ON", "Yes", "y", "1"])
def test_true(text: str) -> None:
    assert parse_bool(text) is True  # glue cl_misc.c: cl_str_to_boolean, strcasecmp


@pytest.mark.parametrize("text", ["false", "Off", "NO", "n", "0"])
def test_false(text: str) -> None:
    assert parse_bool(text) is False


def test_bad_boolean() -> None:
    with pytest.raises(ValueSyntaxError, match=r"^invalid boolean 'maybe' "):
        parse_bool("maybe")


@pytest.mark.parametrize(
    ("text", "value", "odd"),
    [
        ("12", 12, False),
        ("12abc", 12, True),  # atoi stops at the first non-digit
        ("abc", 0, True),  # atoi of no digits is 0
        ("0x10", 0, True),  # atoi is decimal only
        (" +7", 7, True),
        ("-3", -3, True),
        ("", 0, True),
    ],
)
def test_c_atoi(text: str, value: int, odd: bool) -> None:
    assert c_atoi(text) == value
    assert (atoi_oddity(text) is not None) == odd


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
def test_strict_ints_for_hbnode_own_values(
    text: str, low: int, high: int | None, message: str
) -> None:
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
