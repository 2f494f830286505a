"""The lab's watchdog device file: a one-file FUSE filesystem mounted inside a node.

A node cannot share this machine's watchdog (resetting it would reset the lab), the
kernel's softdog is one per machine, and this kernel has no CUSE for a character
device of our own. A FUSE file at ha.cf's path behaves like the hardware for both
implementations: ``open`` (one holder), ``write`` (a feed), the watchdog ioctls
(FUSE passes ``_IOC``-encoded ioctls through, so ``WDIOC_SETTIMEOUT`` sets the
timeout the daemon asks for, as on a real device) and the magic close. The timer
itself is lab.watchdog_timer; libfuse 3 (through mfusepy) speaks the kernel protocol.

The mount is made inside the node's mount namespace by ``nsenter … mount`` with an
already opened /dev/fuse descriptor (``fd=N``), and libfuse serves that descriptor
(``/dev/fd/N``: it mounts nothing itself). When the node is powered off its mount
namespace goes, the kernel ends the connection, and :func:`serve` returns.
"""

from __future__ import annotations

import ctypes
import os
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")  # /dev/fd/N mounts need libfuse 3
import mfusepy

from lab.watchdog_timer import WDIOC_SETTIMEOUT, WatchdogTimer
from lab.watchdogs import FSTYPE

MODE = stat.S_IFREG | 0o600  # a regular file (FUSE's root can't be a device): root-only


def mount_into(init_pid: int, path: str) -> int:
    """Open /dev/fuse and mount it on ``path`` inside the namespace of ``init_pid``.

    Returns the descriptor to serve. The mount point (and its directory) is made
    if the node has none: in the node's own /dev (lab.nodeinit, or a container's).
    """
    fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
    options = f"fd={fd},rootmode={stat.S_IFREG:o},user_id=0,group_id=0"
    options += ",allow_other,default_permissions"  # any root process in the node; mode 600
    script = 'mkdir -p "$(dirname "$1")" && : >>"$1" && exec mount -i -t "$2" -o "$3" "$4" "$1"'
    enter = ["nsenter", "-t", str(init_pid), "-m", "--"]
    done = subprocess.run(
        [*enter, "sh", "-c", script, "mount", path, FSTYPE, options, "hblab-watchdog"],
        pass_fds=[fd],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if done.returncode != 0:
        os.close(fd)
        raise OSError(f"cannot mount the watchdog on {path}: {done.stderr.strip()}")
    return fd


class DeviceState:
    """The timer, guarded: FUSE calls and the expiry thread both touch it."""

    def __init__(self, timer: WatchdogTimer, log: Callable[[str], None]) -> None:
        self.timer = timer
        self.log = log
        self.changed = threading.Condition()
        self.closed = False  # the FUSE connection ended: the node is gone

    def update(self, change: Callable[[WatchdogTimer, float], Any]) -> Any:
        with self.changed:
            result = change(self.timer, time.monotonic())
            self.changed.notify_all()
            return result


class WatchdogFile(mfusepy.Operations):  # type: ignore[misc]
    """The FUSE operations of the one file: each one is the driver's entry point."""

    use_ns = True

    def __init__(self, device: DeviceState) -> None:
        self.device = device
        self._handles = 0

    def getattr(self, path: str, fh: Any = None) -> dict[str, int]:
        now = time.time_ns()
        return {"st_mode": MODE, "st_nlink": 1, "st_size": 0, "st_uid": 0, "st_gid": 0,
                "st_atime": now, "st_mtime": now, "st_ctime": now}  # fmt: skip

    def open(self, path: str, info: Any) -> int:
        self._handles += 1
        handle = self._handles
        error = self.device.update(lambda t, now: t.open(handle, now))
        if error:
            raise mfusepy.FuseOSError(error)
        info.fh, info.direct_io, info.nonseekable = handle, 1, 1  # every write reaches us
        self.device.log(f"opened by pid {_caller()}: armed, timeout {self.device.timer.timeout} s")
        return 0

    def write(self, path: str, data: bytes, offset: int, info: Any) -> int:
        self.device.update(lambda t, now: t.write(info.fh, data, now))
        return len(data)

    def truncate(self, path: str, length: int, fh: Any = None) -> int:
        return 0  # `echo 1 > /dev/watchdog` opens with O_TRUNC

    def ioctl(self, path: str, cmd: int, arg: Any, info: Any, flags: int, data: Any) -> int:
        size = (cmd >> 16) & 0x3FFF
        given = ctypes.string_at(data, size) if data and size else b""
        reply = self.device.update(lambda t, now: t.ioctl(info.fh, cmd, given, now))
        if reply.error:
            raise mfusepy.FuseOSError(reply.error)
        if reply.data and data:
            ctypes.memmove(data, reply.data, min(size, len(reply.data)))
        if cmd == WDIOC_SETTIMEOUT:
            self.device.log(f"timeout set to {self.device.timer.timeout} s")
        return 0

    def flush(self, path: str, info: Any) -> int:
        return 0

    def release(self, path: str, info: Any) -> int:
        stopped = self.device.update(lambda t, now: t.release(info.fh))
        self.device.log("closed with 'V': stopped" if stopped else "closed without 'V': running")
        return 0


def _caller() -> int:
    return int(mfusepy.fuse_get_context()[2])


def serve(fd: int, device: DeviceState) -> None:
    """Answer the kernel on ``fd`` until the node's mount is gone (single-threaded)."""
    try:
        mfusepy.FUSE(WatchdogFile(device), f"/dev/fd/{fd}", foreground=True, nothreads=True,
                     raw_fi=True)  # fmt: skip
    finally:
        with device.changed:
            device.closed = True
            device.changed.notify_all()


def watch(device: DeviceState, on_expiry: Callable[[float], None]) -> None:
    """Wait for the timer to run out (then call ``on_expiry`` once, with how late this
    process noticed it, in seconds) or for the node to go."""
    with device.changed:
        while not device.closed:
            deadline = device.timer.get_timer()
            now = time.monotonic()
            if deadline is not None and device.timer.expire(now):
                break
            device.changed.wait(None if deadline is None else max(0.0, deadline - now))
        else:
            return
    on_expiry(now - deadline)
