"""The watchdog device itself: open, feed, magic close. A thin adapter, logging as Heartbeat.

The timing is decided in :mod:`hbnode.watchdog`; this module only does the
system calls and says what went wrong in Heartbeat's words. The device is
opened non-blocking, so a FIFO with nobody reading it (a lab's stand-in for
/dev/watchdog) fails at once instead of hanging the start, as Heartbeat's
blocking open would. Failing to open is logged and the node runs on without a
watchdog, as Heartbeat does.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections.abc import Callable

from hbnode.hblog import HbLogger
from hbnode.watchdog import FEED, MAGIC_CLOSE, FeedSchedule, timeout_seconds

# linux/watchdog.h: _IOWR('W', 6, int)
WDIOC_SETTIMEOUT = (3 << 30) | (struct.calcsize("i") << 16) | (ord("W") << 8) | 6

Ioctl = Callable[[int, int, bytes], object]


class WatchdogDevice:
    """One open watchdog device (or none, after a failure)."""

    def __init__(self, path: str, log: HbLogger, ioctl: Ioctl = fcntl.ioctl) -> None:
        self.path = path
        self.log = log
        self._ioctl = ioctl
        self._fd: int | None = None
        self.writes = 0
        self.busy = 0  # feeds skipped because the device would block (a full FIFO)

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self, timeout_s: int) -> bool:
        """hb_init_watchdog: open, set the timeout, feed once. False if it could not open."""
        flags = os.O_WRONLY | os.O_CLOEXEC | os.O_NONBLOCK  # CLOEXEC: as Heartbeat's FD_CLOEXEC
        try:
            self._fd = os.open(self.path, flags)
        except OSError as exc:
            self.log.error(f"Cannot open watchdog device: {self.path} ({exc.strerror})")
            return False
        self.log.notice(f"Using watchdog device: {self.path}")
        try:
            self._ioctl(self._fd, WDIOC_SETTIMEOUT, struct.pack("i", timeout_s))
        except OSError as exc:
            # A FIFO or a plain file has no timeout to set; the device still works.
            message = f"WDIOC_SETTIMEOUT: Failed to set watchdog timer to {timeout_s} seconds."
            self.log.error(f"{message}: {exc.strerror}")
        self.feed()
        return self.is_open

    def feed(self) -> None:
        """hb_tickle_watchdog: one byte. A failed write closes the device (magic close)."""
        if self._fd is None:
            return
        try:
            os.write(self._fd, FEED)
        except BlockingIOError:
            self.busy += 1  # the reader is behind on bytes we already wrote: still fed
            return
        except OSError as exc:
            self.log.error(f"Watchdog write failure: closing {self.path}!: {exc.strerror}")
            self.magic_close()
            return
        self.writes += 1

    def magic_close(self) -> None:
        """hb_close_watchdog: write 'V', then close, so the device stops its timer."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.write(fd, MAGIC_CLOSE)
        except OSError as exc:
            failure = "Watchdog write magic character failure"
            self.log.error(f"{failure}: closing {self.path}!: {exc.strerror}")
        else:
            self.log.debug("Successful watchdog 'V' write")
        self._close(fd)

    def abandon(self) -> None:
        """Close without 'V' (a crash): the device keeps counting and resets the machine."""
        fd, self._fd = self._fd, None
        if fd is not None:
            self._close(fd)

    def _close(self, fd: int) -> None:
        try:
            os.close(fd)
        except OSError as exc:
            if exc.errno != errno.EBADF:
                self.log.error(f"Watchdog close(2) failed.: {exc.strerror}")
            return
        self.log.debug("Successful watchdog close")


class Watchdog:
    """The daemon's watchdog: the feed schedule (sans-IO) driving the device.

    The daemon calls :meth:`open` once it is up, :meth:`poll` at each turn of
    its loop (with :meth:`get_timer` among its deadlines), and :meth:`close`
    when it exits, saying whether the exit is orderly.
    """

    def __init__(
        self,
        device: WatchdogDevice,
        keepalive: float,
        deadtime_ms: int,
    ) -> None:
        self.device = device
        self.schedule = FeedSchedule(keepalive)
        self.timeout_s = timeout_seconds(deadtime_ms)

    def open(self, now: float) -> None:
        """Open the device (which feeds it once); then feed every keepalive."""
        if self.device.open(self.timeout_s):
            self.schedule.start(now)
            self.schedule.due(now)  # that first feed is the one open() just wrote

    def get_timer(self) -> float | None:
        return self.schedule.get_timer()

    def poll(self, now: float) -> None:
        """Feed the device if a keepalive has passed since the last feed."""
        if not self.schedule.due(now):
            return
        self.device.feed()
        if not self.device.is_open:
            self.schedule.stop()  # the write failed and closed it, as Heartbeat does

    def close(self, orderly: bool) -> None:
        """Magic close on an orderly exit; after a crash, close without 'V'."""
        self.schedule.stop()
        if orderly:
            self.device.magic_close()
        else:
            self.device.abandon()
