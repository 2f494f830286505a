"""systemd's service notifications (sd_notify(3)) with the standard library alone.

Under ``Type=notify`` systemd hands the service ``$NOTIFY_SOCKET``, a datagram
socket; the service sends newline-separated ``KEY=VALUE`` assignments to it:
``READY=1`` once it serves, ``STOPPING=1`` when it begins to stop, ``STATUS=…``
for ``systemctl status``, ``WATCHDOG=1`` at least every half ``$WATCHDOG_USEC``
when the unit has ``WatchdogSec=``. libsystemd is not needed for that (and the
daemon must not grow a dependency for it): one ``sendto`` per notification.

The address is a filesystem path, or an abstract socket written with a leading
``@``. Nothing here may stop the daemon: a missing or dead socket makes every
call a no-op that counts its failure. The variables are taken out of the
environment once read (sd_notify's ``unset_environment``), so resource scripts
and respawned clients do not talk to systemd in the daemon's name.
"""

from __future__ import annotations

import socket
from collections.abc import MutableMapping

WATCHDOG_FRACTION = 0.5  # sd_watchdog_enabled(3): ping at half the timeout


def _address(raw: str) -> str | bytes | None:
    """The sockaddr for ``$NOTIFY_SOCKET``: a path, or b'\\0name' for ``@name``."""
    if raw.startswith("/"):
        return raw
    if raw.startswith("@") and len(raw) > 1:
        return b"\0" + raw[1:].encode()
    return None  # e.g. systemd 253's vsock: addresses, which 252 never hands out


class Notifier:
    """Sends notifications to the service manager, if there is one.

    ``watchdog_interval`` is how often :meth:`watchdog_due` asks for a
    ``WATCHDOG=1`` (half of ``$WATCHDOG_USEC``), None when the unit has no
    ``WatchdogSec=`` or the watchdog is meant for another process.
    """

    def __init__(self, address: str | None, watchdog_interval: float | None = None) -> None:
        self.address = address
        self._target = _address(address) if address else None
        self.watchdog_interval = watchdog_interval
        self._sock: socket.socket | None = None
        self._next_ping: float | None = None
        self._last_status: str | None = None
        self.sent = 0
        self.errors = 0

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str], pid: int) -> Notifier:
        """Read, then remove, ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``."""
        address = environ.pop("NOTIFY_SOCKET", None) or None
        usec = environ.pop("WATCHDOG_USEC", "")
        owner = environ.pop("WATCHDOG_PID", "")
        interval = None
        if usec.isdigit() and int(usec) > 0 and (not owner or owner == str(pid)):
            interval = int(usec) / 1e6 * WATCHDOG_FRACTION
        return cls(address, interval if address else None)

    @property
    def active(self) -> bool:
        return self._target is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; False if it could not be sent."""
        if self._target is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)  # a full queue must not stall heartbeats
            self._sock.sendto("\n".join(assignments).encode(), self._target)
        except OSError:
            self.errors += 1
            return False
        self.sent += 1
        return True

    def ready(self, status: str) -> None:
        """READY=1: the configuration is loaded and the links are open."""
        self._last_status = status
        self.notify("READY=1", f"STATUS={status}")

    def stopping(self, status: str) -> None:
        """STOPPING=1: the orderly shutdown (the handover to the peer) has begun."""
        self._last_status = status
        self.notify("STOPPING=1", f"STATUS={status}")

    def status(self, text: str) -> None:
        """STATUS=, only when it changed (systemctl shows the last one)."""
        if text != self._last_status:
            self._last_status = text
            self.notify(f"STATUS={text}")

    # -- the watchdog: aioquic's timer surface, driven by the daemon's loop --------
    def start_watchdog(self, now: float) -> None:
        if self.watchdog_interval is not None:
            self._next_ping = now

    def get_timer(self) -> float | None:
        """When the loop must wake to ping the watchdog; None without one."""
        return self._next_ping

    def handle_timer(self, now: float) -> None:
        """Ping when due. Only a turning loop gets here, so a stalled loop pings
        nothing and systemd kills it (SIGABRT) after WatchdogSec."""
        if self._next_ping is None or self.watchdog_interval is None or now < self._next_ping:
            return
        self.notify("WATCHDOG=1")
        self._next_ping = now + self.watchdog_interval

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
