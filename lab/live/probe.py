"""The client's HTTP probe, live: GET http://VIP/ from inside the client every
``interval``, each answer kept as the node that served the page (or None).

The same request as `hblab up` waits with (lab.ready.fetch_page): a fresh TCP
connection from a socket opened in the client's namespace, to the VIP only.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from lab.ready import fetch_page

HISTORY = 300  # probes kept: a minute at the default interval


class LiveProbe:
    def __init__(
        self,
        client_netns: Callable[[], str | None],
        vip: str,
        interval: float = 0.2,
        max_seconds: float = 3600.0,
        fetch: Callable[[str, str, float], str | None] = fetch_page,
    ) -> None:
        self.client_netns = client_netns
        self.vip, self.interval, self.max_seconds = vip, interval, max_seconds
        self.fetch = fetch
        self.samples: collections.deque[tuple[float, str | None]] = collections.deque(
            maxlen=HISTORY
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def recent(self) -> tuple[tuple[float, str | None], ...]:
        """The samples as they are now. tuple() copies the deque in one step that no
        other thread can cut into (the GIL is held throughout), while a loop over the
        deque itself fails if the probe's thread appends meanwhile ("deque mutated
        during iteration": the live model's thread died of it in CI of a167aa0)."""
        return tuple(self.samples)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="live-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def probe_once(self) -> None:
        netns = self.client_netns()
        if not netns:
            return  # no lab, or the client is off: nothing was asked, nothing recorded
        # The timeout stays under the interval, so a dead VIP costs one sample, not more.
        try:
            server = self.fetch(netns, self.vip, self.interval * 0.9)
        except OSError:
            server = None
        self.samples.append((time.time(), server))

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            self.probe_once()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
