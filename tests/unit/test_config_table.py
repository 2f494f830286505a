"""The real `hbnode` command on broken /etc/ha.d files: `file:line: what`, exit 6, no trace.

Each row breaks one thing a user gets wrong in ha.cf, authkeys or haresources.
`hbnode check` and then `hbnode start` run as subprocesses on a temporary
configuration directory (``--ha-d``). Both must print the error pointing at the
exact file and line, exit 6 (LSB "not configured"), and leave the host as it
was: no log file (ha.cf points it into the temporary directory), no pid file,
no control socket, no event log, no UDP socket on the configured port, and no
process left in the command's session.

Safety: `start` only runs once `check` has failed on the same files, so a
regression that lets a broken file through fails here without ever starting
a daemon on the host. The media name ``lo`` and a loopback peer, so even then
nothing would leave the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

EXIT_NOT_CONFIGURED = 6
RUN_TIMEOUT = 30.0  # seconds; the command exits at once on a bad config
# What a started daemon would create outside the temporary directory.
HOST_PATHS = (
    Path("/run/heartbeat.pid"),
    Path("/run/heartbeat/hbnode.ctl"),
    Path("/var/log/ha-events.jsonl"),
)
UDPPORT = 40000 + os.getpid() % 20000  # a port nothing else here uses

HACF = [
    "logfile {d}/ha-log",  # 1
    "debugfile {d}/ha-debug",  # 2
    "keepalive 2",  # 3
    "deadtime 30",  # 4
    "initdead 60",  # 5
    f"udpport {UDPPORT}",  # 6
    "ucast lo 127.0.0.2",  # 7
    "auto_failback on",  # 8
    "node master",  # 9
    "node slave",  # 10
]
AUTHKEYS = ["auth 3", "3 md5 Hello!"]
HARESOURCES = ["master 192.168.0.38/24/eth0:0 websvc"]
SERVICE = "#!/bin/sh\n# never run by these tests: the start stops before resources\nexit 0\n"

Edit = Callable[[Path], None]


def replace(name: str, line: int, text: str | None) -> Edit:
    """Replace line ``line`` (1-based) of file ``name``; None blanks it (numbers stay)."""

    def edit(d: Path) -> None:
        path = d / name
        lines = path.read_text().split("\n")
        lines[line - 1] = "# (removed)" if text is None else text
        path.write_text("\n".join(lines))

    return edit


def append(name: str, text: str) -> Edit:
    def edit(d: Path) -> None:
        path = d / name
        path.write_text(path.read_text() + text + "\n")

    return edit


def remove(name: str) -> Edit:
    return lambda d: (d / name).unlink()


def chmod(name: str, mode: int) -> Edit:
    return lambda d: (d / name).chmod(mode)


@dataclass(frozen=True)
class Case:
    name: str
    edit: Edit
    where: str  # "ha.cf:4", or "authkeys" for a whole-file problem
    message: str  # one line of the report is "file:line: " and starts with this ({d}: dir)


CASES = [
    # -- ha.cf ---------------------------------------------------------------------------
    Case("unknown directive", append("ha.cf", "frobnicate yes"), "ha.cf:11",
         "Illegal directive [frobnicate] in"),
    Case("bad time unit", replace("ha.cf", 4, "deadtime 30x"), "ha.cf:4",
         "deadtime: invalid time '30x'"),
    Case("deadtime not above 2x keepalive", replace("ha.cf", 4, "deadtime 4"), "ha.cf:4",
         "Dead time [4000] is too small compared to keeplive [2000]"),
    Case("initdead below deadtime", replace("ha.cf", 5, "initdead 10"), "ha.cf:5",
         "Initial dead time [10000] is smaller than deadtime [30000]"),
    Case("udpport out of range", replace("ha.cf", 6, "udpport 70000"), "ha.cf:6",
         "udpport: invalid port [70000] specified (want 1..65535)"),
    Case("udpport not a number", replace("ha.cf", 6, "udpport ha-cluster"), "ha.cf:6",
         "udpport: invalid port [ha-cluster] specified."),
    Case("local node not in ha.cf", replace("ha.cf", 9, "node backup"), "ha.cf:10",
         "Current node [master] not in configuration! (nodes: backup, slave)"),
    Case("no node lines", lambda d: [replace("ha.cf", n, None)(d) for n in (9, 10)], "ha.cf",
         "no nodes defined"),
    Case("no heartbeat media", replace("ha.cf", 7, None), "ha.cf",
         "No heartbeat media defined"),
    Case("medium on a missing interface", replace("ha.cf", 7, "ucast hbcnone0 127.0.0.2"),
         "ha.cf:7", "ucast: no such interface 'hbcnone0' on this node"),
    Case("bad ucast peer", replace("ha.cf", 7, "ucast lo 127.0.0.300"), "ha.cf:7",
         "ucast: bad IPv4 address '127.0.0.300'"),
    Case("respawn client missing", append("ha.cf", "respawn root /nonexistent/ipfail"),
         "ha.cf:11", "respawn: Client child command [/nonexistent/ipfail] is not executable"),
    Case("ha.cf missing", remove("ha.cf"), "ha.cf", "Cannot open config file"),
    # -- authkeys ------------------------------------------------------------------------
    Case("authkeys readable by others", chmod("authkeys", 0o644), "authkeys",
         "Bad permissions on keyfile [{d}/authkeys], 600 recommended. (mode 0644"),
    Case("authkeys readable by group", chmod("authkeys", 0o640), "authkeys",
         "Bad permissions on keyfile [{d}/authkeys], 600 recommended. (mode 0640"),
    Case("authkeys missing", remove("authkeys"), "authkeys", "Cannot open keyfile"),
    Case("auth index not defined", replace("authkeys", 1, "auth 2"), "authkeys:1",
         "Auth Key [2] not found in keyfile"),
    Case("unknown auth method", replace("authkeys", 2, "3 rot13 Hello!"), "authkeys:2",
         "Invalid authtype [rot13]"),
    Case("key missing", replace("authkeys", 2, "3 sha1"), "authkeys:2",
         "Auth method [sha1] requires a key"),
    Case("key index out of range", replace("authkeys", 2, "16 sha1 Hello!"), "authkeys:2",
         "Invalid authnum [16]"),
    # -- haresources ---------------------------------------------------------------------
    Case("group owner not a node", append("haresources", "backup 192.168.0.39 websvc"),
         "haresources:2", "Bad nodename in {d}/haresources [backup]"),
    Case("unknown resource script",
         replace("haresources", 1, "master 192.168.0.38/24/eth0:0 nosuchsvc"),
         "haresources:1", "Cannot locate resource script nosuchsvc"),
    Case("bad IP address", replace("haresources", 1, "master 192.168.0.300/24/eth0 websvc"),
         "haresources:1", "IP address [192.168.0.300] not valid."),
    Case("bad netmask bits", replace("haresources", 1, "master 192.168.0.38/33/eth0 websvc"),
         "haresources:1", "Invalid netmask specification [33]"),
    Case("bad broadcast", replace("haresources", 1, "master 192.168.0.38/24/eth0/1.2.3"),
         "haresources:1", "Invalid broadcast address [1.2.3]."),
    Case("IPaddr without argument", replace("haresources", 1, "master IPaddr websvc"),
         "haresources:1", "usage: IPaddr ip[/bits[/nic[:label][/broadcast]]]"),
    Case("duplicate group key", append("haresources", "slave 192.168.0.38/24/eth0:0 websvc"),
         "haresources:2", "duplicate resource group key '192.168.0.38/24/eth0:0'"),
    Case("bad resource on a continued line",
         replace("haresources", 1, "master 192.168.0.38/24/eth0:0 \\\n  websvc 10.1.2.3/99"),
         "haresources:2", "Invalid netmask specification [99]"),
    Case("haresources missing", remove("haresources"), "haresources",
         "Cannot open resources file"),
]  # fmt: skip


def write_ha_d(d: Path) -> None:
    (d / "ha.cf").write_text("\n".join(HACF).format(d=d) + "\n")
    (d / "authkeys").write_text("\n".join(AUTHKEYS) + "\n")
    (d / "authkeys").chmod(0o600)
    (d / "haresources").write_text("\n".join(HARESOURCES) + "\n")
    script = d / "resource.d" / "websvc"
    script.parent.mkdir()
    script.write_text(SERVICE)
    script.chmod(0o755)


@dataclass(frozen=True)
class Run:
    pid: int  # also its session id (start_new_session)
    returncode: int
    stdout: str
    stderr: str


def hbnode(d: Path, verb: str, *args: str, node: str | None = "master") -> Run:
    """`hbnode --ha-d D --node master VERB ARGS…` in a session of its own."""
    named = ["--node", node] if node else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "hbnode", "--ha-d", str(d), *named, verb, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:  # only on a timeout: never leave it behind
            proc.kill()
            proc.wait()
    return Run(proc.pid, proc.returncode, stdout, stderr)


def host_state() -> dict[str, object]:
    """What a daemon that got past the config would have changed on the host."""
    state: dict[str, object] = {}
    for path in HOST_PATHS:
        try:
            info = path.stat()
        except OSError:
            state[str(path)] = None
        else:
            state[str(path)] = (info.st_ino, info.st_mtime_ns, info.st_size)
    state["udp"] = udp_bound(UDPPORT)
    return state


def udp_bound(port: int) -> bool:
    wanted = f":{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(row.split()[1].endswith(wanted) for row in rows if len(row.split()) > 1):
            return True
    return False


def session_members(sid: int) -> list[int]:
    """Processes still in session ``sid`` (the command's, from start_new_session)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state ppid pgrp session
        if int(fields[3]) == sid:
            members.append(int(entry.name))
    return members


def test_the_base_configuration_is_valid(tmp_path: Path) -> None:
    """Every row below breaks exactly one thing in files `hbnode check` accepts."""
    write_ha_d(tmp_path)
    done = hbnode(tmp_path, "check")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_broken_config_stops_before_anything_changes(tmp_path: Path, case: Case) -> None:
    write_ha_d(tmp_path)
    case.edit(tmp_path)
    file_name, _, line = case.where.partition(":")
    message = case.message.format(d=tmp_path)
    prefix = f"{tmp_path / file_name}{':' + line if line else ''}: {message}"
    files_before = sorted(p.name for p in tmp_path.iterdir())
    host_before = host_state()

    checked = hbnode(tmp_path, "check")
    assert checked.returncode == EXIT_NOT_CONFIGURED, checked.stderr
    reported = checked.stderr.splitlines()
    assert any(text.startswith(prefix) for text in reported), f"want {prefix!r}, got {reported}"

    started = hbnode(tmp_path, "start")  # safe: check refused these files (see above)
    assert started.returncode == EXIT_NOT_CONFIGURED, started.stderr
    assert started.stderr == checked.stderr
    assert started.stdout == ""
    assert session_members(started.pid) == [], "a process was left running"
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before, "a file was written"
    assert host_state() == host_before


def test_check_reports_every_problem_in_file_order(tmp_path: Path) -> None:
    """One run lists every problem of the three files and of the machine, then start agrees."""
    write_ha_d(tmp_path)
    replace("ha.cf", 3, "keepalive 2x")(tmp_path)
    replace("ha.cf", 7, "ucast hbcnone0 127.0.0.2")(tmp_path)
    append("ha.cf", "frobnicate yes")(tmp_path)
    replace("authkeys", 2, "3 md5 Hello! world")(tmp_path)
    replace("haresources", 1, "master 192.168.0.38/33/eth0:0 nosuchsvc")(tmp_path)
    append("haresources", "backup 192.168.0.39")(tmp_path)
    d = tmp_path
    checked = hbnode(d, "check")
    assert checked.returncode == EXIT_NOT_CONFIGURED
    assert checked.stderr.splitlines() == [
        f"{d}/ha.cf:3: keepalive: invalid time '2x' (want seconds, or a number followed by"
        " ms or us)",
        f"{d}/ha.cf:7: ucast: no such interface 'hbcnone0' on this node",
        f"{d}/ha.cf:11: Illegal directive [frobnicate] in {d}/ha.cf",
        f"{d}/authkeys:2: warning: the key is only 'Hello!': the words after it ('world')"
        " are ignored",
        f"{d}/haresources:1: Invalid netmask specification [33]",
        f"{d}/haresources:1: Cannot locate resource script nosuchsvc"
        f" (looked in {d}/resource.d, /etc/init.d)",
        f"{d}/haresources:2: Bad nodename in {d}/haresources [backup] (nodes: master, slave)",
    ]
    started = hbnode(d, "start")  # safe: check refused these files
    assert (started.returncode, started.stderr) == (EXIT_NOT_CONFIGURED, checked.stderr)


def test_files_only_checks_the_files_and_nothing_of_the_machine(tmp_path: Path) -> None:
    write_ha_d(tmp_path)
    # What only the machine could object to: an interface, a script, a client, the key mode.
    replace("ha.cf", 7, "ucast hbcnone0 127.0.0.2")(tmp_path)
    append("ha.cf", "respawn nosuchuser /nonexistent/ipfail")(tmp_path)
    append("ha.cf", "watchdog /nonexistent/watchdog")(tmp_path)
    replace("haresources", 1, "slave 192.168.0.38/24/eth0:0 nosuchsvc")(tmp_path)
    chmod("authkeys", 0o644)(tmp_path)
    d = tmp_path
    files_only = hbnode(d, "check", "--files-only", node=None)
    assert files_only.returncode == 0, files_only.stderr
    assert files_only.stderr.splitlines() == [
        f"{d}/authkeys: warning: Bad permissions on keyfile [{d}/authkeys], 600 recommended."
        f" (mode 0644: chmod 600 {d}/authkeys)"
    ]
    on_the_node = hbnode(d, "check")
    assert on_the_node.returncode == EXIT_NOT_CONFIGURED
    reported = on_the_node.stderr.splitlines()
    assert reported[0] == f"{d}/ha.cf:7: ucast: no such interface 'hbcnone0' on this node"
    assert reported[1].startswith(f"{d}/ha.cf:11: respawn: Invalid uid [nosuchuser]")
    assert reported[2].startswith(f"{d}/ha.cf:12: warning: watchdog: /nonexistent/watchdog")
    assert reported[3].startswith(f"{d}/authkeys: Bad permissions on keyfile")
    assert reported[4].startswith(f"{d}/haresources:1: Cannot locate resource script nosuchsvc")
    named = hbnode(d, "check", "--files-only", node="backup")
    assert named.returncode == EXIT_NOT_CONFIGURED
    assert named.stderr.splitlines()[0] == (
        f"{d}/ha.cf:10: Current node [backup] not in configuration! (nodes: master, slave)"
    )


def test_files_only_refuses_broken_files(tmp_path: Path) -> None:
    write_ha_d(tmp_path)
    replace("ha.cf", 4, "deadtime 30s")(tmp_path)
    replace("authkeys", 1, "auth1")(tmp_path)  # accepted: sscanf("auth %d")
    done = hbnode(tmp_path, "check", "--files-only", node=None)
    assert done.returncode == EXIT_NOT_CONFIGURED
    assert done.stderr.splitlines() == [
        f"{tmp_path}/ha.cf:4: deadtime: invalid time '30s' (want seconds, or a number"
        " followed by ms or us)",
        f"{tmp_path}/authkeys:1: Auth Key [1] not found in keyfile [{tmp_path}/authkeys]",
    ]
