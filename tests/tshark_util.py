"""Running the real tshark with the Heartbeat dissector, for the tests.

Every run gets a HOME of its own: no personal plugin (an installed copy of the
dissector, maybe older) and no preference of the user's can change what is tested.
Without tshark the tests skip, except under CI, which installs it (make deps): a
CI run without tshark fails instead of passing untested.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from lab.wireshark.plugin import PLUGIN
from lab.wireshark.tshark import ek_key, ek_layers, field_args

TSHARK = shutil.which("tshark")
LUA_FAILURES = ("Lua Error", "lua_error", "Lua: Error", "[string ")


def require_tshark() -> str:
    """The tshark binary; skips the test without one (fails it under CI)."""
    if TSHARK is None:
        message = "tshark is not installed (apt-get install tshark, or make deps)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return TSHARK


def run_tshark(
    args: Sequence[str], home: Path, timeout: float = 600.0, plugin: bool = True
) -> subprocess.CompletedProcess[str]:
    """tshark with heartbeat.lua (``plugin``) and ``args``, in the isolated ``home``."""
    binary = require_tshark()
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    if list(args[:1]) == ["-G"]:  # -G must come first
        argv = [binary, *args]
    else:
        argv = [binary, "-n"] + (["-X", f"lua_script:{PLUGIN}"] if plugin else []) + list(args)
    return subprocess.run(
        argv, capture_output=True, text=True, errors="replace", env=env, timeout=timeout
    )


def assert_no_lua_error(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr[-2000:]
    for text in (done.stdout, done.stderr):
        for marker in LUA_FAILURES:
            assert marker not in text, text[text.find(marker) - 200 : text.find(marker) + 800]


def ek_packets(
    pcap: Path,
    fields: Iterable[str],
    home: Path,
    authkeys: Path | None = None,
    extra: Sequence[str] = (),
) -> list[dict[str, list[Any]]]:
    """One dict per frame (``-T ek`` layers, keys as :func:`ek_key` names them)."""
    args = ["-r", str(pcap), "-T", "ek", *field_args(fields), *extra]
    if authkeys is not None:
        args += ["-o", f"heartbeat.authkeys:{authkeys}"]
    done = run_tshark(args, home)
    assert_no_lua_error(done)
    return list(ek_layers(done.stdout.splitlines()))


def values(layers: dict[str, list[Any]], field: str) -> list[str]:
    return [str(v) for v in layers.get(ek_key(field), [])]


def one(layers: dict[str, list[Any]], field: str) -> str | None:
    found = values(layers, field)
    return found[0] if found else None
