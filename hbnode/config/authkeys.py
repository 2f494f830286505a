"""Read /etc/ha.d/authkeys (protocol.md §2.1; Heartbeat heartbeat/auth.c ``parse_authfile``).

::

    auth 3          # the key index we sign with
    3 md5 Hello!    # N method [key], N in 0..15, method crc|md5|sha1

The file holds secrets, so like Heartbeat (and CPython's netrc) we refuse it
when group or others may read it, checking the file we actually opened.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from hbnode.auth import AuthKey, AuthKeys, AuthMethod
from hbnode.config.errors import ConfigError

MAX_AUTH = 16  # heartbeat.h MAXAUTH: key indexes 0..15
_METHODS = {method.value: method for method in AuthMethod}  # case-sensitive, as plugin names


@dataclass(slots=True)
class _State:
    path: str
    outbound: int | None = None
    auth_line: int | None = None
    keys: dict[int, AuthKey] = field(default_factory=dict)
    key_lines: dict[int, int] = field(default_factory=dict)


def load_authkeys(path: str | os.PathLike[str]) -> AuthKeys:
    """Open, permission-check and parse an authkeys file.

    Refuses the file if it is readable by group or others (S_IRGRP|S_IROTH),
    as Heartbeat does; write bits are not checked. Raises ConfigError.
    """
    where = os.fspath(path)
    try:
        with open(where, "rb") as stream:
            mode = os.fstat(stream.fileno()).st_mode
            if mode & (stat.S_IRGRP | stat.S_IROTH):
                raise ConfigError(
                    where,
                    None,
                    f"bad permissions on keyfile (mode {stat.S_IMODE(mode):04o});"
                    f" 600 recommended: chmod 600 {where}",
                )
            data = stream.read()
    except OSError as exc:
        raise ConfigError(where, None, f"Cannot open keyfile: {exc.strerror}") from exc
    return parse_authkeys_text(data.decode("utf-8", errors="surrogateescape"), where)


def parse_authkeys_text(text: str, path: str = "authkeys") -> AuthKeys:
    """Parse authkeys text (no permission check: for tests and the lab).

    Keys are kept as the bytes written in the file (the HMAC key is the key string).
    """
    state = _State(path=path)
    for number, raw in enumerate(text.split("\n"), start=1):
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue  # auth.c skips blank lines and lines starting with '#'
        if words[0] == "auth":
            _auth_line(state, _uncomment(words, 2), number)
        else:
            _key_line(state, _uncomment(words, 3), number)
    return _finish(state)


def _uncomment(words: list[str], start: int) -> list[str]:
    """Drop a trailing ``# comment`` that begins at or after word ``start``.

    Heartbeat ignores whatever follows the words it scans; we accept a trailing
    comment there, but nothing else (see _key_line). A key itself may begin with '#'.
    """
    for position in range(start, len(words)):
        if words[position].startswith("#"):
            return words[:position]
    return words


def _auth_line(state: _State, words: list[str], number: int) -> None:
    if state.auth_line is not None:
        raise ConfigError(
            state.path, number, f"more than one auth directive (first on line {state.auth_line})"
        )
    if len(words) != 2 or not _is_index(words[1]):
        raise ConfigError(
            state.path, number, f"Invalid auth line [{' '.join(words)}] (want: auth N, N 0..15)"
        )
    state.outbound, state.auth_line = int(words[1]), number


def _key_line(state: _State, words: list[str], number: int) -> None:
    if len(words) < 2 or not words[0].isdigit():
        raise ConfigError(state.path, number, f"Auth line [{' '.join(words)}] is invalid.")
    if not _is_index(words[0]):
        raise ConfigError(state.path, number, f"Invalid authnum [{words[0]}] (want 0..15)")
    index, name = int(words[0]), words[1]
    method = _METHODS.get(name)
    if method is None:
        raise ConfigError(state.path, number, f"Invalid authtype [{name}] (want crc, md5 or sha1)")
    if len(words) > 3:
        # auth.c reads the key with sscanf %s: it would silently sign with the first
        # word only, a weaker secret than the admin wrote. We refuse instead.
        raise ConfigError(
            state.path, number, "a key is a single word with no spaces (extra words after it)"
        )
    secret = words[2].encode("utf-8", errors="surrogateescape") if len(words) == 3 else b""
    if method is AuthMethod.CRC and secret:
        raise ConfigError(state.path, number, "Auth method [crc] doesn't use a key")
    if method is not AuthMethod.CRC and not secret:
        raise ConfigError(state.path, number, f"Auth method [{name}] requires a key")
    if index in state.key_lines:
        first = state.key_lines[index]
        raise ConfigError(
            state.path, number, f"key {index} is defined twice (first on line {first})"
        )
    state.keys[index] = AuthKey(index, method, secret)
    state.key_lines[index] = number


def _finish(state: _State) -> AuthKeys:
    if state.outbound is None:
        raise ConfigError(state.path, None, "Missing auth directive in keyfile")
    if state.outbound not in state.keys:
        raise ConfigError(
            state.path, state.auth_line, f"Auth Key [{state.outbound}] not found in keyfile"
        )
    key_line, auth_line = state.key_lines[state.outbound], state.auth_line
    if auth_line is not None and key_line < auth_line:
        # auth.c selects the outbound key only among the lines *after* "auth N":
        # Heartbeat would refuse this file, so a mixed cluster would not start.
        raise ConfigError(
            state.path,
            auth_line,
            f"Auth Key [{state.outbound}] not found in keyfile: it is on line {key_line},"
            f" before 'auth {state.outbound}', and Heartbeat only looks after it",
        )
    return AuthKeys(outbound=state.outbound, keys=dict(state.keys))


def _is_index(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) < MAX_AUTH
