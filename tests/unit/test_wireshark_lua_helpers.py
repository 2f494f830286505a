"""The dissector's own crypto and parsers, run inside the real tshark.

Wireshark's Lua has no crypto, so heartbeat.lua carries MD5, SHA-1, HMAC, the
CRC-32 of Heartbeat's ``crc`` method and base64. Each is checked here against
published vectors (RFC 1321, FIPS 180-1, RFC 2202) and, on inputs across the
64-byte block boundaries, against Python's hashlib/hmac and hbnode.auth. The
authkeys reader and the auth-string splitter are held to hbnode's on a table.
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

import pytest

from hbnode.auth import heartbeat_crc, parse_auth_untrusted
from hbnode.config.authkeys import parse_authkeys_text
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
    "auth 1\n1 md5 two words\n",
    "auth 1\n1 rot13 x\n",
    "auth 1\nauth 1\n1 md5 x\n",
    "1 md5 x\n",  # no auth line
    "auth 1\n1 md5 x\n1 sha1 y\n",
]
AUTH_STRINGS = [
    b"3 e7c46e38600d8536a5e9d95a7bb96d49", b"  3\tabc", b"+3 abc", b"-3 abc", b"-0 abc",
    b"3", b"3 ", b"x 1234", b"99999999999 abc", b"3\x00ab", b"3 ab cd", b"03 abc", b"",
]  # fmt: skip


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
    parsed = parse_auth_untrusted(data.decode("utf-8", "surrogateescape"))
    return "NONE" if parsed is None else f"{parsed[0]} {parsed[1].encode().hex()}"


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
    for keys_text in AUTHKEYS_TEXTS:
        raw = keys_text.encode()
        cases.append(("authkeys", b"", raw, _expected("authkeys", b"", raw)))
    for auth in AUTH_STRINGS:
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
    assert len(rows) == len(AUTHKEYS_TEXTS)
    for text, got, want in rows:
        assert got == want, text
    assert sum(got != "ERR" for _, got, _ in rows) == 4


def test_auth_string_split_agrees_with_hbnode(
    answers: list[tuple[tuple[str, bytes, bytes, str], str]],
) -> None:
    rows = [(data, got, want) for (k, _, data, want), got in answers if k == "auth"]
    assert len(rows) == len(AUTH_STRINGS)
    for data, got, want in rows:
        assert got == want, data


def test_the_plugin_loads_once_when_named_twice(tmp_path: Path) -> None:
    """Installed and given with -X: the second copy steps aside, no error."""
    done = run_tshark(
        ["-X", f"lua_script:{PLUGIN}", "-r", str(capture_path()), "-c", "1"], tmp_path
    )
    assert_no_lua_error(done)
    assert "Heartbeat" in done.stdout
