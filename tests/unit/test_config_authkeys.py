"""authkeys as heartbeat/auth.c parse_authfile reads it: sscanf forms, errors, mode 600.

Every row names the auth.c code path it mirrors; each was also fed to the real
Heartbeat 3.0.6, which accepted or refused it the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbnode.auth import AuthKey, AuthKeys, AuthMethod
from hbnode.config import ConfigError, load_authkeys, parse_authkeys_text
from hbnode.config.authkeys import read_authkeys_file, read_authkeys_text

REFERENCE_AUTHKEYS = "auth 3\n3 md5 Hello!\n"
SHA1_K = AuthKey(1, AuthMethod.SHA1, b"k")


def test_reference_setup() -> None:
    keys = parse_authkeys_text(REFERENCE_AUTHKEYS)
    assert keys == AuthKeys(outbound=3, keys={3: AuthKey(3, AuthMethod.MD5, b"Hello!")})
    assert keys.signing_key.secret == b"Hello!"


def test_comments_blanks_and_several_keys() -> None:
    text = (
        "# cluster keys\n\n"
        "  auth 2   # sign with sha1\n"
        "1 crc\n"
        "2 sha1 S3cret#part-of-the-key  # a comment after the key\n"
        "\t15 md5 pässwort\n"
        "0 md5 zero\n"
    )
    reading = read_authkeys_text(text)
    assert reading.warnings == [] and reading.errors == []
    keys = reading.keys
    assert keys is not None and keys.outbound == 2
    assert keys.keys == {
        1: AuthKey(1, AuthMethod.CRC, b""),
        2: AuthKey(2, AuthMethod.SHA1, b"S3cret#part-of-the-key"),
        15: AuthKey(15, AuthMethod.MD5, "pässwort".encode()),
        0: AuthKey(0, AuthMethod.MD5, b"zero"),
    }


AUTH = 'auth.c parse_authfile: sscanf(bp, "auth %d")'
KEY = 'auth.c parse_authfile: sscanf(bp, "%d%s%s")'


@pytest.mark.parametrize(
    ("path", "text", "keys", "warnings"),
    [
        (f"{AUTH}: no blank needed", "auth1\n1 sha1 k\n", {1: SHA1_K}, []),
        (f"{AUTH}: a tab", "auth\t1\n1 sha1 k\n", {1: SHA1_K}, []),
        (f"{AUTH}: %d takes a sign", "auth +1\n1 sha1 k\n", {1: SHA1_K}, []),
        (f"{AUTH}: %d takes leading zeros", "auth 01\n1 sha1 k\n", {1: SHA1_K}, []),
        (f"{AUTH}: the rest of the line is not read", "auth 1x\n1 sha1 k\n", {1: SHA1_K},
         ["authkeys:1: 'x' after 'auth 1' is ignored"]),
        (f"{AUTH}: a comment after the number", "auth 1 # c\n1 sha1 k # c\n", {1: SHA1_K}, []),
        (f"{KEY}: %d then %s need no blank", "auth 1\n1sha1 k\n", {1: SHA1_K}, []),
        (f"{KEY}: %d takes leading zeros", "auth 1\n01 sha1 k\n", {1: SHA1_K}, []),
        (f"{KEY}: %s stops at CR", "auth 1\n1 sha1 k\r\n", {1: SHA1_K}, []),
        (f"{KEY}: the key is one word", "auth 1\n1 sha1 k and more\n", {1: SHA1_K},
         ["authkeys:2: the key is only 'k': the words after it ('and more') are ignored"]),
        (f"{KEY}: '#' read by %s is part of the key", "auth 1\n1 sha1 # no key\n",
         {1: AuthKey(1, AuthMethod.SHA1, b"#")},
         ["authkeys:2: the key is '#': a '#' here is part of the key, not a comment"]),
        (f"{KEY}: crc needs no key", "auth 1\n1 crc\n", {1: AuthKey(1, AuthMethod.CRC, b"")}, []),
        ("auth.c parse_authfile: a later key line for the same index replaces it",
         "auth 1\n1 sha1 a\n1 md5 b\n", {1: AuthKey(1, AuthMethod.MD5, b"b")},
         ["authkeys:3: key 1 is defined again (first on line 2); this one counts"]),
        ("auth.c parse_authfile: i == authnum picks the key while the line is read",
         "auth 1\n1 sha1 k\nauth 2\n", {1: SHA1_K},
         ["authkeys:3: auth given again (first on line 1)"]),
    ],
)  # fmt: skip
def test_accepted_as_heartbeat_accepts(
    path: str, text: str, keys: dict[int, AuthKey], warnings: list[str]
) -> None:
    reading = read_authkeys_text(text)
    assert reading.errors == [], path
    assert reading.keys is not None and reading.keys.keys == keys, path
    assert reading.keys.outbound == 1, path
    found = [str(warning) for warning in reading.warnings]
    assert len(found) == len(warnings), (path, found)
    for text_found, start in zip(found, warnings, strict=True):
        assert text_found.startswith(start), path


def test_the_auth_line_in_force_picks_the_signing_key() -> None:
    keys = parse_authkeys_text("auth 1\n1 sha1 k\nauth 2\n2 md5 j\n")
    assert keys.outbound == 2


@pytest.mark.parametrize(
    ("path", "text", "messages"),
    [
        ("auth.c: no auth line", "", ["authkeys: Missing auth directive in keyfile [authkeys]"]),
        ("auth.c: no auth line", "3 md5 Hello!\n",
         ["authkeys: Missing auth directive in keyfile [authkeys]"]),
        (f"{AUTH}: a negative index is no index", "auth -1\n1 sha1 k\n",
         ["authkeys: Missing auth directive in keyfile [authkeys]"]),
        ("auth.c: Auth Key not found", "auth 3\n1 md5 x\n",
         ["authkeys:1: Auth Key [3] not found in keyfile [authkeys]"]),
        ("auth.c: only key lines after 'auth' can sign", "3 md5 Hello!\nauth 3\n",
         ["authkeys:2: Auth Key [3] not found in keyfile [authkeys]: key 3 is on line 1;"
          " Heartbeat only looks after 'auth'"]),
        ("auth.c: index 16 never matches", "auth 16\n",
         ["authkeys:1: Auth Key [16] not found in keyfile [authkeys]"]),
        (f"{AUTH}: fails", "authx\n1 sha1 k\n",
         ["authkeys:1: Invalid auth line [authx] in authkeys",
          "authkeys: Missing auth directive in keyfile [authkeys]"]),
        (f"{AUTH}: fails without a number", "auth\n",
         ["authkeys:1: Invalid auth line [auth] in authkeys",
          "authkeys: Missing auth directive in keyfile [authkeys]"]),
        (f"{KEY}: 'Auth' is not an auth line (only 'a' is looked at)", "Auth 1\n",
         ["authkeys:1: Auth line [Auth 1] is invalid.",
          "authkeys: Missing auth directive in keyfile [authkeys]"]),
        ("auth.c: Auth method requires a key", "auth 3\n3 md5\n",
         ["authkeys:1: Auth Key [3] not found in keyfile [authkeys]",
          "authkeys:2: Auth method [md5] requires a key"]),
        ("auth.c: Auth method doesn't use a key", "auth 1\n1 crc secret\n",
         ["authkeys:1: Auth Key [1] not found in keyfile [authkeys]",
          "authkeys:2: Auth method [crc] doesn't use a key"]),
        ("auth.c findauth: no such plugin", "auth 1\n1 sha1 k\n2 sha256 k\n",
         ["authkeys:3: Invalid authtype [sha256] (want crc, md5 or sha1)"]),
        ("auth.c findauth: plugin names are case-sensitive", "auth 1\n1 sha1 k\n2 MD5 k\n",
         ["authkeys:3: Invalid authtype [MD5] (want crc, md5 or sha1)"]),
        ("auth.c: Invalid authnum", "auth 1\n1 sha1 k\n16 md5 k\n",
         ["authkeys:3: Invalid authnum [16] in authkeys (want 0..15)"]),
        (f"{KEY}: fewer than 2 items", "auth 1\n1 sha1 k\nmd5 1 x\n",
         ["authkeys:3: Auth line [md5 1 x] is invalid."]),
        (f"{KEY}: fewer than 2 items", "auth 1\n1 sha1 k\n1\n",
         ["authkeys:3: Auth line [1] is invalid."]),
        (f"{AUTH}: any line starting with 'a'", "auth 1\n1 sha1 k\nabc\n",
         ["authkeys:3: Invalid auth line [abc] in authkeys"]),
    ],
)  # fmt: skip
def test_refused_as_heartbeat_refuses(path: str, text: str, messages: list[str]) -> None:
    reading = read_authkeys_text(text)
    assert [str(error) for error in reading.errors] == messages, path
    assert reading.keys is None
    with pytest.raises(ConfigError):
        parse_authkeys_text(text)


def write_keys(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "authkeys"
    path.write_text(REFERENCE_AUTHKEYS)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o620, 0o602])
def test_private_modes_are_accepted(tmp_path: Path, mode: int) -> None:
    # auth.c: keyfilestat.st_mode & (S_IROTH | S_IRGRP): only the read bits count.
    assert load_authkeys(write_keys(tmp_path, mode)).outbound == 3


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_readable_keyfile_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_keys(tmp_path, mode)
    with pytest.raises(ConfigError) as caught:
        load_authkeys(path)
    assert caught.value.line is None
    assert str(caught.value) == (
        f"{path}: Bad permissions on keyfile [{path}], 600 recommended."
        f" (mode {mode:04o}: chmod 600 {path})"
    )


def test_readable_keyfile_is_a_warning_away_from_the_nodes(tmp_path: Path) -> None:
    reading = read_authkeys_file(write_keys(tmp_path, 0o644), permissions=False)
    assert reading.errors == [] and reading.keys is not None
    assert [warning.message for warning in reading.warnings] == [
        f"Bad permissions on keyfile [{tmp_path}/authkeys], 600 recommended."
        f" (mode 0644: chmod 600 {tmp_path}/authkeys)"
    ]


def test_missing_keyfile(tmp_path: Path) -> None:
    path = tmp_path / "authkeys"
    with pytest.raises(ConfigError) as caught:
        load_authkeys(path)
    assert str(caught.value) == (
        f"{path}: Cannot open keyfile [{path}].  Stop. (No such file or directory)"
    )


def test_errors_in_a_file_carry_its_path(tmp_path: Path) -> None:
    path = tmp_path / "authkeys"
    path.write_text("auth 3\n3 md5\n")
    os.chmod(path, 0o600)
    with pytest.raises(ConfigError) as caught:
        load_authkeys(path)
    assert (caught.value.path, caught.value.line) == (str(path), 1)
    assert str(caught.value) == (
        f"{path}:1: Auth Key [3] not found in keyfile [{path}]\n"
        f"{path}:2: Auth method [md5] requires a key"
    )
