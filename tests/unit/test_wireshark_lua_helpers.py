"""The dissector's own crypto and parsers, run inside the real tshark.

Wireshark's Lua has no crypto, so heartbeat.lua carries MD5, SHA-1, HMAC, the
CRC-32 of Heartbeat's ``crc`` method and base64. Each is checked here against
published vectors (RFC 1321, FIPS 180-1, RFC 2202) and, on inputs across the
64-byte block boundaries, against Python's hashlib/hmac and hbnode.auth. The
authkeys reader (its keys, and its errors and warnings word for word) and the
auth-string splitter are held to hbnode's on a table of every rule Heartbeat's
sscanf calls give (tests/unit/test_config_authkeys.py, test_auth.py) and on
random texts made of the same pieces.
All of it runs twice: in tshark (Lua 5.2 with bit32 here) and in a plain Lua 5.4.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hbnode.auth import heartbeat_crc, parse_auth_untrusted
from hbnode.config.authkeys import parse_authkeys_text, read_authkeys_text
from hbnode.config.errors import ConfigError
from lab.wireshark.plugin import PLUGIN
from tests.pcap_util import capture_path
from tests.tshark_util import assert_no_lua_error, require_tshark, run_tshark

# Reads "kind<TAB>hex key<TAB>hex data" lines, writes one answer line for each.
RUNNER = r"""
local input, output = ...
local hb = assert(rawget(_G, "hbnode_heartbeat"), "heartbeat.lua did not load")
local function unhex(h)
    return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end
