"""When to feed the watchdog device named by ha.cf's ``watchdog`` line: sans-IO.

What Heartbeat 3.0.6 does (heartbeat.c ``hb_init_watchdog``, ``hb_tickle_watchdog``,
``hb_close_watchdog``):

* at start it opens the device, sets its timeout to deadtime + 10 ms rounded
  up to whole seconds (``WDIOC_SETTIMEOUT``) and writes one byte at once;
* it writes one byte each time its own status message comes back through its
  loopback, i.e. once per keepalive, from its main loop;
* on an orderly exit it writes ``V`` and closes the device (the "magic close"),
  which tells the kernel driver to stop the timer;
* a daemon that stalls (``kill -STOP``, a hang) writes nothing more, and a
  daemon that crashes closes the device without ``V``: either way the timer
  runs out and the device resets the machine.

:class:`FeedSchedule` decides when to write, from the ``now`` it is given;
:mod:`hbnode.watchdog_io` does the writing.
"""

from __future__ import annotations

FEED = b"\0"  # hb_tickle_watchdog: write(fd, "", 1)
MAGIC_CLOSE = b"V"  # hb_close_watchdog: tells the driver this close is on purpose
EPSILON = 1e-6


def timeout_seconds(deadtime_ms: int) -> int:
    """hb_init_watchdog_interval: deadtime + 10 ms, rounded up to whole seconds."""
    return (deadtime_ms + 10 + 999) // 1000


class FeedSchedule:
    """One feed per keepalive while the daemon's loop turns; none once stopped.

    The surface is aioquic's: :meth:`get_timer` says when the loop must wake,
    :meth:`due` is asked at each turn and answers whether to write now.
    """

    def __init__(self, keepalive: float) -> None:
        if keepalive <= 0:
            raise ValueError("keepalive must be above 0")
        self.keepalive = keepalive
        self._next: float | None = None
        self.feeds = 0

    def start(self, now: float) -> None:
        """The device was opened: Heartbeat feeds it at once."""
        self._next = now

    def get_timer(self) -> float | None:
        """When the next feed is due; None when there is nothing to feed."""
        return self._next

    def due(self, now: float) -> bool:
        """True when a byte must be written now; the next one is then a keepalive away.

        After a stall the schedule restarts from ``now``: one write, not a burst
        of the ones that were missed (the device only needs to hear from us).
        """
        if self._next is None or now + EPSILON < self._next:
            return False
        following = self._next + self.keepalive
        self._next = following if following > now else now + self.keepalive
        self.feeds += 1
        return True

    def stop(self) -> None:
        """No more feeds (the device is closed, on purpose or after an error)."""
        self._next = None
