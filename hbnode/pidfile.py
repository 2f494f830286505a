"""The pid file at Heartbeat's path, /var/run/heartbeat.pid.

Init scripts, `hblab` and people's habits find the daemon there, whichever
implementation runs on the node.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PIDFILE = Path("/run/heartbeat.pid")


def read_pid(path: Path = PIDFILE) -> int | None:
    """The pid in the file if that process is alive, else None (stale file)."""
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def write_pid(path: Path = PIDFILE) -> None:
    """Claim the pid file; refuse if another live daemon holds it."""
    other = read_pid(path)
    if other is not None and other != os.getpid():
        raise FileExistsError(f"heartbeat already running as pid {other} ({path})")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, path)


def remove_pid(path: Path = PIDFILE) -> None:
    if read_pid(path) in (None, os.getpid()):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
