"""haresources scripts: lookup, the status verdict, exit codes, timeouts, environment."""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from hbnode.config.haresources import parse_resource
from hbnode.resources.base import ResourceStatus
from hbnode.resources.errors import ScriptError, ScriptNotFound, ScriptTimeout
from hbnode.resources.lsb import ScriptAgent, heartbeat_env, judge_status_output, run_script

RUNNING, STOPPED = ResourceStatus.RUNNING, ResourceStatus.STOPPED


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        ("INFO:  Running OK\n", RUNNING),  # the IPaddr wrapper's answer
        ("INFO:  Resource is stopped\n", STOPPED),
        ("nginx is running.\n", RUNNING),
        ("Running\n", RUNNING),
        ("OK\n", RUNNING),
        ("nginx is not running ... failed!\n", STOPPED),
        ("nginx is NOT running\n", STOPPED),
        ("Not currently running\n", STOPPED),  # "not", a space, anything, "running"
        ("status: ok\n", STOPPED),  # "OK" is matched case-sensitively
        ("RUNNING\n", STOPPED),  # only the R of "running" is case-blind
        ("nothing running here\n", RUNNING),  # "not" must be followed by a space
        ("", STOPPED),
        ("dead but pid file exists\n", STOPPED),
        ("line one\nis not currently\nrunning\n", STOPPED),  # the glob spans lines
    ],
)
def test_judge_status_output(stdout: str, expected: ResourceStatus) -> None:
    assert judge_status_output(stdout) is expected


def write_script(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(mode)
    return path


def agent(token: str, dirs: list[Path], **kwargs: Any) -> ScriptAgent:
    return ScriptAgent(parse_resource(token), search_dirs=[str(d) for d in dirs], **kwargs)


def test_lookup_prefers_resource_d(tmp_path: Path) -> None:
    resource_d, init_d = tmp_path / "resource.d", tmp_path / "init.d"
    write_script(init_d, "web", "echo init\n")
    assert agent("web", [resource_d, init_d]).path() == str(init_d / "web")
    write_script(resource_d, "web", "echo rsc\n")
    assert agent("web", [resource_d, init_d]).path() == str(resource_d / "web")


def test_lookup_skips_non_executable(tmp_path: Path) -> None:
    resource_d, init_d = tmp_path / "resource.d", tmp_path / "init.d"
    write_script(resource_d, "web", "exit 0\n", mode=0o644)
    write_script(init_d, "web", "exit 0\n")
    assert agent("web", [resource_d, init_d]).path() == str(init_d / "web")


def test_lookup_missing(tmp_path: Path) -> None:
    with pytest.raises(ScriptNotFound, match="Cannot locate resource script nosuch"):
        agent("nosuch", [tmp_path]).path()


def test_arguments_and_op_order(tmp_path: Path) -> None:
    log = tmp_path / "argv"
    write_script(tmp_path, "Filesystem", f'echo "$@" >> {log}\n')
    fs = agent("Filesystem::/dev/sdb1::/data::ext4", [tmp_path])
    events: list[tuple[str, dict[str, Any]]] = []
    fs.start(lambda step, fields: events.append((step, fields)), 5.0)
    fs.stop(lambda step, fields: events.append((step, fields)), 5.0)
    assert log.read_text().splitlines() == [
        "/dev/sdb1 /data ext4 start",
        "/dev/sdb1 /data ext4 stop",
    ]
    assert [step for step, _ in events] == ["service started", "service stopped"]
    assert events[0][1]["rc"] == 0 and events[0][1]["ms"] >= 0


def test_start_failure_is_an_error_with_the_exit_code(tmp_path: Path) -> None:
    write_script(tmp_path, "web", "echo broken >&2\nexit 3\n")
    events: list[tuple[str, dict[str, Any]]] = []
    with pytest.raises(ScriptError, match="Return code 3 from"):
        agent("web", [tmp_path]).start(lambda s, f: events.append((s, f)), 5.0)
    assert events == [("service start failed", pytest.approx(events[0][1]))]
    assert events[0][1]["output"] == "broken" and events[0][1]["rc"] == 3


def test_status_reads_stdout_not_the_exit_code(tmp_path: Path) -> None:
    write_script(tmp_path, "up", 'echo "web is running"\nexit 3\n')
    write_script(tmp_path, "down", 'echo "web is not running"\nexit 0\n')
    assert agent("up", [tmp_path]).status(5.0) is RUNNING
    assert agent("down", [tmp_path]).status(5.0) is STOPPED


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its new parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def gone_soon(pid: int, within: float = 5.0) -> bool:
    """The process is dead within ``within`` seconds (a killed process dies when the
    kernel gets to it, not at the instant the signal is sent: bounded polling)."""
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # The script and its child share the process group: both must die.
    script = write_script(tmp_path, "hang", f"sleep 30 &\necho $! > {pidfile}\nwait\n")
    began = time.monotonic()
    with pytest.raises(ScriptTimeout, match=re.escape("timed out after 0.5 s")):
        run_script([str(script), "start"], timeout=0.5, kill_grace=1.0)
    assert time.monotonic() - began < 5.0
    assert gone_soon(int(pidfile.read_text()))


def test_timeout_escalates_to_sigkill(tmp_path: Path) -> None:
    script = write_script(tmp_path, "stubborn", "trap '' TERM\nwhile :; do sleep 0.05; done\n")
    began = time.monotonic()
    with pytest.raises(ScriptTimeout):
        run_script([str(script)], timeout=0.2, kill_grace=0.3)
    assert time.monotonic() - began < 3.0


def test_daemon_holding_stdout_does_not_block(tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    # An init script whose daemon keeps the script's stdout, in a session of its own.
    body = f"setsid sleep 30 &\necho $! > {pidfile}\necho started\nexit 0\n"
    script = write_script(tmp_path, "leaky", body)
    began = time.monotonic()
    try:
        result = run_script([str(script), "start"], timeout=10.0)
        assert time.monotonic() - began < 5.0
        assert (result.returncode, result.stdout) == (0, "started\n")
    finally:
        if pidfile.exists():
            pid = int(pidfile.read_text())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def test_run_missing_program(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot run"):
        run_script([str(tmp_path / "absent")], timeout=1.0)


def test_heartbeat_env(tmp_path: Path) -> None:
    env = heartbeat_env(
        {"PATH": "/bin", "LC_ALL": "fr_FR", "LANGUAGE": "fr"}, curhost="master", extra={"X": "1"}
    )
    assert env["HA_DIR"] == "/etc/ha.d" and env["HA_FUNCS"] == "/etc/ha.d/shellfuncs"
    assert env["HA_CURHOST"] == "master" and env["X"] == "1" and env["PATH"] == "/bin"
    assert "LC_ALL" not in env and "LANGUAGE" not in env
    out = tmp_path / "env"
    write_script(tmp_path, "show", f'echo "$HA_CURHOST $HA_DIR" > {out}\n')
    agent("show", [tmp_path], env=env).start(lambda s, f: None, 5.0)
    assert out.read_text() == "master /etc/ha.d\n"
