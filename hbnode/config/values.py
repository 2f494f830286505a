"""Value syntax shared by the ha.d files: times, booleans, integers, names, addresses.

Heartbeat reads numbers with C's ``atoi``/``atof`` and times with glue's
``cl_get_msec``, which take the longest valid prefix and ignore the rest. We
accept exactly what they accept, with the value they give, and offer a note
(:func:`msec_oddity`, :func:`atoi_oddity`) so the parser can warn when the text
does not say what Heartbeat reads from it (``keepalive 2mss`` is 2 ms there).

Each function raises :class:`ValueSyntaxError` with a message that names the bad
value; the file parsers add ``file:line`` and the directive.
"""

from __future__ import annotations

import ipaddress
import re

IFNAMSIZ = 16  # Linux: interface names are at most 15 bytes plus the NUL
C_WHITESPACE = " \t\n\r\f"  # heartbeat.h WHITESPACE, also glue cl_misc.c's
_NUMCHARS = "0123456789."  # cl_misc.c NUMCHARS: what cl_get_msec takes as the number
_TRUE = frozenset({"true", "on", "yes", "y", "1"})
_FALSE = frozenset({"false", "off", "no", "n", "0"})
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_DOTTED = re.compile(r"[0-9.]+")
_ATOF = re.compile(r"\d*\.?\d*")  # what atof() reads from a run of digits and dots
_ATOI = re.compile(r"[ \t\n\r\f\v]*([+-]?\d+)")
_PLAIN_UNITS = frozenset({"", "ms", "msec", "us", "usec"})


class ValueSyntaxError(ValueError):
    """A value that does not have the expected form."""


def _split_msec(text: str) -> tuple[str, str]:
    """(number, unit) as cl_get_msec cuts them: digits-and-dots, blanks, the rest."""
    body = text.lstrip(C_WHITESPACE)
    number = body[: len(body) - len(body.lstrip(_NUMCHARS))]
    return number, body[len(number) :].lstrip(C_WHITESPACE)


def parse_msec(text: str) -> int:
    """A Heartbeat time value in milliseconds, exactly as glue's ``cl_get_msec`` reads it.

    The number is the run of digits and dots at the start, read by ``atof``
    (``1.5`` → 1.5 s, ``1.2.3`` → 1.2 s). Then, after optional blanks, a unit
    whose first two letters are ``ms`` (milliseconds) or ``us`` (microseconds),
    in any case; nothing at all means seconds. The result is rounded half up.
    """
    number, unit = _split_msec(text)
    folded = unit[:2].lower()
    starts_ok = not text.lstrip(C_WHITESPACE) or number  # cl_get_msec lets "" through as 0
    if not starts_ok or (folded not in ("ms", "us") and unit[:1] not in ("", "\n", "\r")):
        raise ValueSyntaxError(
            f"invalid time {text!r} (want seconds, or a number followed by ms or us)"
        )
    match = _ATOF.match(number)
    digits = match.group() if match else ""
    seconds_or_unit = float(digits) if digits.strip(".") else 0.0
    if folded == "ms":
        msec = seconds_or_unit
    elif folded == "us":
        msec = seconds_or_unit / 1000
    else:
        msec = seconds_or_unit * 1000
    return int(msec + 0.5)


def msec_oddity(text: str) -> str | None:
    """Why ``text`` does not plainly say the time Heartbeat reads from it, if it does not."""
    number, unit = _split_msec(text)
    value = parse_msec(text)
    if unit.lower() not in _PLAIN_UNITS:
        return f"{text!r} is read as {value} ms: Heartbeat reads only the unit's first two letters"
    if number.count(".") > 1:
        return f"{text!r} is read as {value} ms: Heartbeat reads the number up to its second dot"
    if not number.strip("."):
        return f"{text!r} is read as {value} ms"
    return None


def parse_bool(text: str) -> bool:
    """GLUE ``cl_str_to_boolean``: true/on/yes/y/1 or false/off/no/n/0, any case."""
    folded = text.lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueSyntaxError(f"invalid boolean {text!r} (want on/off, yes/no, true/false or 1/0)")


def c_atoi(text: str) -> int:
    """C's ``atoi``: blanks, a sign and digits at the start; anything else reads as 0."""
    match = _ATOI.match(text)
    return int(match.group(1)) if match else 0


def atoi_oddity(text: str) -> str | None:
    """Why ``text`` is not a plain number, saying what ``atoi`` reads from it."""
    if text.isascii() and text.isdigit():
        return None
    return f"{text!r} is read as {c_atoi(text)}, as Heartbeat's atoi reads it"


def parse_int(text: str, low: int, high: int | None = None) -> int:
    """A strict decimal integer in ``low..high`` (hbnode's own directives and tools)."""
    if not text.isascii() or not text.isdigit():
        raise ValueSyntaxError(f"invalid number {text!r}")
    value = int(text)
    if value < low or (high is not None and value > high):
        limit = f"at least {low}" if high is None else f"{low}..{high}"
        raise ValueSyntaxError(f"{text!r} is out of range (want {limit})")
    return value


def is_ipv4(text: str) -> bool:
    """True for a dotted-quad IPv4 address as ``inet_pton`` takes it (no leading zeros)."""
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
