"""API clients that hold their control connection open (hbnode-ipfail).

Heartbeat's API clients keep an IPC channel to the daemon, and the daemon learns
that a client died when the channel closes. A client that signs on with
``"hold": true`` gets the same here: its connection stays in the daemon's
selector, nothing more is said on it, and when the client exits or is killed the
kernel closes it and the daemon hears at once. No "alive" every second: an idle
client and an idle daemon both sleep.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
from collections.abc import Callable

MAX_HELD = 8  # held connections are file descriptors: only haclient members get one


class HeldClients:
    def __init__(self, selector: selectors.BaseSelector, gone: Callable[[str], None]) -> None:
        self.selector = selector
        self.gone = gone  # called with the client's name when its connection closes
        self.conns: dict[socket.socket, str] = {}

    def room(self) -> bool:
        return len(self.conns) < MAX_HELD

    def hold(self, conn: socket.socket, name: str) -> None:
        conn.setblocking(False)
        self.conns[conn] = name
        self.selector.register(conn, selectors.EVENT_READ, self._readable)

    def _readable(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            return  # a held client has nothing to say; whatever it sends is dropped
        name = self._drop(conn)
        if name is not None:
            self.gone(name)

    def _drop(self, conn: socket.socket) -> str | None:
        name = self.conns.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn)
        conn.close()
        return name

    def close(self) -> None:
        """At exit: every held client sees its connection close (and ends)."""
        for conn in list(self.conns):
            self._drop(conn)
