"""A small authkeys reader for the lab (protocol.md §2.1), with no permission rule.

The daemon's reader refuses a file that group or others may read; the lab reads
copies taken out of a node, so it checks only the text:

    auth 3          # the index we sign with
    3 md5 Hello!    # N method [key]; N 0..15; method crc, md5 or sha1
"""

from __future__ import annotations

from pathlib import Path

from lab.hbcodec.signing import MAX_INDEX, AuthMethod, Key, Keyring


class AuthkeysError(ValueError):
    """Bad authkeys text; the message ends with ``(file, line N)`` where there is one."""


def parse_authkeys(text: str, where: str = "authkeys") -> Keyring:
    outbound: int | None = None
    keys: dict[int, Key] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue  # blank lines and comments, as auth.c skips them
        here = f"({where}, line {number})"
        if words[0] == "auth":
            if outbound is not None or len(words) < 2 or not _is_index(words[1]):
                raise AuthkeysError(f"want exactly one 'auth N', N in 0..{MAX_INDEX} {here}")
            outbound = int(words[1])
            continue
        keys[_index(words[0], here)] = _key(words, here)
    if outbound is None:
        raise AuthkeysError(f"Missing auth directive in keyfile ({where})")
    if outbound not in keys:
        raise AuthkeysError(f"Auth Key [{outbound}] not found in keyfile ({where})")
    return Keyring(outbound, keys)


def _key(words: list[str], here: str) -> Key:
    index = _index(words[0], here)
    if len(words) < 2 or words[1] not in {m.value for m in AuthMethod}:
        raise AuthkeysError(f"want 'N crc|md5|sha1 [key]' {here}")
    method = AuthMethod(words[1])
    # Heartbeat reads the key with sscanf %s: one token; what follows is ignored.
    secret = words[2].encode("utf-8", "surrogateescape") if len(words) > 2 else b""
    if method is not AuthMethod.CRC and not secret:
        raise AuthkeysError(f"Auth method [{method}] requires a key {here}")
    return Key(index, method, secret if method is not AuthMethod.CRC else b"")


def _index(word: str, here: str) -> int:
    if not _is_index(word):
        raise AuthkeysError(f"key index {word!r} is not in 0..{MAX_INDEX} {here}")
    return int(word)


def _is_index(word: str) -> bool:
    return word.isascii() and word.isdigit() and int(word) <= MAX_INDEX


def load_authkeys(path: str | Path) -> Keyring:
    """Read an authkeys file (any mode). Raises OSError or AuthkeysError."""
    where = str(path)
    return parse_authkeys(Path(path).read_bytes().decode("utf-8", "surrogateescape"), where)
