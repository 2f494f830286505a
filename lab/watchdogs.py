"""The lab's watchdog devices, as the lab core drives them: which, start, stop.

A cluster node whose ha.cf names ``watchdog DEVICE`` gets, at each boot, a device at
that path served by a lab.watchdog_server process of its own (recorded in the node's
record); a power cut takes it with the node. See lab.watchdog_fuse for the device.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab import netsock
from lab.errors import LabError
from lab.proc import ProcessId, wait_gone
from lab.source import source_root
from lab.state import NodeRecord

READY_TIMEOUT = 10.0
LOG_NAME = "watchdog.log"  # in the node's directory on this machine
SERVER = "lab.watchdog_server"
FSTYPE = "fuse.hblab-watchdog"  # the device's mount, as /proc/PID/mountinfo shows it


def device_path(hacf: str) -> str | None:
    """The device ha.cf's ``watchdog`` line names (the first one: set_watchdogdev)."""
    for line in hacf.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "watchdog":
            return words[1]
    return None


def configured(hacf: Path) -> str | None:
    """The device the node's own ha.cf names (read through the node's root), if any."""
    try:
        return device_path(hacf.read_text(errors="replace"))
    except OSError:
        return None


def start(
    backend: str, state_dir: Path, prefix: str, rec: NodeRecord, netns: str, path: str
) -> ProcessId:
    """Start the watchdog of the node's current boot; return once its device is there."""
    if rec.init is None:
        raise LabError(f"{rec.name} is powered off")
    log_path = Path(rec.node_dir) / LOG_NAME
    # In the node's network namespace: `hblab down --all` finds it with the node.
    argv = ["nsenter", f"--net={netsock.netns_path(netns)}", sys.executable, "-m", SERVER]
    argv += ["--backend", backend, "--state-dir", str(state_dir), "--node", rec.name]
    argv += ["--init", f"{rec.init.pid}:{rec.init.start_ticks}", "--path", path]
    # The tree hblab runs from, whatever `pip install -e` points at (as the nodes get it).
    env = {**os.environ, "PYTHONPATH": str(source_root()), "HBLAB_PREFIX": prefix}
    with log_path.open("a") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
            start_new_session=True,
        )  # fmt: skip
    pid = ProcessId.of(proc.pid)
    deadline = time.monotonic() + READY_TIMEOUT
    while pid is None or not is_mounted(rec.init.pid, path):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise LabError(f"{rec.name}: no watchdog device at {path} (see {log_path})")
        time.sleep(0.01)
    return pid


def is_mounted(init_pid: int, path: str) -> bool:
    """Whether the node (by its init) sees the lab's watchdog device at ``path``."""
    try:
        mounts = Path(f"/proc/{init_pid}/mountinfo").read_text()
    except OSError:
        return False
    for line in mounts.splitlines():
        fields = line.split()
        # mountinfo(5): field 5 is the mount point; the type follows the " - " separator.
        if len(fields) > 4 and fields[4] == path and f" - {FSTYPE} " in line:
            return True
    return False


def stop(rec: NodeRecord) -> None:
    """The node lost power: its watchdog goes too (unless this is it, resetting)."""
    pid, rec.watchdog = rec.watchdog, None
    if pid is None or pid.pid == os.getpid():
        return
    pid.kill(signal.SIGKILL)
    wait_gone([pid], 5.0)
