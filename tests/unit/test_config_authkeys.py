"""authkeys: the auth line, key lines, Heartbeat's errors and the mode-600 rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbnode.auth import AuthKey, AuthKeys, AuthMethod
from hbnode.config import ConfigError, load_authkeys, parse_authkeys_text

REFERENCE_AUTHKEYS = "auth 3\n3 md5 Hello!\n"


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
    keys = parse_authkeys_text(text)
    assert keys.outbound == 2
    assert keys.keys == {
        1: AuthKey(1, AuthMethod.CRC, b""),
        2: AuthKey(2, AuthMethod.SHA1, b"S3cret#part-of-the-key"),
        15: AuthKey(15, AuthMethod.MD5, "pässwort".encode()),
        0: AuthKey(0, AuthMethod.MD5, b"zero"),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "authkeys: Missing auth directive in keyfile"),
        ("3 md5 Hello!\n", "authkeys: Missing auth directive in keyfile"),
        ("auth 3\n1 md5 x\n", "authkeys:1: Auth Key [3] not found in keyfile"),
        (
            "3 md5 Hello!\nauth 3\n",
            "authkeys:2: Auth Key [3] not found in keyfile: it is on line 1, before 'auth 3',"
            " and Heartbeat only looks after it",
        ),
        ("auth 3\n3 md5\n", "authkeys:2: Auth method [md5] requires a key"),
        # A key may begin with '#' (Heartbeat reads it with %s), so this is a key "#"
        # followed by stray words, not a comment.
        (
            "auth 3\n3 sha1 # no key\n",
            "authkeys:2: a key is a single word with no spaces (extra words after it)",
        ),
        ("auth 1\n1 crc secret\n", "authkeys:2: Auth method [crc] doesn't use a key"),
        ("auth 1\n1 sha256 k\n", "authkeys:2: Invalid authtype [sha256] (want crc, md5 or sha1)"),
        ("auth 1\n1 MD5 k\n", "authkeys:2: Invalid authtype [MD5] (want crc, md5 or sha1)"),
        ("auth 16\n", "authkeys:1: Invalid auth line [auth 16] (want: auth N, N 0..15)"),
        ("auth x\n", "authkeys:1: Invalid auth line [auth x] (want: auth N, N 0..15)"),
        ("auth\n", "authkeys:1: Invalid auth line [auth] (want: auth N, N 0..15)"),
        ("auth 1 2\n", "authkeys:1: Invalid auth line [auth 1 2] (want: auth N, N 0..15)"),
        ("auth 1\n16 md5 k\n", "authkeys:2: Invalid authnum [16] (want 0..15)"),
        ("auth 1\nmd5 1 x\n", "authkeys:2: Auth line [md5 1 x] is invalid."),
        ("auth 1\n1\n", "authkeys:2: Auth line [1] is invalid."),
        (
            "auth 1\n1 md5 two words\n",
            "authkeys:2: a key is a single word with no spaces (extra words after it)",
        ),
        ("auth 1\nauth 2\n", "authkeys:2: more than one auth directive (first on line 1)"),
        ("auth 1\n1 md5 a\n1 md5 b\n", "authkeys:3: key 1 is defined twice (first on line 2)"),
    ],
)
def test_broken_files(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_authkeys_text(text, "authkeys")
    assert str(caught.value) == message


def write_keys(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "authkeys"
    path.write_text(REFERENCE_AUTHKEYS)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o620, 0o602])
def test_private_modes_are_accepted(tmp_path: Path, mode: int) -> None:
    # Heartbeat checks only the read bits of group and others.
    assert load_authkeys(write_keys(tmp_path, mode)).outbound == 3


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_readable_keyfile_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_keys(tmp_path, mode)
    with pytest.raises(ConfigError) as caught:
        load_authkeys(path)
    assert caught.value.line is None
    assert str(caught.value) == (
        f"{path}: bad permissions on keyfile (mode {mode:04o}); 600 recommended: chmod 600 {path}"
    )


def test_missing_keyfile(tmp_path: Path) -> None:
    path = tmp_path / "authkeys"
    with pytest.raises(ConfigError) as caught:
        load_authkeys(path)
    assert str(caught.value) == f"{path}: Cannot open keyfile: No such file or directory"


def test_errors_in_a_file_carry_its_path(tmp_path: Path) -> None:
    path = tmp_path / "authkeys"
    path.write_text("auth 3\n3 md5\n")
    os.chmod(path, 0o600)
    with pytest.raises(ConfigError) as caught:
        load_authkeys(path)
    assert (caught.value.path, caught.value.line) == (str(path), 2)
    assert str(caught.value) == f"{path}:2: Auth method [md5] requires a key"
