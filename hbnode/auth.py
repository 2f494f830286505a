"""authkeys data: the signing methods Heartbeat supports and the configured keys.

The digest functions (HMAC-MD5, HMAC-SHA1 and Heartbeat's CRC-32) live here too;
parsing the authkeys *file* lives in :mod:`hbnode.config.authkeys`.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any


class AuthMethod(enum.StrEnum):
    """The HBauth plugins of Heartbeat 3.0.6."""

    CRC = "crc"
    MD5 = "md5"
    SHA1 = "sha1"


@dataclass(frozen=True, slots=True)
class AuthKey:
    """One ``N method [key]`` line of authkeys (N is 0..15)."""

    index: int
    method: AuthMethod
    secret: bytes  # empty for crc, which ignores the key


@dataclass(frozen=True, slots=True)
class AuthKeys:
    """All configured keys, and the ``auth N`` index used to sign what we send.

    Incoming packets may be signed with any configured index (key rollover).
    """

    outbound: int
    keys: dict[int, AuthKey]

    @property
    def signing_key(self) -> AuthKey:
        return self.keys[self.outbound]


class AuthFailure(enum.Enum):
    """Why a received datagram failed authentication (the daemon counts each one).

    The names follow Heartbeat's log lines (protocol.md §2.4): a missing or
    unparsable trailer (``Bad/invalid netstring auth string``), an index we have
    no key for (``Invalid authentication [N] in message!``) and a wrong digest
    (``authtoken does not match``). For classic datagrams the "trailer" is the
    inner ``auth`` field.
    """

    MISSING_AUTH = "missing-auth"
    BAD_TRAILER_SYNTAX = "bad-trailer-syntax"
    UNKNOWN_KEY_INDEX = "unknown-key-index"
    DIGEST_MISMATCH = "digest-mismatch"


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def heartbeat_crc(data: bytes) -> int:
    """Heartbeat's ``crc`` auth (HBauth/crc.c): CRC-32, poly 0x04C11DB7, MSB first.

    Init 0, result inverted, no length appended (so not cksum's CRC): this is
    CRC-32/POSIX without the length suffix; ``heartbeat_crc(b"123456789")`` is
    0x765E7680.
    """
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc ^ 0xFFFFFFFF


_HASHES = {AuthMethod.MD5: hashlib.md5, AuthMethod.SHA1: hashlib.sha1}
_BLOCK = 64  # md5 and sha1 both hash in 64-byte blocks


@functools.lru_cache(maxsize=32)
def _keyed(secret: bytes, method: AuthMethod) -> tuple[Any, Any]:
    """RFC 2104's inner and outer hash states once the key is in.

    Every datagram sent or received is signed from copies of these. Why not the
    hmac module: hmac.new keys from scratch each time, which OpenSSL 3 does slowly
    (an algorithm lookup: 3.7 % of the idle daemon's instructions), and the copy
    of a keyed hmac.HMAC goes through three Python-level wrappers per digest; the
    two hash states copied directly is what hmac's own pure-Python path does.
    test_auth.py checks it against hmac for both methods and every key length.
    """
    new = _HASHES[method]
    key = new(secret).digest() if len(secret) > _BLOCK else secret
    key = key.ljust(_BLOCK, b"\0")
    inner, outer = new(), new()
    inner.update(bytes(b ^ 0x36 for b in key))
    outer.update(bytes(b ^ 0x5C for b in key))
    return inner, outer


def compute_digest(key: AuthKey, data: bytes) -> str:
    """The digest text one key gives for ``data``, exactly as Heartbeat prints it.

    md5/sha1 are RFC 2104 HMACs keyed with the authkeys key string, in lowercase
    hex; crc ignores the key and is printed ``%lx`` (no leading zeros).
    """
    if key.method is AuthMethod.CRC:
        return f"{heartbeat_crc(data):x}"
    inner_state, outer_state = _keyed(key.secret, key.method)
    inner = inner_state.copy()
    inner.update(data)
    outer = outer_state.copy()
    outer.update(inner.digest())
    return str(outer.hexdigest())


def sign(keys: AuthKeys, data: bytes) -> str:
    """The auth string ``"N digest"`` for ``data``, signed with the ``auth N`` key."""
    key = keys.signing_key
    return f"{key.index} {compute_digest(key, data)}"


# sscanf("%d %s") in the C locale: optional blanks, a decimal int, then the format's
# blank, which matches *zero* or more blanks (C11 7.21.6.2p5), then a token. So
# "3abc" reads as (3, "abc"). %d takes every digit it can: the possessive "++"
# keeps the regex from giving one back to the token ("31" is no (3, "1")).
_AUTH_STRING = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]++)[ \t\n\v\f\r]*([^ \t\n\v\f\r\0]+)")
_MAX_INDEX_DIGITS = 6  # anything longer is no index 0..15 (and int() of a huge text is slow)


def parse_auth_untrusted(auth_string: str) -> tuple[int, str] | None:
    """Split a received ``"N digest"`` as Heartbeat's ``sscanf("%d %s")`` does.

    Returns ``(index, digest)``, or None when it does not parse. Like sscanf, text
    after the digest token is ignored. An index too long to be real becomes -1,
    which no key has.
    """
    raw = auth_string.encode("utf-8", "surrogateescape")
    match = _AUTH_STRING.match(raw)
    if match is None:
        return None
    digits, digest = match.groups()
    index = int(digits) if len(digits.lstrip(b"+-")) <= _MAX_INDEX_DIGITS else -1
    return index, digest.decode("utf-8", "surrogateescape")


def check_untrusted(keys: AuthKeys, auth_string: str | None, data: bytes) -> AuthFailure | None:
    """Check a received auth string over ``data``; None means authentic.

    Any configured index is accepted (key rollover, protocol.md §2.1), each checked
    with *its own* method and key. Heartbeat's netstring path has a quirk
    (heartbeat.c ``hb_compute_authentication``): it calls index N's function with
    the *outbound* key, so mixed keys only verify when they happen to be equal.
    We do not copy that: a peer signing with a key we also hold is accepted.
    The digest comparison is exact (lowercase hex, as strcmp) and constant-time.
    """
    if auth_string is None:
        return AuthFailure.MISSING_AUTH
    parsed = parse_auth_untrusted(auth_string)
    if parsed is None:
        return AuthFailure.BAD_TRAILER_SYNTAX
    index, digest = parsed
    key = keys.keys.get(index)
    if key is None:
        return AuthFailure.UNKNOWN_KEY_INDEX
    expected = compute_digest(key, data).encode("ascii")
    if not hmac.compare_digest(expected, digest.encode("utf-8", "surrogateescape")):
        return AuthFailure.DIGEST_MISMATCH
    return None
