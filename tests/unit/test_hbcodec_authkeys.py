"""The lab's authkeys reader (lab.hbcodec.authkeys) reads as Heartbeat's auth.c does.

Table-driven, each row naming the auth.c path it follows (the same forms as
tests/unit/test_config_authkeys.py, where each was also run through the real
Heartbeat 3.0.6); then the lab's reader and hbnode's, written apart, agree on
accepting, refusing and the keys, on generated files.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbnode.config import ConfigError, parse_authkeys_text
from lab.hbcodec import AuthkeysError, Key, Keyring, parse_authkeys
from lab.hbcodec.signing import AuthMethod

AUTH = 'sscanf(bp, "auth %d")'
KEY = 'sscanf(bp, "%d%s%s")'
SHA1_K = {1: Key(1, AuthMethod.SHA1, b"k")}


@pytest.mark.parametrize(
    ("path", "text", "outbound", "keys"),
    [
        (f"{AUTH}: no blank needed", "auth1\n1 sha1 k\n", 1, SHA1_K),
        (f"{AUTH}: a tab", "auth\t1\n1 sha1 k\n", 1, SHA1_K),
        (f"{AUTH}: %d takes a sign", "auth +1\n1 sha1 k\n", 1, SHA1_K),
        (f"{AUTH}: %d takes leading zeros", "auth 01\n1 sha1 k\n", 1, SHA1_K),
        (f"{AUTH}: the rest of the line is not read", "auth 1x\n1 sha1 k\n", 1, SHA1_K),
        (f"{AUTH}: a comment after the number", "auth 1 # c\n1 sha1 k # c\n", 1, SHA1_K),
        (f"{AUTH}: blanks before it", "  \tauth 1\n1 sha1 k\n", 1, SHA1_K),
        (f"{KEY}: %d then %s need no blank", "auth 1\n1sha1 k\n", 1, SHA1_K),
        (f"{KEY}: %d takes leading zeros", "auth 1\n01 sha1 k\n", 1, SHA1_K),
        (f"{KEY}: %s stops at CR", "auth 1\n1 sha1 k\r\n", 1, SHA1_K),
        (f"{KEY}: the key is its first word", "auth 1\n1 sha1 k and more\n", 1, SHA1_K),
        (f"{KEY}: '#' read by %s is part of the key", "auth 1\n1 sha1 # no key\n", 1,
         {1: Key(1, AuthMethod.SHA1, b"#")}),
        (f"{KEY}: crc needs no key", "auth 1\n1 crc\n", 1, {1: Key(1, AuthMethod.CRC)}),
        ("a later key line for the same index replaces it", "auth 1\n1 sha1 a\n1 md5 b\n", 1,
         {1: Key(1, AuthMethod.MD5, b"b")}),
        ("i == authnum picks the key while the line is read", "auth 1\n1 sha1 k\nauth 2\n", 1,
         SHA1_K),
        ("several auth lines: the one in force when a key is read", "auth 1\n1 sha1 k\nauth 2\n"
         "2 md5 j\n", 2, {**SHA1_K, 2: Key(2, AuthMethod.MD5, b"j")}),
        ("the tutorial's file", "auth 3\n3 md5 Hello!\n", 3,
         {3: Key(3, AuthMethod.MD5, b"Hello!")}),
    ],
)  # fmt: skip
def test_accepted_as_heartbeat_accepts(
    path: str, text: str, outbound: int, keys: dict[int, Key]
) -> None:
    assert parse_authkeys(text) == Keyring(outbound, keys), path


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        ("no auth line", "", r"Missing auth directive in keyfile \(authkeys\)"),
        ("no auth line", "3 md5 Hello!\n", "Missing auth directive"),
        (f"{AUTH}: a negative index is no index", "auth -1\n1 sha1 k\n", "Missing auth"),
        ("Auth Key not found", "auth 3\n1 md5 x\n", r"Auth Key \[3\] not found"),
        ("only key lines after 'auth' can sign", "3 md5 Hello!\nauth 3\n", r"Key \[3\] not"),
        ("index 16 never matches", "auth 16\n", r"Auth Key \[16\] not found"),
        (f"{AUTH}: fails", "authx\n", r"Invalid auth line \[authx\] \(authkeys, line 1\)"),
        (f"{AUTH}: fails without a number", "auth\n", r"Invalid auth line \[auth\]"),
        (f"{KEY}: 'Auth' is not an auth line", "Auth 1\n", r"Auth line \[Auth 1\] is invalid"),
        ("Auth method requires a key", "auth 3\n3 md5\n", r"requires a key \(authkeys, line 2\)"),
        ("Auth method doesn't use a key", "auth 1\n1 crc secret\n", r"\[crc\] doesn't use a key"),
        ("no such plugin", "auth 1\n1 sha1 k\n2 sha256 k\n", r"Invalid authtype \[sha256\]"),
        ("plugin names are case-sensitive", "auth 1\n2 MD5 k\n", r"Invalid authtype \[MD5\]"),
        ("Invalid authnum", "auth 1\n1 sha1 k\n16 md5 k\n", r"Invalid authnum \[16\].*line 3"),
        (f"{KEY}: fewer than 2 items", "auth 1\nmd5 1 x\n", r"Auth line \[md5 1 x\] is invalid"),
        (f"{KEY}: fewer than 2 items", "auth 1\n1\n", r"Auth line \[1\] is invalid"),
        (f"{AUTH}: any line starting with 'a'", "auth 1\n1 sha1 k\nabc\n", r"\[abc\].*line 3"),
    ],
)  # fmt: skip
def test_refused_as_heartbeat_refuses(path: str, text: str, message: str) -> None:
    with pytest.raises(AuthkeysError, match=message):
        parse_authkeys(text)


# -- the lab's reader and hbnode's agree ---------------------------------------------------
NUMBERS = st.sampled_from(["1", "3", "03", "+1", "0", "15", "-1", "16", "x"])
SEPARATORS = st.sampled_from(["", " ", "\t", "  "])
METHODS = st.sampled_from(["md5", "sha1", "crc", "MD5", "sha256"])
SECRETS = st.sampled_from(["", "Hello!", "k", "#", "k more", "# c"])
AUTH_LINES = st.tuples(st.sampled_from(["auth", "a", "Auth"]), SEPARATORS, NUMBERS).map("".join)
KEY_LINES = st.tuples(NUMBERS, SEPARATORS, METHODS, SEPARATORS, SECRETS).map("".join)
OTHER_LINES = st.sampled_from(["", "# comment", "", "abc", "1"])
LINES = st.tuples(
    st.sampled_from(["", " ", "\t"]),
    st.one_of(AUTH_LINES, KEY_LINES, OTHER_LINES),
    st.sampled_from(["", "\r", " # c"]),
).map("".join)
# An auth line and a key line for the same index, so that many files are valid.
PAIRS = st.tuples(NUMBERS, SEPARATORS, METHODS, SECRETS).map(
    lambda p: f"auth{p[1]}{p[0]}\n{p[0]}{p[1]}{p[2]} {p[3]}"
)
FILES = st.tuples(st.lists(LINES, max_size=3), PAIRS, st.lists(LINES, max_size=3)).map(
    lambda parts: "\n".join([*parts[0], parts[1], *parts[2]])
)


def _hbnode_keyring(text: str) -> Keyring | None:
    try:
        keys = parse_authkeys_text(text)
    except ConfigError:
        return None
    ring = {i: Key(i, AuthMethod(k.method.value), k.secret) for i, k in keys.keys.items()}
    return Keyring(keys.outbound, ring)


def _lab_keyring(text: str) -> Keyring | None:
    try:
        return parse_authkeys(text)
    except AuthkeysError:
        return None


@settings(max_examples=400, deadline=None)
@given(FILES)
def test_the_lab_and_hbnode_read_every_file_alike(text: str) -> None:
    assert _lab_keyring(text) == _hbnode_keyring(text)


@pytest.mark.parametrize(
    "text",
    ["auth 3\n3 md5 Hello!\n", "auth1\n1sha1 k extra\n", "auth 1\n01 sha1 k\n1 md5 b\n"],
)
def test_the_lab_and_hbnode_agree_on_the_forms_people_write(text: str) -> None:
    lab = _lab_keyring(text)
    assert lab is not None and lab == _hbnode_keyring(text)
