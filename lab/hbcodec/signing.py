"""Signatures as Heartbeat 3.0.6 computes them (protocol.md §2.2-2.4), written for the lab.

Three methods, the HBauth plugins: ``md5`` and ``sha1`` are RFC 2104 HMACs keyed
with the authkeys key text; ``crc`` is a keyless CRC-32 printed with ``%lx``.
The auth string on the wire is ``"N digest"``.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.hbcodec.message import raw_of

MAX_INDEX = 15  # heartbeat.h MAXAUTH is 16: indexes 0..15


class AuthMethod(enum.StrEnum):
    CRC = "crc"
    MD5 = "md5"
    SHA1 = "sha1"


@dataclass(frozen=True, slots=True)
class Key:
    """One ``N method [key]`` line of authkeys."""

    index: int
    method: AuthMethod
    secret: bytes = b""  # crc has none

    def __post_init__(self) -> None:
        # Key(1, "md5", …) is fine too: the method is compared by identity below.
        object.__setattr__(self, "method", AuthMethod(self.method))


@dataclass(frozen=True, slots=True)
class Keyring:
    """Every configured key, and ``outbound``, the index of ``auth N`` (what we sign with)."""

    outbound: int
    keys: Mapping[int, Key]

    @property
    def signing_key(self) -> Key:
        return self.keys[self.outbound]

    @classmethod
    def single(cls, index: int, method: str, secret: bytes | str = b"") -> Keyring:
        """``auth N`` / ``N method secret`` in one call."""
        raw = secret.encode() if isinstance(secret, str) else secret
        return cls(index, {index: Key(index, AuthMethod(method), raw)})


def keyring_of(keys: Any) -> Keyring:
    """A Keyring, from a Keyring or anything shaped like one.

    hbnode's ``AuthKeys`` has the same shape (``outbound``, ``keys`` of
    ``index``/``method``/``secret``); reading those attributes lets old callers
    keep passing it without the lab importing hbnode's signing code.
    """
    if isinstance(keys, Keyring):
        return keys
    try:
        ring = {
            int(i): Key(int(k.index), AuthMethod(str(k.method)), bytes(k.secret))
            for i, k in keys.keys.items()
        }
        return Keyring(int(keys.outbound), ring)
    except (AttributeError, TypeError, ValueError) as exc:
        raise TypeError(f"not a set of authkeys: {keys!r} ({exc})") from None


class AuthFailure(enum.Enum):
    """Why a signature did not verify (values as ``hblab dump`` prints them)."""

    MISSING_AUTH = "missing-auth"  # no trailer / no auth field
    BAD_TRAILER_SYNTAX = "bad-trailer-syntax"  # sscanf("%d %s") would not read it
    UNKNOWN_KEY_INDEX = "unknown-key-index"  # no key N configured
    DIGEST_MISMATCH = "digest-mismatch"


# -- the CRC ------------------------------------------------------------------------
# CRC-32 as HBauth/crc.c computes it: polynomial 0x04C11DB7 shifted in MSB first
# (no reflection), register starting at 0, complemented at the end, and unlike
# cksum no length fed in afterwards. Check value for b"123456789": 0x765E7680.
_POLY = 0x04C11DB7


def _crc_of_top_byte(top: int) -> int:
    """The register after shifting out one byte ``top`` that sat in bits 31..24."""
    register = top << 24
    for _ in range(8):
        carry = register & 0x8000_0000
        register = (register << 1) & 0xFFFF_FFFF
        if carry:
            register ^= _POLY
    return register


_TABLE = tuple(_crc_of_top_byte(top) for top in range(256))


def heartbeat_crc(data: bytes) -> int:
    register = 0
    for byte in data:
        register = ((register << 8) & 0xFFFF_FFFF) ^ _TABLE[(register >> 24) ^ byte]
    return register ^ 0xFFFF_FFFF


# -- digests and auth strings -------------------------------------------------------------
def digest(key: Key, data: bytes) -> str:
    """The digest text for ``data`` exactly as Heartbeat prints it (lowercase hex)."""
    if key.method is AuthMethod.CRC:
        return format(heartbeat_crc(data), "x")  # %lx: no leading zeros
    algorithm = {AuthMethod.MD5: hashlib.md5, AuthMethod.SHA1: hashlib.sha1}[key.method]
    return hmac.new(key.secret, data, algorithm).hexdigest()


def sign(keys: Keyring, data: bytes) -> str:
    """``"N digest"`` with the outbound key."""
    key = keys.signing_key
    return f"{key.index} {digest(key, data)}"


_C_SPACE = b" \t\n\v\f\r"  # isspace() in the C locale
_MAX_DIGITS = 9  # an int that long is no index; keeps int() cheap on hostile input


def parse_auth_untrusted(auth: str) -> tuple[int, str] | None:
    """``(N, digest)`` as ``sscanf(auth, "%d %s")`` reads it, or None when it reads < 2.

    Follows C: blanks may precede N; N may carry a sign; the blank directive of the
    format matches *zero* or more blanks, so ``"3abc"`` reads as (3, "abc"); the
    digest is the next run of non-blanks and the rest is ignored. A NUL ends the
    string (is_auth_netstring copies it into a C buffer). An N too long to be an
    index comes back as -1, which no key has.
    """
    raw = raw_of(auth).split(b"\0", 1)[0]
    pos = _skip(raw, 0)
    start = pos
    if pos < len(raw) and raw[pos] in b"+-":
        pos += 1
    digits_at = pos
    while pos < len(raw) and 0x30 <= raw[pos] <= 0x39:
        pos += 1
    if pos == digits_at:
        return None
    number = raw[start:pos]
    index = int(number) if pos - digits_at <= _MAX_DIGITS else -1
    pos = _skip(raw, pos)
    end = pos
    while end < len(raw) and raw[end] not in _C_SPACE:
        end += 1
    if end == pos:
        return None
    return index, raw[pos:end].decode("utf-8", "surrogateescape")


def _skip(raw: bytes, pos: int) -> int:
    while pos < len(raw) and raw[pos] in _C_SPACE:
        pos += 1
    return pos


def check(keys: Keyring, auth: str | None, data: bytes) -> AuthFailure | None:
    """None when ``auth`` signs ``data`` under one of ``keys``, else why not.

    Each index is checked with its own method and secret (hbnode's reading; 3.0.6
    would use the outbound secret with N's method, protocol.md §2.4). The digest
    must equal ours byte for byte, as strcmp does, compared in constant time.
    """
    if auth is None:
        return AuthFailure.MISSING_AUTH
    parsed = parse_auth_untrusted(auth)
    if parsed is None:
        return AuthFailure.BAD_TRAILER_SYNTAX
    index, received = parsed
    key = keys.keys.get(index)
    if key is None:
        return AuthFailure.UNKNOWN_KEY_INDEX
    if not hmac.compare_digest(digest(key, data).encode(), raw_of(received)):
        return AuthFailure.DIGEST_MISMATCH
    return None
