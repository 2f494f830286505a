"""A hardware watchdog timer as Linux presents one (/dev/watchdog), sans-IO.

What the lab's watchdog device (lab.watchdog_fuse) answers, following the kernel's
watchdog core (drivers/watchdog/watchdog_dev.c) and Documentation/watchdog/
watchdog-api.rst:

* one opener at a time (a second ``open`` gets EBUSY); opening starts the timer;
* any ``write`` feeds it; a write containing ``V`` arms the "magic close";
* ``WDIOC_SETTIMEOUT`` sets the timeout (1..65535 s), feeds, and answers the
  timeout in force; ``WDIOC_KEEPALIVE`` feeds; ``WDIOC_GETTIMEOUT``,
  ``WDIOC_GETTIMELEFT``, ``WDIOC_GETSUPPORT``, ``WDIOC_GETSTATUS`` and
  ``WDIOC_GETBOOTSTATUS`` answer; anything else is ENOTTY;
* the last close after a ``V`` stops the timer; any other close (a daemon that
  crashed, or closed without ``V``) leaves it running: "watchdog did not stop!";
* when the timer runs out, the machine is reset.

``now`` is always passed in (seconds, monotonic); :meth:`WatchdogTimer.get_timer`
says when the timer would run out.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass

DEFAULT_TIMEOUT = 60  # softdog's soft_margin: the timeout before a daemon sets one
MIN_TIMEOUT, MAX_TIMEOUT = 1, 65535
IDENTITY = b"hblab watchdog"

# linux/watchdog.h
WDIOF_SETTIMEOUT = 0x0080
WDIOF_MAGICCLOSE = 0x0100
WDIOF_KEEPALIVEPING = 0x8000
OPTIONS = WDIOF_SETTIMEOUT | WDIOF_MAGICCLOSE | WDIOF_KEEPALIVEPING
WATCHDOG_INFO = struct.Struct("II32s")  # options, firmware_version, identity
INT = struct.Struct("i")


def _ioc(direction: int, number: int, size: int) -> int:
    """asm-generic/ioctl.h _IOC(dir, 'W', nr, size)."""
    return (direction << 30) | (size << 16) | (ord("W") << 8) | number


_IOR, _IOWR = 2, 3
WDIOC_GETSUPPORT = _ioc(_IOR, 0, WATCHDOG_INFO.size)
WDIOC_GETSTATUS = _ioc(_IOR, 1, INT.size)
WDIOC_GETBOOTSTATUS = _ioc(_IOR, 2, INT.size)
WDIOC_KEEPALIVE = _ioc(_IOR, 5, INT.size)
WDIOC_SETTIMEOUT = _ioc(_IOWR, 6, INT.size)
WDIOC_GETTIMEOUT = _ioc(_IOR, 7, INT.size)
WDIOC_GETTIMELEFT = _ioc(_IOR, 10, INT.size)


@dataclass(frozen=True, slots=True)
class IoctlReply:
    """What an ioctl answers: 0 or an errno, and the bytes copied back to the caller."""

    error: int = 0
    data: bytes = b""


class WatchdogTimer:
    """One watchdog device: who holds it open, the timeout, and when it runs out."""

    def __init__(self, timeout: int = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.deadline: float | None = None  # None: the timer is stopped
        self.holder: int | None = None  # the open file handle, if any
        self.expect_close = False  # the last write held a 'V'
        self.feeds = 0
        self.fired = False

    @property
    def running(self) -> bool:
        return self.deadline is not None

    def get_timer(self) -> float | None:
        """When the machine is reset unless the timer is fed or stopped first."""
        return self.deadline

    def open(self, handle: int, now: float) -> int:
        """watchdog_open: 0, or EBUSY when someone holds the device already."""
        if self.holder is not None:
            return errno.EBUSY
        self.holder, self.expect_close = handle, False
        self._feed(now)
        return 0

    def write(self, handle: int, data: bytes, now: float) -> None:
        """watchdog_write: any byte feeds; a 'V' among them arms the magic close."""
        if handle != self.holder:
            return
        self.expect_close = b"V" in data
        self._feed(now)

    def ioctl(self, handle: int, cmd: int, arg: bytes, now: float) -> IoctlReply:
        """watchdog_ioctl for the commands above; ``arg``: what the caller passed in."""
        if handle != self.holder:
            return IoctlReply(errno.EBADF)
        if cmd == WDIOC_SETTIMEOUT:
            (wanted,) = INT.unpack(arg[: INT.size].ljust(INT.size, b"\0"))
            if not MIN_TIMEOUT <= wanted <= MAX_TIMEOUT:
                return IoctlReply(errno.EINVAL)
            self.timeout = wanted
            self._feed(now)
            return IoctlReply(0, INT.pack(self.timeout))
        if cmd == WDIOC_KEEPALIVE:
            self._feed(now)
            return IoctlReply(0, INT.pack(0))
        if cmd == WDIOC_GETTIMEOUT:
            return IoctlReply(0, INT.pack(self.timeout))
        if cmd == WDIOC_GETTIMELEFT:
            left = 0 if self.deadline is None else max(0, int(self.deadline - now))
            return IoctlReply(0, INT.pack(left))
        if cmd in (WDIOC_GETSTATUS, WDIOC_GETBOOTSTATUS):
            return IoctlReply(0, INT.pack(0))
        if cmd == WDIOC_GETSUPPORT:
            return IoctlReply(0, WATCHDOG_INFO.pack(OPTIONS, 0, IDENTITY))
        return IoctlReply(errno.ENOTTY)

    def release(self, handle: int) -> bool:
        """watchdog_release: stop the timer after a magic close; True if it stopped."""
        if handle != self.holder:
            return False
        stopped = self.expect_close
        if stopped:
            self.deadline = None
        self.holder, self.expect_close = None, False
        return stopped

    def expire(self, now: float) -> bool:
        """True once, when the timer has run out: the machine must be reset now."""
        if self.deadline is None or now < self.deadline:
            return False
        self.deadline, self.fired = None, True
        return True

    def _feed(self, now: float) -> None:
        self.feeds += 1
        self.deadline = now + self.timeout
