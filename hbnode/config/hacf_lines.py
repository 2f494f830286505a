"""The whole-line ha.cf directives: ``ucast``, ``mcast``, ``ping_group``, ``respawn``,
``apiauth`` and ``stonith_host``.

Each gets the rest of its line (after the delimiters that follow the directive),
split on blanks only: a comma is part of a value here, as in the media plugins'
``*_parse`` functions and config.c's whole-line setters. Each raises
ValueSyntaxError where Heartbeat refuses the line, and warns through the parse
state where Heartbeat silently ignores something (extra words at the end).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from hbnode.config.hacf import (
    ApiAuth,
    McastMedium,
    PingGroup,
    RespawnEntry,
    StonithDevice,
    UcastMedium,
)
from hbnode.config.hacf_state import ParseState, StonithHost
from hbnode.config.values import (
    ValueSyntaxError,
    atoi_oddity,
    c_atoi,
    parse_host,
    parse_ifname,
)

_MULTICAST = ipaddress.IPv4Network("224.0.0.0/4")  # mcast.c is_valid_mcast_addr
_BLANKS = re.compile(r"[ \t\n\r\f]+")  # heartbeat.h WHITESPACE

LineHandler = Callable[[ParseState, str], None]


def _words(rest: str) -> list[str]:
    return [word for word in _BLANKS.split(rest) if word]


def _extra(state: ParseState, directive: str, words: list[str], used: int, why: str) -> None:
    if len(words) > used:
        state.warn(f"{directive}: extra words ignored: {' '.join(words[used:])!r} ({why})")


def add_ucast(state: ParseState, rest: str) -> None:
    """ucast.c ucast_parse: ``ucast dev peer``, one peer per line."""
    words = _words(rest)
    if not words:
        # ucast_parse adds no medium and config.c then uses the missing one: it crashes.
        raise ValueSyntaxError("missing interface and peer (want: ucast dev peer)")
    dev = parse_ifname(words[0])
    if len(words) < 2:
        raise ValueSyntaxError(f"[{dev}] missing target IP address/hostname")
    state.media_seen = True
    port = state.udp_port("ucast")
    state.cfg.media.append(UcastMedium(dev, parse_host(words[1]), port, state.line))
    _extra(state, "ucast", words, 2, "one peer per ucast line")


def _mcast_number(state: ParseState, dev: str, text: str, what: str, high: int) -> int:
    # mcast.c reads port, ttl and loop with atoi into a u_short/u_char and then
    # checks the range; we refuse what the cast would wrap instead of wrapping it.
    low = 1 if what == "port" else 0
    value = c_atoi(text)
    if not low <= value <= high:
        raise ValueSyntaxError(f"mcast [{dev}] bad {what} [{text}] (want {low}..{high})")
    note = atoi_oddity(text)
    if note:
        state.warn(f"mcast: {what} {note}")
    return value


def _mcast_word(words: list[str], position: int, dev: str, what: str) -> str:
    if len(words) <= position:
        raise ValueSyntaxError(f"mcast [{dev}] missing {what}")
    return words[position]


def add_mcast(state: ParseState, rest: str) -> None:
    """mcast.c mcast_parse: ``mcast dev group port ttl loop``, all five required."""
    words = _words(rest)
    if not words:
        raise ValueSyntaxError("missing interface (want: mcast dev group port ttl loop)")
    dev = parse_ifname(words[0])
    text = _mcast_word(words, 1, dev, "mcast address")
    try:
        group = ipaddress.IPv4Address(text)
    except ValueError:
        group = None
    if group is None or group not in _MULTICAST:
        raise ValueSyntaxError(f"mcast [{dev}] bad addr [{text}] (want 224.0.0.0-239.255.255.255)")
    port = _mcast_number(state, dev, _mcast_word(words, 2, dev, "port"), "port", 65535)
    ttl = _mcast_number(state, dev, _mcast_word(words, 3, dev, "ttl"), "ttl", 4)
    loop = _mcast_number(state, dev, _mcast_word(words, 4, dev, "loop"), "loop", 1)
    state.media_seen = True
    state.cfg.media.append(McastMedium(dev, str(group), port, ttl, loop == 1, state.line))
    _extra(state, "mcast", words, 5, "mcast takes five values")


def add_ping_group(state: ParseState, rest: str) -> None:
    """ping_group.c ping_group_parse: one ping node, up while any member answers."""
    words = _words(rest)
    if len(words) < 2:
        raise ValueSyntaxError("want: ping_group name address [address...]")
    name = words[0].lower()  # a ping node is a node: add_node lowercases its name
    if name in state.cfg.ping_node_names or name in state.cfg.nodes:
        raise ValueSyntaxError(f"node name {name!r} is already in use")
    addresses = tuple(parse_host(word) for word in words[1:])
    state.media_seen = True
    state.cfg.ping_groups.append(PingGroup(name, addresses, state.line))


def add_respawn(state: ParseState, rest: str) -> None:
    """config.c add_client_child_base: ``respawn user /path [args…]``.

    Heartbeat also checks here that the user exists and the program runs; those
    are questions about the machine, asked by hbnode.config.system before start.
    """
    words = _words(rest)
    user = words[0] if words else ""
    command = rest.lstrip(" \t\n\r\f")[len(user) :].strip(" \t\n\r\f")
    if not command.startswith("/"):
        raise ValueSyntaxError(f"Client child command [{command}] is not full pathname")
    state.cfg.respawn.append(RespawnEntry(user, words[1], tuple(words[2:]), state.line))


def add_apiauth(state: ParseState, rest: str) -> None:
    """config.c set_api_authorization: ``apiauth client [uid=a,b] [gid=c,d]``."""
    words = _words(rest)
    bad = f"Invalid apiauth directive [{rest.strip()}]"
    if not words:
        raise ValueSyntaxError(bad)
    client = words[0]
    found: dict[str, tuple[str, ...] | None] = {"uid": None, "gid": None}
    for word in words[1:]:
        kind, equals, value = word.partition("=")
        if kind not in found or not equals:
            raise ValueSyntaxError(f"Missing uid or gid in apiauth: {bad}")
        if found[kind] is not None:
            raise ValueSyntaxError(f"Duplicate {kind} list in apiauth: {bad}")
        found[kind] = tuple(item for item in value.split(",") if item)
    if found["uid"] is None and found["gid"] is None:
        raise ValueSyntaxError(f"{bad} (one of uid= or gid= must be given)")
    if any(entry.client == client for entry in state.cfg.apiauth):
        raise ValueSyntaxError(f"Duplicate apiauth directive for API client {client}")
    state.cfg.apiauth.append(ApiAuth(client, found["uid"] or (), found["gid"] or (), state.line))


def add_stonith_host(state: ParseState, rest: str) -> None:
    """config.c set_stonith_host_info: ``stonith_host HOST TYPE PARAMS…``.

    A line for another host is ignored there, before its type is even read; whether
    it names this host is decided once every ``node`` line is read
    (hbnode.config.hacf_checks). The type and the parameters are checked against
    the installed plugins on the node (hbnode.config.stonith_check).
    """
    words = _words(rest)
    if not words:
        raise ValueSyntaxError("No Stonith hostname argument given")
    host = words[0].lower()
    plugin = words[1] if len(words) > 1 else None
    params = rest.strip()[len(words[0]) :].strip()
    params = params[len(plugin) :].strip() if plugin else ""
    state.stonith_hosts.append(StonithHost(host, state.line, plugin, params))


def add_stonith(state: ParseState, rest: str) -> None:
    """config.c set_stonith_info: ``stonith TYPE FILE`` (the parameters in FILE)."""
    words = _words(rest)
    if not words:
        raise ValueSyntaxError("No Stonith type given")
    if len(words) < 2:
        raise ValueSyntaxError(f"No Stonith config file given for [{words[0]}]")
    _extra(state, "stonith", words, 2, "the file name is one word")
    state.stonith_devices.append(StonithDevice(words[0], None, words[1], "stonith", state.line))


WHOLE_LINE: dict[str, LineHandler] = {
    "ucast": add_ucast,
    "mcast": add_mcast,
    "ping_group": add_ping_group,
    "respawn": add_respawn,
    "apiauth": add_apiauth,
    "stonith_host": add_stonith_host,
    "stonith": add_stonith,
}
# Whole-line directives hbnode refuses outright (the reasons: hacf_directives.REFUSED).
WHOLE_LINE_REFUSED = frozenset({"ucast6", "mcast6", "failfast"})
