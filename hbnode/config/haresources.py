"""Read /etc/ha.d/haresources (protocol.md §5.3; ResourceManager's ``ipres`` and ``canonname``).

::

    master 192.168.0.38/24/eth0:0 nginx      # one resource group per logical line
    slave  IPaddr::10.0.0.9 Filesystem::/dev/sdb1::/data::ext4 \\
           httpd                              # "\\" at the end continues the line

A group's *key* is its first resource as written; it names the group in
messages (``ip-request ipaddr=<key>``), so it must be unique.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from hbnode.config.errors import ConfigError
from hbnode.config.values import ValueSyntaxError, is_ipv4, parse_ifname, parse_int

BUILTIN_SCRIPTS = frozenset({"IPaddr", "IPaddr2"})  # implemented inside hbnode
DEFAULT_SEARCH_DIRS = ("/etc/ha.d/resource.d", "/etc/init.d")
# ResourceManager isip(): the shell pattern [0-9]*.[0-9]*.[0-9]*.[0-9]*
_LOOKS_LIKE_IP = re.compile(r"[0-9].*\.[0-9].*\.[0-9].*\.[0-9].*", re.S)
_NUMERIC = re.compile(r"[0-9.]+")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class IPSpec:
    """``ip[/bits[/nic[:label]|/broadcast[/broadcast]]]`` as the IPaddr wrapper splits it."""

    ip: str
    prefix: int | None = None
    nic: str | None = None
    label: str | None = None  # IPaddr strips it and picks a free alias (§6)
    broadcast: str | None = None


@dataclass(slots=True)
class Resource:
    """One resource: ``script::arg::arg`` (an IP spec alone means ``IPaddr::spec``)."""

    script: str
    args: list[str]
    raw: str  # the token as written; a group's key is its first resource's raw
    ip: IPSpec | None = None  # the parsed first argument of IPaddr/IPaddr2
    # The physical line it is written on (a group may continue); not part of its identity.
    line: int | None = field(default=None, compare=False)


@dataclass(slots=True)
class ResourceGroup:
    """One logical haresources line: the owner (preferred node) and its resources."""

    owner: str  # lowercase, as ResourceManager's awk tolower($1)
    resources: list[Resource]
    line: int  # where the logical line starts
    path: str = "haresources"

    @property
    def key(self) -> str:
        """The group key: the first resource as written."""
        return self.resources[0].raw


def parse_ipspec(text: str) -> IPSpec:
    """Split and check an IPaddr argument; a purely numeric third field is the broadcast."""
    fields = text.split("/")
    if len(fields) > 4:
        raise ValueSyntaxError(f"bad IP spec {text!r} (want ip[/bits[/nic[/broadcast]]])")
    ip = _ipv4(fields[0], "IP address")
    prefix = None
    if len(fields) > 1:
        try:
            prefix = parse_int(fields[1], 0, 32)
        except ValueSyntaxError:
            message = f"bad netmask bits {fields[1]!r} in {text!r} (want 0..32)"
            raise ValueSyntaxError(message) from None
    nic = label = broadcast = None
    if len(fields) > 2:
        if _NUMERIC.fullmatch(fields[2]):
            if len(fields) > 3:
                raise ValueSyntaxError(f"bad IP spec {text!r}: two broadcast addresses")
            broadcast = _ipv4(fields[2], "broadcast address")
        else:
            nic, colon, label = fields[2].partition(":")
            parse_ifname(nic)
            if colon and not label:
                raise ValueSyntaxError(f"empty interface label in {text!r}")
            label = label or None
    if len(fields) > 3:
        broadcast = _ipv4(fields[3], "broadcast address")
    return IPSpec(ip, prefix, nic, label, broadcast)


def _ipv4(text: str, what: str) -> str:
    if not is_ipv4(text):
        raise ValueSyntaxError(f"bad {what} {text!r}")
    return text


def parse_resource(token: str) -> Resource:
    """A resource token; IP-looking tokens become ``IPaddr::token`` (canonname)."""
    canonical = f"IPaddr::{token}" if _LOOKS_LIKE_IP.fullmatch(token) else token
    script, *args = canonical.split("::")
    if not script:
        raise ValueSyntaxError(f"resource {token!r} has no script name")
    if any(not arg for arg in args):
        raise ValueSyntaxError(f"resource {token!r} has an empty argument")
    ip = None
    if script in BUILTIN_SCRIPTS:
        if len(args) != 1:
            raise ValueSyntaxError(f"{script} wants one argument, ip[/bits[/nic[/broadcast]]]")
        ip = parse_ipspec(args[0])
    return Resource(script, args, token, ip)


def _logical_lines(text: str) -> Iterable[tuple[int, list[tuple[int, str]]]]:
    """(first physical line, words) per logical line; each word with the physical line
    it starts on, so an error points at the line the admin must edit.

    Comments are cut and '\\' joins lines. ResourceManager only strips a comment from
    the first physical line of a continued line (its sed loop skips the rest); we
    strip every line's comment.
    """
    start, pending = 0, ""
    origins: list[int] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        body = raw.split("#", 1)[0].rstrip("\r")
        if not pending:
            start, origins = number, []
        if body.endswith("\\"):
            body = body[:-1]  # sed s/\\\n//: the backslash and newline vanish
            pending += body
            origins += [number] * len(body)
            continue
        yield start, _words(pending + body, origins + [number] * len(body))
        pending = ""
    if pending:
        yield start, _words(pending, origins)


def _words(text: str, origins: list[int]) -> list[tuple[int, str]]:
    """The whitespace-separated words of ``text``, each with the line of its first char."""
    return [(origins[match.start()], match.group()) for match in _WORD.finditer(text)]


def parse_haresources_text(text: str, path: str = "haresources") -> list[ResourceGroup]:
    """Parse haresources text into groups; raises ConfigError (``file:line``)."""
    groups: list[ResourceGroup] = []
    seen: dict[str, int] = {}
    for number, words in _logical_lines(text):
        if not words:
            continue
        if len(words) < 2:
            raise ConfigError(path, number, f"node {words[0][1]!r} has no resources")
        resources = []
        for line, word in words[1:]:
            try:
                resource = parse_resource(word)
            except ValueSyntaxError as exc:
                raise ConfigError(path, line, str(exc)) from None
            resource.line = line
            resources.append(resource)
        group = ResourceGroup(words[0][1].lower(), resources, number, path)
        if group.key in seen:
            message = (
                f"duplicate resource group key {group.key!r} (first on line {seen[group.key]})"
            )
            raise ConfigError(path, number, message)
        seen[group.key] = number
        groups.append(group)
    return groups


def load_haresources(path: str | os.PathLike[str]) -> list[ResourceGroup]:
    """Read and parse a haresources file."""
    where = os.fspath(path)
    try:
        with open(where, encoding="utf-8", errors="surrogateescape") as stream:
            text = stream.read()
    except OSError as exc:
        raise ConfigError(where, None, f"Cannot open resources file: {exc.strerror}") from exc
    return parse_haresources_text(text, where)


def find_script(script: str, search_dirs: Iterable[str] = DEFAULT_SEARCH_DIRS) -> str | None:
    """ResourceManager scriptpath: the first regular, executable ``dir/script``."""
    for directory in search_dirs:
        candidate = os.path.join(directory, script)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def check_resource_scripts(
    groups: Iterable[ResourceGroup], search_dirs: Iterable[str] = DEFAULT_SEARCH_DIRS
) -> list[ConfigError]:
    """One error per resource whose script is neither built in nor found.

    Heartbeat only finds out when it takes the group over; the daemon can call
    this at start-up to say so early.
    """
    dirs = tuple(search_dirs)
    errors: list[ConfigError] = []
    for group in groups:
        for resource in group.resources:
            if resource.script in BUILTIN_SCRIPTS or find_script(resource.script, dirs):
                continue
            message = f"unknown resource script {resource.script!r} (looked in {', '.join(dirs)})"
            errors.append(ConfigError(group.path, resource.line or group.line, message))
    return errors
