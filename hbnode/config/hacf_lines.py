"""The whole-line ha.cf directives: ``ucast``, ``mcast``, ``ping_group``, ``respawn``, ``apiauth``.

Each gets the rest of its line, split on whitespace only (a comma is part of a
value here, as in Heartbeat's plugins). Each adds what it read to the HaCf,
raises ValueSyntaxError on a mistake, and returns warnings for what Heartbeat
would silently ignore (extra words at the end of a line).
"""

from __future__ import annotations

import ipaddress

from hbnode.config.hacf import ApiAuth, HaCf, McastMedium, PingGroup, RespawnEntry, UcastMedium
from hbnode.config.values import ValueSyntaxError, parse_host, parse_ifname, parse_int

_MULTICAST = ipaddress.IPv4Network("224.0.0.0/4")


def _extra(words: list[str], used: int, what: str) -> list[str]:
    if len(words) <= used:
        return []
    return [f"extra words ignored: {' '.join(words[used:])!r} ({what})"]


def add_ucast(cfg: HaCf, rest: str, line: int, port: int) -> list[str]:
    """``ucast dev peer``: one peer per line (ucast.c reads two words)."""
    words = rest.split()
    if not words:
        raise ValueSyntaxError("missing interface and peer (want: ucast dev peer)")
    dev = parse_ifname(words[0])
    if len(words) < 2:
        raise ValueSyntaxError(f"[{dev}] missing target IP address/hostname")
    cfg.media.append(UcastMedium(dev, parse_host(words[1]), port, line))
    return _extra(words, 2, "one peer per ucast line")


def add_mcast(cfg: HaCf, rest: str, line: int, port: int) -> list[str]:
    """``mcast dev group port ttl loop``: all five are required (mcast.c)."""
    del port  # mcast carries its own port; udpport does not apply
    words = rest.split()
    names = ("interface", "mcast address", "port", "ttl", "loop")
    if len(words) < len(names):
        missing = names[len(words)]
        raise ValueSyntaxError(f"missing {missing} (want: mcast dev group port ttl loop)")
    dev = parse_ifname(words[0])
    try:
        group = ipaddress.IPv4Address(words[1])
    except ValueError:
        group = None
    if group is None or group not in _MULTICAST:
        raise ValueSyntaxError(f"[{dev}] bad addr [{words[1]}] (want 224.0.0.0-239.255.255.255)")
    medium = McastMedium(
        dev=dev,
        group=str(group),
        port=_field(words[2], "port", 1, 65535),
        ttl=_field(words[3], "ttl", 0, 4),
        loop=_field(words[4], "loop", 0, 1) == 1,
        line=line,
    )
    cfg.media.append(medium)
    return _extra(words, len(names), "mcast takes five values")


def _field(text: str, what: str, low: int, high: int) -> int:
    try:
        return parse_int(text, low, high)
    except ValueSyntaxError as exc:
        raise ValueSyntaxError(f"bad {what}: {exc}") from None


def add_ping_group(cfg: HaCf, rest: str, line: int, port: int) -> list[str]:
    """``ping_group name host…``: one ping node, up while any member answers."""
    del port
    words = rest.split()
    if len(words) < 2:
        raise ValueSyntaxError("want: ping_group name address [address...]")
    name = words[0].lower()  # a ping node is a node: its name is lowercased
    if name in cfg.ping_node_names or name in cfg.nodes:
        raise ValueSyntaxError(f"node name {name!r} is already in use")
    addresses = tuple(parse_host(word) for word in words[1:])
    cfg.ping_groups.append(PingGroup(name, addresses, line))
    return []


def add_respawn(cfg: HaCf, rest: str, line: int, port: int) -> list[str]:
    """``respawn user /path [args…]``; whether user and program exist is checked at start."""
    del port
    words = rest.split()
    if len(words) < 2:
        raise ValueSyntaxError("want: respawn user /full/path/to/program [args...]")
    user, path = words[0], words[1]
    if not path.startswith("/"):
        raise ValueSyntaxError(f"Client child command [{path}] is not full pathname")
    cfg.respawn.append(RespawnEntry(user, path, tuple(words[2:]), line))
    return []


def add_apiauth(cfg: HaCf, rest: str, line: int, port: int) -> list[str]:
    """``apiauth client [uid=a,b] [gid=c,d]``: at least one list, each at most once."""
    del port
    words = rest.split()
    if not words:
        raise ValueSyntaxError("want: apiauth client [uid=uidlist] [gid=gidlist]")
    client = words[0]
    found: dict[str, tuple[str, ...] | None] = {"uid": None, "gid": None}
    for word in words[1:]:
        kind, equals, value = word.partition("=")
        if kind not in found or not equals:
            raise ValueSyntaxError(f"Missing uid or gid in apiauth [{word}]")
        if found[kind] is not None:
            raise ValueSyntaxError(f"Duplicate {kind} list in apiauth")
        found[kind] = tuple(item for item in value.split(",") if item)
    if found["uid"] is None and found["gid"] is None:
        raise ValueSyntaxError(f"client {client!r} needs uid= or gid=")
    if any(entry.client == client for entry in cfg.apiauth):
        raise ValueSyntaxError(f"Duplicate apiauth directive for API client {client}")
    cfg.apiauth.append(ApiAuth(client, found["uid"] or (), found["gid"] or (), line))
    return []
