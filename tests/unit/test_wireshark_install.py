"""``hblab wireshark install`` and ``path``, in a HOME of the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lab.wireshark.plugin import PLUGIN
from tests.pcap_util import capture_path
from tests.tshark_util import assert_no_lua_error, require_tshark, run_tshark

REPO = Path(__file__).resolve().parents[2]


def hblab(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    return subprocess.run(
        [sys.executable, "-m", "lab", "wireshark", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )


def installed_in(home: Path) -> Path:
    done = run_tshark(["-G", "folders"], home, plugin=False)
    for line in done.stdout.splitlines():
        if line.startswith("Personal Lua Plugins:"):
            return Path(line.partition(":")[2].strip()) / "heartbeat.lua"
    raise AssertionError(done.stdout)


def test_path_names_the_shipped_dissector(tmp_path: Path) -> None:
    done = hblab(tmp_path, "path")
    assert done.returncode == 0
    assert done.stdout == f"{PLUGIN}\n"
    assert PLUGIN.is_file()


def test_install_links_it_where_tshark_loads_it(tmp_path: Path) -> None:
    require_tshark()
    done = hblab(tmp_path, "install")
    assert done.returncode == 0, done.stderr
    target = installed_in(tmp_path)
    assert target.is_symlink() and target.resolve() == PLUGIN
    # Without -X lua_script: tshark finds the plugin by itself.
    decoded = run_tshark(["-r", str(capture_path()), "-c", "1"], tmp_path, plugin=False)
    assert_no_lua_error(decoded)
    assert "status src=master seq=1" in decoded.stdout
    # Named again on the command line, it still loads once, without an error.
    both = run_tshark(["-r", str(capture_path()), "-c", "1"], tmp_path)
    assert_no_lua_error(both)
    # Installing again is fine; --copy replaces the link with a copy.
    assert hblab(tmp_path, "install").returncode == 0
    assert hblab(tmp_path, "install", "--copy").returncode == 0
    assert not target.is_symlink() and target.read_bytes() == PLUGIN.read_bytes()


def test_install_leaves_someone_elses_file_alone(tmp_path: Path) -> None:
    require_tshark()
    target = installed_in(tmp_path)
    target.parent.mkdir(parents=True)
    target.write_text("-- another heartbeat dissector\n")
    done = hblab(tmp_path, "install")
    assert done.returncode == 2
    assert done.stderr.startswith("hblab: ") and done.stderr.count("\n") == 1
    assert target.read_text() == "-- another heartbeat dissector\n"