local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local out = assert(io.open(output, "w"))
for line in io.lines(input) do
    local kind, key, data = line:match("^(%S+)\t(%x*)\t(%x*)$")
    key, data = unhex(key), unhex(data)
    local answer
    if kind == "md5" then answer = hb.md5(data)
    elseif kind == "sha1" then answer = hb.sha1(data)
    elseif kind == "hmac_md5" then answer = hb.hmac_md5(key, data)
    elseif kind == "hmac_sha1" then answer = hb.hmac_sha1(key, data)
    elseif kind == "crc" then answer = hb.crc(data)
    elseif kind == "b64" then answer = hb.base64_encode(data)
    elseif kind == "b64d" then
        local decoded = hb.base64_decode(data)
        answer = decoded and hex(decoded) or "ERR"
    elseif kind == "authkeys" then
        local keys = hb.parse_authkeys(data, "authkeys")
        if not keys then
            answer = "ERR"
        else
            local parts = { tostring(keys.outbound) }
            for index = 0, 15 do
                local k = keys.keys[index]
                if k then parts[#parts + 1] = index .. ":" .. k.method .. ":" .. hex(k.secret) end
            end
            answer = table.concat(parts, " ")
        end
    elseif kind == "authkeys_report" then
        local keys, errors, warnings = hb.parse_authkeys(data, "authkeys")
        local lines = { errors or "OK" }
        for _, warning in ipairs(warnings) do lines[#lines + 1] = warning end
        answer = hex(table.concat(lines, "\n"))
    elseif kind == "auth" then
        local index, digest = hb.parse_auth_string(data)
        answer = index and (string.format("%d", index) .. " " .. hex(digest)) or "NONE"
    end
    out:write(answer, "\n")
end
out:close()
"""

RFC_VECTORS = [  # (kind, key, data, expected)
    ("md5", b"", b"", "d41d8cd98f00b204e9800998ecf8427e"),
    ("md5", b"", b"abc", "900150983cd24fb0d6963f7d28e17f72"),
    ("md5", b"", b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    (
        "md5",
        b"",
        b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        "57edf4a22be3c955ac49da2e2107b67a",
    ),
    ("sha1", b"", b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (
        "sha1",
        b"",
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    ),
    ("hmac_md5", b"\x0b" * 16, b"Hi There", "9294727a3638bb1c13f48ef8158bfc9d"),
    ("hmac_md5", b"Jefe", b"what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"),
    (
        "hmac_md5",
        b"\xaa" * 80,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
    ),
    ("hmac_sha1", b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
    (
        "hmac_sha1",
        b"\xaa" * 80,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "aa4ae5e15272d00e95705637ce8a3b55ed402112",
    ),
    ("crc", b"", b"123456789", "765e7680"),  # protocol.md §2.2
]
LENGTHS = (0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 200, 1000, 4099)
KEY_LENGTHS = (0, 6, 64, 65, 80)
BASE64_TEXTS = [
    b"", b"QQ", b"QQ=", b"QQ==", b"QUI", b"QUI=", b"QUI==", b"QUJD", b"QUJD=", b"QUJD==",
    b"Q", b"Q==", b"QR==", b"==", b"=", b"QUJDRA==", b"QU JD", b"QUJD===", b"6wkb4+/A", b"a-b_",
    b"QU=JD", b"QUJD=QUJD", b"QUJDRA===",
]  # fmt: skip
AUTHKEYS_TEXTS = [
    "auth 3\n3 md5 Hello!\n",
    "auth 1\n1 sha1 SecretKey\n",
    "# comment\n\nauth 2\n2 crc\n",
    "auth 2\n1 md5 a\n2 sha1 b # trailing comment\n3 crc\n",
    "auth 3\n",  # no key 3
    "3 md5 x\nauth 3\n",  # the key before the auth line: Heartbeat would not find it
    "auth 16\n16 md5 x\n",
    "auth 1\n1 md5\n",  # md5 needs a key
    "auth 1\n1 crc key\n",  # crc takes none
    "auth 1\n1 md5 two words\n",  # %s: the key is "two"
    "auth 1\n1 rot13 x\n",
    "auth 1\nauth 1\n1 md5 x\n",  # several auth lines
    "1 md5 x\n",  # no auth line
    "auth 1\n1 md5 x\n1 sha1 y\n",  # a repeated index: the last line wins
    # sscanf("auth %d") (the rows of tests/unit/test_config_authkeys.py, and more)
    "auth1\n1 sha1 k\n",
    "auth\t1\n1 sha1 k\n",
    "auth +1\n1 sha1 k\n",
    "auth 01\n1 sha1 k\n",
    "auth 00000000000000000001\n1 sha1 k\n",
    "auth 1x\n1 sha1 k\n",
    "auth 1 # c\n1 sha1 k # c\n",
    "auth -1\n1 sha1 k\n",  # a negative index is no index
    "auth -0\n0 md5 z\n",
    "auth 99999999999999999999\n1 md5 x\n",
    "auth 123456789012\n",
    "authx\n1 sha1 k\n",
    "auth\n",
    "Auth 1\n",  # only "a" makes an auth line
    "abc\nauth 1\n1 md5 x\n",
    "\vauth 1\n1 md5 x\n",  # \v is no heartbeat.h WHITESPACE: a key line
    # sscanf("%d%s%s")
    "auth 1\n1sha1 k\n",
    "auth 1\n01 sha1 k\n",
    "auth 1\n+1 sha1 k\n",
    "auth 0\n-0 md5 z\n",
    "auth 1\n-1 md5 x\n1 md5 y\n",
    "auth 1\n\v1 md5 x\n",
    "auth 1\n1 sha1 k\r\n",
    "auth 1\n1 sha1 k and more\n",
    "auth 1\n1 sha1 # no key\n",  # "#" read by %s is part of the key
    "auth 1\n1 md5 S3cret#part  # a comment\n",
    "auth 1\n1 md5 k\x00ey\n",
    "auth 1\n1 crc\n",
    "auth 1\n1 crc # a comment, not a key\n",
    "auth 1\n1 sha1 a\n1 md5 b\n",
    "auth 1\n1 sha1 a\n1 md5\n",  # the bad repeat is an error: no keys
    "auth 1\n1 sha1 k\nauth 2\n",  # i == authnum picks the key as the line is read
    "auth 1\n1 sha1 k\nauth 2\n2 md5 j\n",
    "auth 1\n1 md5 a\nauth 2\n2 md5 b\nauth 1\n",
    "auth 2\n1 md5 a\nauth 1\n2 md5 b\n",
    "3 md5 Hello!\nauth 3\n3 md5 Again\n",
    "auth 1\n1 sha1 k\n2 sha256 k\n",
    "auth 1\n1 sha1 k\n2 MD5 k\n",  # plugin names are case-sensitive
    "auth 1\n1 sha1 k\n16 md5 k\n",
    "auth 1\n1 sha1 k\n99999999999999999999 md5 k\n",
    "auth 1\n1 sha1 k\nmd5 1 x\n",
    "auth 1\n1 sha1 k\n1\n",
    "auth 1\n1 sha1 k\n15\n",  # the regex gives the 5 back: (1, "5")
    "auth 1\n1 sha1 k\n123  \n",
    "auth 1\n1 sha1 k\n+\n",
    "auth 1\n1 sha1 k\nabc\n",
    "auth 3\n3 md5\n",  # two errors, in file order
    "",
    "# cluster keys\n\n  auth 2   # sign with sha1\n1 crc\n"
    "2 sha1 S3cret#part-of-the-key  # a comment after the key\n"
    "\t15 md5 p\u00e4sswort\n0 md5 zero\n",
]
AUTH_STRINGS = [
    b"3 e7c46e38600d8536a5e9d95a7bb96d49", b"  3\tabc", b"+3 abc", b"-3 abc", b"-0 abc",
    b"3", b"3 ", b"x 1234", b"99999999999 abc", b"3\x00ab", b"3 ab cd", b"03 abc", b"",
    # sscanf("%d %s"): the blank matches zero blanks too, and %d takes every digit
    b"3abc", b"3abc def", b"31", b"3 1", b"-1 abc", b"99999999999999999999 abc",
    b"000003 abc", b"0000003 abc", b"+-3 abc", b"- 3 abc", b"+ abc", b"3 \x00abc",
    b"\x003 abc", b" \v3\fabc", b"3\r\n", b"3 abc\x00def", b"3\xff\xfe", b"\xff abc",
    b"3\t\n\v\f\rabc", b"15 x", b"16 x", b"3-abc", b"3+4",
]  # fmt: skip
# Besides the tables: random texts made of the pieces these formats are made of.
AUTHKEYS_PIECES = [
    "auth", "a", "auth1", "1", "2", "0", "15", "16", "-", "+", "-0", "01", " ", "  ", "\t", "\v",
    "\f", "\r", "md5", "sha1", "crc", "MD5", "k", "key", "#", "# c", "x", "\n", "\n", "\n",
    "\x00", "\u00e9", "99999999999", "abc", "3", "\x1c", "\\", "'", '"', "\x7f", "\x01",
]  # fmt: skip
AUTH_PIECES = [
    b"3", b"1", b"0", b"-", b"+", b" ", b"\t", b"\v", b"\x00", b"abc", b"e7", b"\xff", b"99999",
    b"\n", b"x", b"00",
]  # fmt: skip


def _random_texts(pieces: list[Any], count: int, join: Any) -> list[Any]:
    rng = random.Random(16)
    return [join(rng.choice(pieces) for _ in range(rng.randrange(14))) for _ in range(count)]


AUTHKEYS_CASES = AUTHKEYS_TEXTS + _random_texts(AUTHKEYS_PIECES, 500, "".join)
AUTH_CASES = AUTH_STRINGS + _random_texts(AUTH_PIECES, 500, b"".join)


def _authkeys_answer(text: str) -> str:
    try:
        keys = parse_authkeys_text(text)
    except ConfigError:
        return "ERR"
    parts = [str(keys.outbound)]
    for index in sorted(keys.keys):
        key = keys.keys[index]
        parts.append(f"{index}:{key.method.value}:{key.secret.hex()}")
    return " ".join(parts)


def _authkeys_report(text: str) -> str:
    """hbnode's errors ("OK" if none), then its warnings, one a line, in hex."""
    reading = read_authkeys_text(text)
    errors = "; ".join(str(error) for error in reading.errors) or "OK"
    return "\n".join([errors, *(str(warning) for warning in reading.warnings)]).encode().hex()


def _expected(kind: str, key: bytes, data: bytes) -> str:
    if kind == "md5":
        return hashlib.md5(data).hexdigest()
    if kind == "sha1":
        return hashlib.sha1(data).hexdigest()
    if kind in ("hmac_md5", "hmac_sha1"):
        return hmac.new(key, data, kind.removeprefix("hmac_")).hexdigest()
    if kind == "crc":
        return f"{heartbeat_crc(data):x}"
    if kind == "b64":
        return base64.b64encode(data).decode()
    if kind == "b64d":
        try:
            return base64.b64decode(data, validate=True).hex()
        except binascii.Error:
            return "ERR"
    if kind == "authkeys":
        return _authkeys_answer(data.decode())
    if kind == "authkeys_report":
        return _authkeys_report(data.decode())
    parsed = parse_auth_untrusted(data.decode("utf-8", "surrogateescape"))
    if parsed is None:
        return "NONE"
    return f"{parsed[0]} {parsed[1].encode('utf-8', 'surrogateescape').hex()}"


def _cases() -> list[tuple[str, bytes, bytes, str]]:
    rng = random.Random(16)
    cases = list(RFC_VECTORS)
    for length in LENGTHS:
        data = rng.randbytes(length)
        for kind in ("md5", "sha1", "crc", "b64"):
            cases.append((kind, b"", data, _expected(kind, b"", data)))
        for key_length in KEY_LENGTHS:
            key = rng.randbytes(key_length)
            for kind in ("hmac_md5", "hmac_sha1"):
                cases.append((kind, key, data, _expected(kind, key, data)))
    for text in BASE64_TEXTS:
        cases.append(("b64d", b"", text, _expected("b64d", b"", text)))
    for keys_text in AUTHKEYS_CASES:
        raw = keys_text.encode()
        cases.append(("authkeys", b"", raw, _expected("authkeys", b"", raw)))
        cases.append(("authkeys_report", b"", raw, _expected("authkeys_report", b"", raw)))
    for auth in AUTH_CASES:
        cases.append(("auth", b"", auth, _expected("auth", b"", auth)))
    return cases


def _run_plain_lua(work: Path) -> None:
    """The same runner under a plain Lua 5.4 (no bit32: the native-operator path that
    Wireshark 4.4 and later take); the file returns its helpers outside Wireshark."""
    lua = shutil.which("lua5.4")
    if lua is None:
        message = "lua5.4 is not installed (apt-get install lua5.4, or make deps)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    files = [work / "runner.lua", work / "cases.txt", work / "answers.txt"]
    done = subprocess.run(
        [lua, "-e", f"dofile({str(PLUGIN)!r})", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module", params=["tshark", "lua5.4"])
def answers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[tuple[str, bytes, bytes, str], str]]:
    work = tmp_path_factory.mktemp("lua")
    cases = _cases()
    (work / "cases.txt").write_text(
        "".join(f"{kind}\t{key.hex()}\t{data.hex()}\n" for kind, key, data, _ in cases)
    )
    (work / "runner.lua").write_text(RUNNER)
    if request.param == "lua5.4":
        _run_plain_lua(work)
        got = (work / "answers.txt").read_text().splitlines()
        assert len(got) == len(cases)
        return list(zip(cases, got, strict=True))
    require_tshark()
    done = run_tshark(
        [
            "-X",
            f"lua_script:{work / 'runner.lua'}",
            "-X",
            f"lua_script2:{work / 'cases.txt'}",
            "-X",
            f"lua_script2:{work / 'answers.txt'}",
            "-r",
            str(capture_path()),
            "-c",
            "1",
        ],
        work / "home",
    )
    assert_no_lua_error(done)
    got = (work / "answers.txt").read_text().splitlines()
    assert len(got) == len(cases)
    return list(zip(cases, got, strict=True))


@pytest.mark.parametrize("kind", ["md5", "sha1", "hmac_md5", "hmac_sha1", "crc", "b64"])
def test_digests_match_published_vectors_and_python(
    answers: list[tuple[tuple[str, bytes, bytes, str], str]], kind: str
) -> None:
    checked = 0
    for (case_kind, key, data, expected), got in answers:
        if case_kind == kind:
            assert got == expected, (kind, key.hex(), len(data))
            checked += 1
    assert checked >= len(LENGTHS)


def test_base64_decoding_refuses_what_the_receiver_refuses(
    answers: list[tuple[tuple[str, bytes, bytes, str], str]],
) -> None:
    decoded = [(data, got, want) for (k, _, data, want), got in answers if k == "b64d"]
    assert len(decoded) == len(BASE64_TEXTS)
    assert [got for _, got, _ in decoded] == [want for _, _, want in decoded]
    assert "ERR" in [got for _, got, _ in decoded]


def test_authkeys_reader_agrees_with_hbnode(
    answers: list[tuple[tuple[str, bytes, bytes, str], str]],
) -> None:
    rows = [(data.decode(), got, want) for (k, _, data, want), got in answers if k == "authkeys"]
    assert len(rows) == len(AUTHKEYS_CASES)
    for text, got, want in rows:
        assert got == want, text
    # A check on the table itself: it holds both outcomes, and the rules read as
    # hbnode reads them ("auth1", a key of several words, a repeated index, "15").
    answers_by_text = {text: want for text, _, want in rows[: len(AUTHKEYS_TEXTS)]}
    assert sum(want != "ERR" for want in answers_by_text.values()) == 32
    assert answers_by_text["auth1\n1 sha1 k\n"] == "1 1:sha1:6b"
    assert answers_by_text["auth 1\n1 md5 two words\n"] == "1 1:md5:74776f"
    assert answers_by_text["auth 1\n1 md5 x\n1 sha1 y\n"] == "1 1:sha1:79"
    assert answers_by_text["auth 1\n1 sha1 k\n15\n"] == "ERR"


def test_authkeys_problems_read_as_hbnode_reports_them(
    answers: list[tuple[tuple[str, bytes, bytes, str], str]],
) -> None:
    """The same errors (file:line: what, in file order) and warnings, word for word:
    the dissector shows them as expert info on the Heartbeat tree."""
    rows = [
        (data.decode(), got, want) for (k, _, data, want), got in answers if k == "authkeys_report"
    ]
    assert len(rows) == len(AUTHKEYS_CASES)
    for text, got, want in rows:
        assert bytes.fromhex(got).decode() == bytes.fromhex(want).decode(), text


def test_auth_string_split_agrees_with_hbnode(
    answers: list[tuple[tuple[str, bytes, bytes, str], str]],
) -> None:
    rows = [(data, got, want) for (k, _, data, want), got in answers if k == "auth"]
    assert len(rows) == len(AUTH_CASES)
    for data, got, want in rows:
        assert got == want, data


def test_the_plugin_loads_once_when_named_twice(tmp_path: Path) -> None:
    """Installed and given with -X: the second copy steps aside, no error."""
    done = run_tshark(
        ["-X", f"lua_script:{PLUGIN}", "-r", str(capture_path()), "-c", "1"], tmp_path
    )
    assert_no_lua_error(done)
    assert "Heartbeat" in done.stdout
