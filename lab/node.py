"""A lab host's life: boot its init, run commands inside it, pull its plug.

Entering a node is `nsenter` into the init's network, mount, UTS and PID
namespaces, so a command sees exactly what a shell on that machine would: its
hostname, its /etc, its processes (`ps aux`), its interfaces (`ifconfig`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab import nodeinit
from lab.errors import LabError
from lab.impls import PIDFILE
from lab.proc import ProcessId, children, ns_pid_map, pid_namespace, wait_gone
from lab.source import NODE_SOURCE, source_root
from lab.state import NodeRecord

# Bounds, not expectations: a node boots in about 0.2 s. A 2-core machine running ten
# labs at once (make test) once took more than 10 s (CI of 477753b, 4 Dec).
BOOT_TIMEOUT = 30.0
KILL_TIMEOUT = 15.0
NODE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    # A CentOS-looking prompt, so a shell in the lab reads like the tutorial.
    "PS1": r"[root@\h \W]\$ ",
    # `python3 -m hbnode` in a node shell runs the tree hblab runs from (lab.source).
    "PYTHONPATH": NODE_SOURCE,
}


class NodeError(LabError):
    """A step of building or driving the lab failed (printed as one line)."""


def boot(rec: NodeRecord, hostname: str) -> None:
    """Start the node's init and wait (polling, bounded) until it has mounted all."""
    node_dir = Path(rec.node_dir)
    ready = node_dir / nodeinit.READY_FILE
    ready.unlink(missing_ok=True)
    source = str(source_root())
    # The init runs isolated (-I): it finds its modules by its own path, not by
    # PYTHONPATH, and what it starts sees the tree where the node binds it.
    env = dict(NODE_ENV)
    log = (node_dir / "boot.log").open("w")
    proc = subprocess.Popen(
        [
            "nsenter",
            f"--net=/run/netns/{rec.netns}",
            "unshare",
            "--mount",
            "--uts",
            "--pid",
            "--fork",
            # The init dies with unshare, however unshare dies: no init outlives what
            # the lab recorded (rec.unshare), even one that never said it was ready.
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            # The init imports nothing of ours, so it runs as a script in isolated mode
            # without site: no site-packages scan and no editable-install finders,
            # half of its start-up, at four nodes a lab and every reboot.
            sys.executable,
            "-I",
            "-S",
            str(Path(nodeinit.__file__)),
            "--node-dir",
            str(node_dir),
            "--hostname",
            hostname,
            "--source",
            source,
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env=env,
        start_new_session=True,
    )
    log.close()
    rec.unshare = ProcessId.of(proc.pid)
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        if ready.exists():
            break
        if proc.poll() is not None:
            raise NodeError(f"{hostname}: boot failed: {(node_dir / 'boot.log').read_text()}")
        time.sleep(0.01)
    else:
        proc.kill()  # and with it the init (--kill-child) and its PID namespace
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(KILL_TIMEOUT)  # the lab's cleanup waits for what is left
        raise NodeError(f"{hostname}: not booted after {BOOT_TIMEOUT:.0f} s")
    kids = children(proc.pid)
    if len(kids) != 1:
        raise NodeError(f"{hostname}: cannot find the node's init (children of {proc.pid})")
    rec.init = ProcessId.of(kids[0])


def kill(rec: NodeRecord) -> None:
    """Pull the plug: SIGKILL the init, and the kernel kills the whole PID namespace."""
    ids = [p for p in (rec.init, rec.unshare) if p is not None]
    for pid in ids:
        pid.kill(signal.SIGKILL)
    if not wait_gone(ids, KILL_TIMEOUT):
        raise NodeError(f"{rec.name}: processes still alive after SIGKILL")
    if rec.unshare is not None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(rec.unshare.pid, os.WNOHANG)  # reap it if it is our child
    rec.init = rec.unshare = None


def is_on(rec: NodeRecord) -> bool:
    return rec.on


def enter_argv(rec: NodeRecord, argv: list[str], workdir: str = "/root") -> list[str]:
    if not is_on(rec) or rec.init is None:
        raise NodeError(f"{rec.name} is powered off")
    return [
        "nsenter",
        "-t",
        str(rec.init.pid),
        "-n",
        "-m",
        "-u",
        "-p",
        f"--wd={workdir}",
        "env",
        "-i",
        *[f"{k}={v}" for k, v in _env().items()],
        *argv,
    ]


def _env() -> dict[str, str]:
    env = dict(NODE_ENV)
    if "TERM" in os.environ:
        env["TERM"] = os.environ["TERM"]
    return env


def run(
    rec: NodeRecord, argv: list[str], timeout: float = 60.0, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a command inside the node and collect its output."""
    done = subprocess.run(
        enter_argv(rec, argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and done.returncode != 0:
        raise NodeError(
            f"{rec.name}: {' '.join(argv)} failed ({done.returncode}): "
            f"{done.stderr.strip() or done.stdout.strip()}"
        )
    return done


def node_path(rec: NodeRecord, path: str) -> Path:
    """A path as the node sees it (through its init's root: its own mounts)."""
    if rec.init is None:
        raise NodeError(f"{rec.name} is powered off")
    return Path(f"/proc/{rec.init.pid}/root") / path.lstrip("/")


def daemon_host_pid(rec: NodeRecord) -> int | None:
    """The host PID of the heartbeat daemon's main process, if it runs."""
    if not is_on(rec) or rec.init is None:
        return None
    try:
        ns_pid = int(node_path(rec, PIDFILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    pid_ns = pid_namespace(rec.init.pid)
    return ns_pid_map(pid_ns).get(ns_pid) if pid_ns else None


def daemon_tree(rec: NodeRecord) -> list[int]:
    """Host PIDs of the daemon's main process and its children (not resources).

    Heartbeat forks read/write/FIFO children and respawns ipfail; resources such as
    nginx daemonise away from it and are not part of the tree.
    """
    main = daemon_host_pid(rec)
    if main is None:
        return []
    tree = [main]
    for _ in range(3):  # children and grandchildren are the whole daemon
        for pid in list(tree):
            tree += [k for k in children(pid) if k not in tree and _is_daemon_child(k)]
    return tree


def _is_daemon_child(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    # Scripts heartbeat runs for resources (ResourceManager, IPaddr…) are not the daemon.
    return b"heartbeat:" in cmd or b"ipfail" in cmd or b"hbnode" in cmd
