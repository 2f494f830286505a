"""Signatures: Heartbeat's CRC, HMAC-MD5/SHA1, the "N digest" string and its checks."""

from __future__ import annotations

import hashlib

import pytest

from hbnode.auth import (
    AuthFailure,
    AuthKey,
    AuthKeys,
    AuthMethod,
    check_untrusted,
    compute_digest,
    heartbeat_crc,
    parse_auth_untrusted,
    sign,
)

REFERENCE = AuthKeys(3, {3: AuthKey(3, AuthMethod.MD5, b"Hello!")})


def _hmac_by_hand(hash_name: str, key: bytes, data: bytes) -> str:
    """RFC 2104 written out, so the test does not trust the module under test's hmac."""
    block = 64
    if len(key) > block:
        key = hashlib.new(hash_name, key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.new(hash_name, bytes(k ^ 0x36 for k in key) + data).digest()
    return hashlib.new(hash_name, bytes(k ^ 0x5C for k in key) + inner).hexdigest()


def test_crc_check_value() -> None:
    assert heartbeat_crc(b"123456789") == 0x765E7680
    assert compute_digest(AuthKey(1, AuthMethod.CRC, b""), b"123456789") == "765e7680"


def test_crc_empty_and_key_ignored() -> None:
    assert heartbeat_crc(b"") == 0xFFFFFFFF  # init 0, inverted, no length appended
    with_key = AuthKey(1, AuthMethod.CRC, b"ignored")
    assert compute_digest(with_key, b"abc") == compute_digest(
        AuthKey(1, AuthMethod.CRC, b""), b"abc"
    )


def test_crc_printed_without_leading_zeros() -> None:
    data = next(b"%d" % i for i in range(100_000) if heartbeat_crc(b"%d" % i) < 0x1000000)
    text = compute_digest(AuthKey(1, AuthMethod.CRC, b""), data)
    assert text == format(heartbeat_crc(data), "x")
    assert len(text) < 7 and not text.startswith("0")


@pytest.mark.parametrize(
    ("method", "key", "data", "expected"),
    [  # RFC 2202 test cases 2 and 6 (6: a key longer than the 64-byte block)
        (
            AuthMethod.MD5,
            b"Jefe",
            b"what do ya want for nothing?",
            "750c783e6ab0b503eaa86e310a5db738",
        ),
        (
            AuthMethod.SHA1,
            b"Jefe",
            b"what do ya want for nothing?",
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
        ),
        (
            AuthMethod.MD5,
            b"\xaa" * 80,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
        ),
        (
            AuthMethod.SHA1,
            b"\xaa" * 80,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "aa4ae5e15272d00e95705637ce8a3b55ed402112",
        ),
    ],
)
def test_hmac_rfc2202(method: AuthMethod, key: bytes, data: bytes, expected: str) -> None:
    assert compute_digest(AuthKey(1, method, key), data) == expected


def test_hmac_sha1_long_text_key_matches_rfc2104_by_hand() -> None:
    key = b"a-very-long-authkeys-secret-" * 4  # 112 bytes: hashed with SHA-1 first
    data = b"t=status\nsrc=master\n"
    assert len(key) > 64
    assert compute_digest(AuthKey(2, AuthMethod.SHA1, key), data) == _hmac_by_hand(
        "sha1", key, data
    )
    assert compute_digest(AuthKey(2, AuthMethod.MD5, key), data) == _hmac_by_hand("md5", key, data)


def test_sign_uses_outbound_index() -> None:
    keys = AuthKeys(2, {1: AuthKey(1, AuthMethod.CRC, b""), 2: AuthKey(2, AuthMethod.SHA1, b"k")})
    index, digest = sign(keys, b"x").split(" ")
    assert index == "2" and digest == _hmac_by_hand("sha1", b"k", b"x")


def test_sign_reference_key_lowercase_hex() -> None:
    auth = sign(REFERENCE, b"data")
    assert auth == f"3 {_hmac_by_hand('md5', b'Hello!', b'data')}"
    assert auth == auth.lower()


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ("3 abc", (3, "abc")),
        ("  3\tabc trailing words", (3, "abc")),  # sscanf skips blanks, ignores the rest
        ("+3 abc", (3, "abc")),
        ("-1 abc", (-1, "abc")),
        ("99999999999999999999 abc", (-1, "abc")),  # no such index, and no slow int()
        ("3", None),
        ("3 ", None),
        ("", None),
        ("x abc", None),
        ("3abc def", (3, "abc")),  # the blank in "%d %s" matches zero blanks too
        ("31", None),  # %d takes both digits: no token is left
        ("\udcff abc", None),  # a surrogate-escaped byte from the wire: no crash
    ],
)
def test_parse_auth_untrusted(auth: str, expected: tuple[int, str] | None) -> None:
    assert parse_auth_untrusted(auth) == expected


