"""Read /etc/ha.d/authkeys exactly as Heartbeat's heartbeat/auth.c ``parse_authfile`` does.

::

    auth 3          # the key index we sign with
    3 md5 Hello!    # N method [key], N in 0..15, method crc|md5|sha1

A line whose first non-blank character is ``a`` is an auth line, read with
``sscanf("auth %d")``: ``auth1`` and ``auth 1 # comment`` both mean 1. Any other
non-blank, non-comment line is a key line, read with ``sscanf("%d%s%s")``: the
index, the method and the key are the first three words (``1sha1 k`` too), and
the rest of the line is ignored. The signing key is the key line whose index
equals the auth value in force when that line is read, so ``auth`` comes first.

The file holds secrets: like Heartbeat (and CPython's netrc) we refuse it when
group or others may read it, checking the file we actually opened.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field

from hbnode.auth import AuthKey, AuthKeys, AuthMethod
from hbnode.config.errors import ConfigError, ConfigWarning, raise_if_any

MAX_AUTH = 16  # heartbeat.h MAXAUTH: key indexes 0..15
_METHODS = {method.value: method for method in AuthMethod}  # plugin names: case matters
_AUTH_LINE = re.compile(r"auth\s*([+-]?[0-9]+)(.*)", re.S | re.A)  # sscanf("auth %d")
_KEY_LINE = re.compile(r"\s*([+-]?[0-9]+)\s*(\S+)\s*(\S*)(.*)", re.S | re.A)  # "%d%s%s"
_BLANKS = " \t\n\r\f\v"


@dataclass(slots=True)
class AuthkeysReading:
    """What one reading of authkeys found: the keys (None if unusable) and the problems."""

    keys: AuthKeys | None
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)


@dataclass(slots=True)
class _State:
    path: str
    authnum: int = -1  # auth.c's authnum: the last auth line's value
    auth_line: int | None = None
    outbound: int | None = None  # config->authnum: set by a matching key line
    keys: dict[int, AuthKey] = field(default_factory=dict)
    key_lines: dict[int, int] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)

    def error(self, line: int | None, message: str) -> None:
        self.errors.append(ConfigError(self.path, line, message))

    def warn(self, line: int | None, message: str) -> None:
        self.warnings.append(ConfigWarning(self.path, line, message))


def read_authkeys_file(
    path: str | os.PathLike[str], *, permissions: bool = True
) -> AuthkeysReading:
    """Open, permission-check and read an authkeys file, collecting every problem.

    A file readable by group or others (S_IRGRP|S_IROTH) is refused, as
    Heartbeat refuses it; write bits are not checked. With ``permissions``
    False (checking files away from the nodes) that is a warning instead.
    """
    where = os.fspath(path)
    try:
        with open(where, "rb") as stream:
            mode = os.fstat(stream.fileno()).st_mode
            data = stream.read()
    except OSError as exc:
        problem = ConfigError(
            where, None, f"Cannot open keyfile [{where}].  Stop. ({exc.strerror})"
        )
        return AuthkeysReading(None, [problem])
    reading = read_authkeys_text(data.decode("utf-8", errors="surrogateescape"), where)
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        message = (
            f"Bad permissions on keyfile [{where}], 600 recommended."
            f" (mode {stat.S_IMODE(mode):04o}: chmod 600 {where})"
        )
        if permissions:
            reading.errors.append(ConfigError(where, None, message))
            reading.keys = None
        else:
            reading.warnings.append(ConfigWarning(where, None, message))
    return reading


def load_authkeys(path: str | os.PathLike[str]) -> AuthKeys:
    """Read an authkeys file; raise every problem (ConfigError/ConfigErrors)."""
    reading = read_authkeys_file(path)
    raise_if_any(reading.errors)
    assert reading.keys is not None
    return reading.keys


def parse_authkeys_text(text: str, path: str = "authkeys") -> AuthKeys:
    """Parse authkeys text (no permission check: for tests and the lab); raise problems."""
    reading = read_authkeys_text(text, path)
    raise_if_any(reading.errors)
    assert reading.keys is not None
    return reading.keys


def read_authkeys_text(text: str, path: str = "authkeys") -> AuthkeysReading:
    """Parse authkeys text, collecting problems in file order.

    Keys are kept as the bytes written in the file (the HMAC key is the key string).
    """
    state = _State(path=path)
    for number, raw in enumerate(text.split("\n"), start=1):
        body = raw.lstrip(" \t\n\r\f")  # heartbeat.h WHITESPACE
        if not body or body.startswith("#"):
            continue
        if body.startswith("a"):
            _auth_line(state, body, raw, number)
        else:
            _key_line(state, body, raw, number)
    return _finish(state)


def _trailing(rest: str) -> str:
    """What follows the words sscanf read, unless it is only blanks or a comment."""
    rest = rest.strip(_BLANKS)
    return "" if rest.startswith("#") else rest


def _auth_line(state: _State, body: str, raw: str, number: int) -> None:
    match = _AUTH_LINE.match(body)
    if match is None:
        state.error(number, f"Invalid auth line [{raw.rstrip()}] in {state.path}")
        return
    if state.auth_line is not None:
        state.warn(
            number,
            f"auth given again (first on line {state.auth_line}): only key lines after"
            " this one can become the signing key",
        )
    state.authnum, state.auth_line = int(match.group(1)), number
    if _trailing(match.group(2)):
        state.warn(number, f"{match.group(2).strip()!r} after 'auth {state.authnum}' is ignored")


def _key_line(state: _State, body: str, raw: str, number: int) -> None:
    match = _KEY_LINE.match(body)
    if match is None:
        state.error(number, f"Auth line [{raw.rstrip()}] is invalid.")
        return
    index, name, secret_text, rest = (
        int(match.group(1)),
        match.group(2),
        match.group(3),
        match.group(4),
    )
    if not 0 <= index < MAX_AUTH:
        state.error(number, f"Invalid authnum [{index}] in {state.path} (want 0..15)")
        return
    method = _METHODS.get(name)
    if method is None:
        state.error(number, f"Invalid authtype [{name}] (want crc, md5 or sha1)")
        return
    if method is AuthMethod.CRC and secret_text:
        state.error(number, "Auth method [crc] doesn't use a key")
        return
    if method is not AuthMethod.CRC and not secret_text:
        state.error(number, f"Auth method [{name}] requires a key")
        return
    _key_warnings(state, number, secret_text, rest)
    if index in state.key_lines:
        state.warn(
            number,
            f"key {index} is defined again (first on line {state.key_lines[index]});"
            " this one counts",
        )
    secret = secret_text.encode("utf-8", errors="surrogateescape")
    state.keys[index] = AuthKey(index, method, secret)
    state.key_lines[index] = number
    if index == state.authnum:
        state.outbound = index


def _key_warnings(state: _State, number: int, secret_text: str, rest: str) -> None:
    if secret_text.startswith("#"):
        state.warn(
            number, f"the key is {secret_text!r}: a '#' here is part of the key, not a comment"
        )
    elif _trailing(rest):
        # auth.c reads the key with %s: a passphrase with spaces signs with its first word.
        state.warn(
            number,
            f"the key is only {secret_text!r}: the words after it ({rest.strip()!r}) are ignored",
        )


def _finish(state: _State) -> AuthkeysReading:
    if state.outbound is None:
        if state.authnum < 0:
            state.error(None, f"Missing auth directive in keyfile [{state.path}]")
        else:
            message = f"Auth Key [{state.authnum}] not found in keyfile [{state.path}]"
            line = state.key_lines.get(state.authnum)
            if line is not None and state.auth_line is not None and line < state.auth_line:
                message += (
                    f": key {state.authnum} is on line {line}; Heartbeat only looks after 'auth'"
                )
            state.errors.append(ConfigError(state.path, state.auth_line, message))
    keys = None
    if not state.errors and state.outbound is not None:
        keys = AuthKeys(outbound=state.outbound, keys=dict(state.keys))
    errors = sorted(state.errors, key=lambda e: float("inf") if e.line is None else e.line)
    return AuthkeysReading(keys, errors, state.warnings)
