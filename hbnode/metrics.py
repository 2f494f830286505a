"""The opt-in Prometheus endpoint: ha.cf ``hbnode_metrics ADDRESS:PORT``.

Served by prometheus_client (its WSGI app, a registry of our own) from a thread
of the daemon. A scrape must not read the node's state while the loop changes
it, so the collector asks the daemon what any tool asks: the ``status`` command
over the control socket. The loop answers it between two datagrams, and the
metrics are the very snapshot ``hbnode status --json`` prints
(hbnode.metrics_families). A loop that does not answer within
:data:`SCRAPE_TIMEOUT` gives ``hbnode_up 0`` rather than a stale picture.

This module is imported only when the directive is set: the daemon has no
dependency on prometheus_client otherwise.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, ProcessCollector, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hbnode.control import ControlError, request
from hbnode.metrics_families import families

SCRAPE_TIMEOUT = 2.0  # a scrape waits this long for the loop's snapshot
Fetch = Callable[[], dict[str, Any]]


def fetch_status() -> dict[str, Any]:
    """The daemon's own snapshot, through its control socket."""
    return request("status", timeout=SCRAPE_TIMEOUT)


class StatusCollector(Collector):
    """Collects at scrape time from a fresh snapshot."""

    def __init__(self, fetch: Fetch = fetch_status) -> None:
        self.fetch = fetch

    def collect(self) -> Iterable[Metric]:
        try:
            snap = self.fetch()
        except ControlError:
            snap = {}
        answered = "nodes" in snap  # an {"error": …} reply is no snapshot either
        yield GaugeMetricFamily(
            "hbnode_up", "1 if the daemon's loop answered this scrape", value=int(answered)
        )
        if answered:
            yield from families(snap)


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds up the daemon's exit


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """One line per scrape on stderr would flood the journal."""


class MetricsServer:
    """The HTTP endpoint on ADDRESS:PORT, in a thread; :meth:`close` stops it."""

    def __init__(self, address: str, port: int, fetch: Fetch = fetch_status) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StatusCollector(fetch))
        # The daemon's own CPU, memory and descriptors (process_* metrics).
        ProcessCollector(registry=self.registry)
        app = make_wsgi_app(self.registry)
        # Binds now: a taken port or a foreign address fails here, in the caller.
        self.httpd = make_server(address, port, app, _Server, handler_class=_QuietHandler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="hbnode-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()  # returns once serve_forever has (poll every 0.5 s)
        self.httpd.server_close()
