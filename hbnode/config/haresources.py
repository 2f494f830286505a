"""Read /etc/ha.d/haresources as Heartbeat's ResourceManager does (``ipres``, ``canonname``).

::

    master 192.168.0.38/24/eth0:0 nginx      # one resource group per logical line
    slave  IPaddr::10.0.0.9 Filesystem::/dev/sdb1::/data::ext4 \\
           httpd                              # "\\" at the end continues the line

ResourceManager's sed strips the comment of a line, then joins the next lines
while the text ends with ``\\`` (the backslash and newline vanish, no blank is
added), then squeezes blanks. The first word is the node (lowercased). A word
shaped like an address (``[0-9]*.[0-9]*.[0-9]*.[0-9]*``) means ``IPaddr::word``;
``script::a::b`` runs ``script a b`` (empty arguments vanish in the shell).

A group's *key* is its first resource as written; it names the group in
messages (``ip-request ipaddr=<key>``), so it must be unique.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from hbnode.config.errors import ConfigError, ConfigWarning, raise_if_any
from hbnode.config.ipspec import IPADDR_SCRIPTS, IPSpec, parse_ipspec
from hbnode.config.values import ValueSyntaxError

BUILTIN_SCRIPTS = IPADDR_SCRIPTS  # implemented inside hbnode
DEFAULT_SEARCH_DIRS = ("/etc/ha.d/resource.d", "/etc/init.d")
# ResourceManager isip(): the shell pattern [0-9]*.[0-9]*.[0-9]*.[0-9]*
_LOOKS_LIKE_IP = re.compile(r"[0-9].*\.[0-9].*\.[0-9].*\.[0-9].*", re.S)
_WORD = re.compile(r"[^ \t]+")  # sed squeezes blanks and tabs only
_USAGE = "ip[/bits[/nic[:label][/broadcast]]]"


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


@dataclass(slots=True)
class HaresourcesReading:
    """What one reading of haresources found, and every problem in file order."""

    groups: list[ResourceGroup] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)


def parse_resource(token: str, notes: list[str] | None = None) -> Resource:
    """A resource token; IP-looking tokens become ``IPaddr::token`` (canonname).

    Raises ValueSyntaxError where ResourceManager or the IPaddr agents would
    fail at takeover; adds to ``notes`` what they silently ignore.
    """
    said = [] if notes is None else notes
    canonical = f"IPaddr::{token}" if _LOOKS_LIKE_IP.fullmatch(token) else token
    script, *written = canonical.split("::")
    if not script:
        raise ValueSyntaxError(f"resource {token!r} has no script name")
    args = [arg for arg in written if arg]
    if len(args) != len(written):
        said.append(f"empty arguments in {token!r} are dropped (the shell drops them too)")
    ip = None
    if script in BUILTIN_SCRIPTS:
        if len(args) != 1:
            raise ValueSyntaxError(
                f"usage: {script} {_USAGE} (one argument; {token!r} has {len(args)})"
            )
        ip = parse_ipspec(args[0], script, said)
    return Resource(script, args, token, ip)


@dataclass(slots=True)
class _Logical:
    start: int
    words: list[tuple[int, str]]  # each word with the physical line it starts on
    notes: list[tuple[int, str]]


_CONTINUED_COMMENT = (
    "comment on a continued line: ResourceManager reads {!r} as resources"
    " (and fails on them at takeover); hbnode drops it. Move it to the first line"
)
_TRAILING_BACKSLASH = (
    "the file ends with '\\': ResourceManager keeps it as a resource named '\\'; hbnode drops it"
)


def _logical_lines(text: str) -> Iterator[_Logical]:
    """ResourceManager's sed, line by line: comment, continuation, blanks.

    Each character remembers its physical line, so an error points at the
    line the admin must edit even inside a continued group.
    """
    lines = [line.rstrip("\r") for line in text.split("\n")]
    number = 0
    while number < len(lines):
        start, notes = number + 1, []
        parts: list[tuple[int, str]] = []
        body = lines[number].split("#", 1)[0]  # s%#.*%%: the first line only
        while body.endswith("\\") and number + 1 < len(lines):
            parts.append((number + 1, body[:-1]))  # s/\\\n//: no blank is added
            number += 1
            body = lines[number]  # sed decides on the raw line, comment and all
            if "#" in body:
                comment = body[body.index("#") :]
                notes.append((number + 1, _CONTINUED_COMMENT.format(comment)))
                body = body.split("#", 1)[0] + ("\\" if body.endswith("\\") else "")
        if body.endswith("\\"):
            notes.append((number + 1, _TRAILING_BACKSLASH))
            body = body[:-1]
        parts.append((number + 1, body))
        number += 1
        yield _Logical(start, _words(parts), notes)


def _words(parts: list[tuple[int, str]]) -> list[tuple[int, str]]:
    joined = "".join(text for _, text in parts)
    origins = [line for line, text in parts for _ in text]
    return [(origins[match.start()], match.group()) for match in _WORD.finditer(joined)]


def _group(logical: _Logical, path: str, reading: HaresourcesReading) -> ResourceGroup | None:
    """The group of one logical line; None (with the problem recorded) if unusable."""
    if not logical.words:
        return None
    owner = logical.words[0][1].lower()  # awk: $1 = tolower($1)
    if len(logical.words) < 2:
        # listkeys then yields an empty key, and takegroup finds no line for it.
        message = f"node {owner!r} has no resources: the line does nothing"
        reading.warnings.append(ConfigWarning(path, logical.start, message))
        return None
    resources = []
    for line, word in logical.words[1:]:
        notes: list[str] = []
        try:
            resource = parse_resource(word, notes)
        except ValueSyntaxError as exc:
            reading.errors.append(ConfigError(path, line, str(exc)))
            continue
        reading.warnings.extend(ConfigWarning(path, line, note) for note in notes)
        resource.line = line
        resources.append(resource)
    if not resources:
        return None
    # A group with a refused resource is kept with the others, so that the
    # machine checks still look at their scripts; its errors stop the start.
    return ResourceGroup(owner, resources, logical.start, path)


def read_haresources_text(text: str, path: str = "haresources") -> HaresourcesReading:
    """Parse haresources text into groups, collecting every problem in file order."""
    reading = HaresourcesReading()
    seen: dict[str, int] = {}
    if "\r\n" in text:
        message = (
            "Windows line endings: ResourceManager keeps each CR in the last resource"
            " of a line (it fails at takeover); hbnode ignores them"
        )
        reading.warnings.append(ConfigWarning(path, None, message))
    for logical in _logical_lines(text):
        reading.warnings.extend(ConfigWarning(path, line, note) for line, note in logical.notes)
        errors_before = len(reading.errors)
        group = _group(logical, path, reading)
        if group is None:
            continue
        if len(reading.errors) > errors_before:
            reading.groups.append(group)  # its key may be wrong: not compared with others
            continue
        if group.key in seen:
            message = (
                f"duplicate resource group key {group.key!r} (first on line {seen[group.key]})"
            )
            reading.errors.append(ConfigError(path, logical.start, message))
            continue
        seen[group.key] = logical.start
        reading.groups.append(group)
    return reading


def parse_haresources_text(text: str, path: str = "haresources") -> list[ResourceGroup]:
    """Parse haresources text into groups; raise every problem (``file:line``)."""
    reading = read_haresources_text(text, path)
    raise_if_any(reading.errors)
    return reading.groups


def read_haresources_file(path: str | os.PathLike[str]) -> HaresourcesReading:
    """Read and parse a haresources file, collecting every problem."""
    where = os.fspath(path)
    try:
        with open(where, encoding="utf-8", errors="surrogateescape") as stream:
            text = stream.read()
    except OSError as exc:
        message = f"Cannot open resources file [{where}] ({exc.strerror})"
        return HaresourcesReading(errors=[ConfigError(where, None, message)])
    return read_haresources_text(text, where)


def load_haresources(path: str | os.PathLike[str]) -> list[ResourceGroup]:
    """Read and parse a haresources file; raise every problem."""
    reading = read_haresources_file(path)
    raise_if_any(reading.errors)
    return reading.groups


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

    Heartbeat only finds out when it takes the group over (``Cannot locate
    resource script``); the daemon calls this at start-up to say so early.
    """
    dirs = tuple(search_dirs)
    errors: list[ConfigError] = []
    for group in groups:
        for resource in group.resources:
            if resource.script in BUILTIN_SCRIPTS or find_script(resource.script, dirs):
                continue
            message = (
                f"Cannot locate resource script {resource.script} (looked in {', '.join(dirs)})"
            )
            errors.append(ConfigError(group.path, resource.line or group.line, message))
    return errors