def test_check_reasons() -> None:
    data = b"payload"
    good = sign(REFERENCE, data)
    assert check_untrusted(REFERENCE, good, data) is None
    assert check_untrusted(REFERENCE, None, data) is AuthFailure.MISSING_AUTH
    assert check_untrusted(REFERENCE, "garbage", data) is AuthFailure.BAD_TRAILER_SYNTAX
    assert check_untrusted(REFERENCE, "4" + good[1:], data) is AuthFailure.UNKNOWN_KEY_INDEX
    assert check_untrusted(REFERENCE, good, data + b"!") is AuthFailure.DIGEST_MISMATCH
    # strcmp, not strcasecmp: an uppercase digest is not Heartbeat's text
    assert check_untrusted(REFERENCE, good.upper(), data) is AuthFailure.DIGEST_MISMATCH
    assert check_untrusted(REFERENCE, good + "00", data) is AuthFailure.DIGEST_MISMATCH
    assert check_untrusted(REFERENCE, "3 \udcff\udcfe", data) is AuthFailure.DIGEST_MISMATCH


def test_any_configured_index_with_its_own_key() -> None:
    """Key rollover; and not Heartbeat's netstring quirk (outbound key for every index)."""
    ours = AuthKeys(
        1, {1: AuthKey(1, AuthMethod.MD5, b"old"), 2: AuthKey(2, AuthMethod.SHA1, b"new")}
    )
    peer = AuthKeys(2, {2: AuthKey(2, AuthMethod.SHA1, b"new")})
    data = b"t=status\n"
    assert check_untrusted(ours, sign(peer, data), data) is None
    quirk = f"2 {compute_digest(AuthKey(2, AuthMethod.SHA1, b'old'), data)}"
    assert check_untrusted(ours, quirk, data) is AuthFailure.DIGEST_MISMATCH


def test_crc_index_accepts_any_text_it_checks() -> None:
    keys = AuthKeys(1, {1: AuthKey(1, AuthMethod.CRC, b"")})
    assert check_untrusted(keys, "1 765e7680", b"123456789") is None
    assert check_untrusted(keys, "1 0765e7680", b"123456789") is AuthFailure.DIGEST_MISMATCH


@pytest.mark.parametrize("method", [AuthMethod.MD5, AuthMethod.SHA1])
def test_the_digest_is_the_hmac_module_s_for_every_key_length(method: AuthMethod) -> None:
    import hashlib
    import hmac
    import random

    from hbnode.auth import compute_digest

    rng = random.Random(2104)
    for length in [*range(0, 70), 127, 128, 129, 300]:
        secret = bytes(rng.randrange(256) for _ in range(length))
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400)))
        expected = hmac.new(secret, data, getattr(hashlib, method.value)).hexdigest()
        key = AuthKey(1, method, secret)
        assert compute_digest(key, data) == expected
        assert compute_digest(key, data) == expected  # again, from the cached states
