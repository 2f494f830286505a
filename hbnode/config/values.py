"""Value syntax shared by the ha.d files: times, booleans, integers, names, addresses.

Each function raises :class:`ValueSyntaxError` with a message that names the bad
value; the file parsers add ``file:line`` and the directive.
"""

from __future__ import annotations

import ipaddress
import re

IFNAMSIZ = 16  # Linux: interface names are at most 15 bytes plus the NUL


class ValueSyntaxError(ValueError):
    """A value that does not have the expected form."""


# GLUE cl_misc.c cl_get_msec: digits and dots, optional whitespace, then an optional
# unit. Heartbeat only compares the unit's first letters ("msfoo" passes there);
# we accept exactly ms/msec/us/usec and refuse anything else after the number.
_TIME = re.compile(r"(\d+(?:\.\d*)?|\.\d+)[ \t\r\n\f]*(ms|msec|us|usec)?[ \t\r\n\f]*", re.I)
_TRUE = frozenset({"true", "on", "yes", "y", "1"})
_FALSE = frozenset({"false", "off", "no", "n", "0"})
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_DOTTED = re.compile(r"[0-9.]+")


def parse_msec(text: str) -> int:
    """A Heartbeat time value in milliseconds.

    A bare number (maybe fractional) is seconds: ``1.5`` → 1500. The suffix ``ms``
    means milliseconds and ``us``/``usec`` microseconds, maybe after whitespace
    (``200 ms``). The result is rounded half up, as ``cl_get_msec`` does.
    """
    match = _TIME.fullmatch(text.lstrip(" \t\r\n\f"))
    if match is None:
        raise ValueSyntaxError(
            f"invalid time {text!r} (want seconds, or a number followed by ms or us)"
        )
    number, unit = match.group(1), (match.group(2) or "").lower()
    if unit.startswith("m"):
        scaled = float(number)
    elif unit.startswith("u"):
        scaled = float(number) / 1000
    else:
        scaled = float(number) * 1000
    return int(scaled + 0.5)


def parse_bool(text: str) -> bool:
    """GLUE ``cl_str_to_boolean``: true/on/yes/y/1 or false/off/no/n/0, any case."""
    folded = text.lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueSyntaxError(f"invalid boolean {text!r} (want on/off, yes/no, true/false or 1/0)")


def parse_int(text: str, low: int, high: int | None = None) -> int:
    """A decimal integer in ``low..high``.

    Heartbeat uses ``atoi`` (``"12abc"`` is 12, ``"abc"`` is 0); we refuse both,
    since a typo would otherwise silently become another number.
    """
    if not text.isascii() or not text.isdigit():
        raise ValueSyntaxError(f"invalid number {text!r}")
    value = int(text)
    if value < low or (high is not None and value > high):
        limit = f"at least {low}" if high is None else f"{low}..{high}"
        raise ValueSyntaxError(f"{text!r} is out of range (want {limit})")
    return value


def is_ipv4(text: str) -> bool:
    """True for a dotted-quad IPv4 address (no leading zeros, no shorthand)."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def parse_host(text: str) -> str:
    """An IPv4 address or a host name, as written (names are resolved later, not here).

    Something made only of digits and dots must be a valid address: ``10.0.0.300``
    is a typo, not a host name.
    """
    if _DOTTED.fullmatch(text):
        if not is_ipv4(text):
            raise ValueSyntaxError(f"bad IPv4 address {text!r}")
        return text
    if len(text) > 253 or not _HOSTNAME.fullmatch(text):
        raise ValueSyntaxError(f"bad address or host name {text!r}")
    return text


def parse_ifname(text: str) -> str:
    """A network interface name as Linux allows it (1..15 bytes, no '/' or ':')."""
    if not text or len(text.encode()) >= IFNAMSIZ or any(c in text for c in "/: \t"):
        raise ValueSyntaxError(f"bad interface name {text!r}")
    if text in (".", ".."):
        raise ValueSyntaxError(f"bad interface name {text!r}")
    return text
