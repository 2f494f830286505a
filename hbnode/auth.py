"""authkeys data: the signing methods Heartbeat supports and the configured keys.

The digest functions (HMAC-MD5, HMAC-SHA1 and Heartbeat's CRC-32) live here too;
parsing the authkeys *file* lives in :mod:`hbnode.config.authkeys`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
