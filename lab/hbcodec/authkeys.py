"""A small authkeys reader for the lab (protocol.md §2.1), with no permission rule.

The daemon's reader refuses a file that group or others may read; the lab reads
copies taken out of a node, so it checks only the text. It reads the text as
Heartbeat 3.0.6's heartbeat/auth.c ``parse_authfile`` does, with its own code
(the lab must not parse with the code it tests), by the same rules as hbnode:

    auth 3          # sscanf("auth %d"): `auth3` and `auth 3 # note` too
    3 md5 Hello!    # sscanf("%d%s%s"): `3md5 Hello!`, `03 md5 Hello!`; a key
                    # written with spaces is its first word

* A line whose first non-blank character is ``a`` is an auth line; several are
  allowed, and the value in force is the last one read.
* Any other line (not blank, not ``#``) is a key line: index 0..15, method
  ``crc`` (no key), ``md5`` or ``sha1`` (a key); a repeated index: the last wins.
* The signing key is the key line whose index equals the auth value in force
  when that line is read, so ``auth`` must come before its key.
"""

from __future__ import annotations

import re
from pathlib import Path

from lab.hbcodec.signing import MAX_INDEX, AuthMethod, Key, Keyring

_AUTH_LINE = re.compile(r"auth\s*([+-]?[0-9]+)", re.A)  # sscanf("auth %d")
_KEY_LINE = re.compile(r"\s*([+-]?[0-9]+)\s*(\S+)\s*(\S*)", re.A)  # sscanf("%d%s%s")
_LEADING_BLANKS = " \t\n\r\f"  # heartbeat.h WHITESPACE, skipped before each line's first word


class AuthkeysError(ValueError):
    """Bad authkeys text; the message ends with ``(file, line N)`` where there is one."""


def parse_authkeys(text: str, where: str = "authkeys") -> Keyring:
    """The keys of an authkeys text; the first problem raises AuthkeysError."""
    authnum = -1  # auth.c's authnum: the value of the last auth line read
    outbound: int | None = None  # config->authmethod: set by a key line matching authnum
    keys: dict[int, Key] = {}
    for number, line in enumerate(text.split("\n"), start=1):  # fgets: lines end at \n only
        body = line.lstrip(_LEADING_BLANKS)
        if not body or body.startswith("#"):
            continue
        here = f"({where}, line {number})"
        if body.startswith("a"):
            authnum = _auth_value(body, line, here)
            continue
        key = _key(body, line, here)
        keys[key.index] = key
        if key.index == authnum:
            outbound = key.index
    if outbound is None:
        if authnum < 0:
            raise AuthkeysError(f"Missing auth directive in keyfile ({where})")
        raise AuthkeysError(f"Auth Key [{authnum}] not found in keyfile ({where})")
    return Keyring(outbound, keys)


def _auth_value(body: str, line: str, here: str) -> int:
    match = _AUTH_LINE.match(body)
    if match is None:
        raise AuthkeysError(f"Invalid auth line [{line.rstrip()}] {here}")
    return int(match.group(1))


def _key(body: str, line: str, here: str) -> Key:
    match = _KEY_LINE.match(body)
    if match is None:
        raise AuthkeysError(f"Auth line [{line.rstrip()}] is invalid {here}")
    index, name, secret = int(match.group(1)), match.group(2), match.group(3)
    if not 0 <= index <= MAX_INDEX:
        raise AuthkeysError(f"Invalid authnum [{index}] (want 0..{MAX_INDEX}) {here}")
    if name not in {m.value for m in AuthMethod}:  # plugin names: case matters
        raise AuthkeysError(f"Invalid authtype [{name}] (want crc, md5 or sha1) {here}")
    method = AuthMethod(name)
    if method is AuthMethod.CRC and secret:
        raise AuthkeysError(f"Auth method [crc] doesn't use a key {here}")
    if method is not AuthMethod.CRC and not secret:
        raise AuthkeysError(f"Auth method [{method}] requires a key {here}")
    # The key is the bytes written (HMAC keys are the key text), its first word only.
    return Key(index, method, secret.encode("utf-8", "surrogateescape"))


def load_authkeys(path: str | Path) -> Keyring:
    """Read an authkeys file (any mode). Raises OSError or AuthkeysError."""
    where = str(path)
    return parse_authkeys(Path(path).read_bytes().decode("utf-8", "surrogateescape"), where)
