"""What the daemon tells systemd (hbnode.service, ``Type=notify``), and when.

* ``READY=1`` once the configuration is loaded and every heartbeat link is open
  and has sent its first status: ``systemctl start`` returns then, not when the
  cluster has settled (with the tutorial's ``initdead 60`` that could be a minute,
  and a lone first node would never settle).
* ``STATUS=`` with the cluster as this node sees it, whenever that changes:
  ``systemctl status hbnode`` shows ``active, holding all; slave active (eth1 up)``.
* ``STOPPING=1`` when the orderly shutdown begins, i.e. the handover to the peer;
  ``RELOADING=1`` then ``READY=1`` around a SIGHUP (``systemctl reload``).
* ``WATCHDOG=1`` from the daemon's loop (``WatchdogSec=``): a loop that stops
  turning stops pinging, and systemd restarts the daemon.

The status line is computed from the node (sans-IO); sending is hbnode.sdnotify's.
"""

from __future__ import annotations

from hbnode.core.states import LinkStatus, NodeStatus
from hbnode.node import Node
from hbnode.sdnotify import Notifier

STATUS_INTERVAL = 0.5  # seconds between two looks at whether the status line changed


def status_line(node: Node) -> str:
    """One line for ``systemctl status``: phase, holdings, each peer and its links."""
    core = node.core
    if node.stopping:
        phase = "stopping: handing resources over"
    elif not core.comm_up():
        phase = "starting: waiting for the cluster (initdead)"
    else:
        phase = f"active, holding {node.rm.rscstatus()}"
    peers = []
    for peer in (name for name in node.hacf.nodes if name != node.me):
        links = core.links(peer)
        up = [link for link in links if core.link_status(peer, link) is LinkStatus.UP]
        down = [link for link in links if link not in up]
        detail = ", ".join([*(f"{link} up" for link in up), *(f"{link} dead" for link in down)])
        peers.append(f"{peer} {core.node_status(peer)}" + (f" ({detail})" if detail else ""))
    pings = node.ping_names
    if pings:
        alive = sum(1 for name in pings if core.node_status(name) is NodeStatus.PING)
        peers.append(f"ping nodes {alive}/{len(pings)} up")
    return "; ".join([phase, *peers])


class ServiceNotices:
    """The daemon's side of the notification protocol, on its loop's timer surface."""

    def __init__(self, notifier: Notifier, node: Node) -> None:
        self.notifier = notifier
        self.node = node
        self._next_status: float | None = None

    def ready(self, now: float) -> None:
        if not self.notifier.active:
            return
        self.notifier.ready(status_line(self.node))
        self.notifier.start_watchdog(now)
        self._next_status = now + STATUS_INTERVAL

    def stopping(self) -> None:
        self.notifier.stopping(status_line(self.node))

    def reloading(self) -> None:
        """SIGHUP (ExecReload): systemctl shows "reloading" until :meth:`reloaded`."""
        self.notifier.notify("RELOADING=1")

    def reloaded(self) -> None:
        self.notifier.notify("READY=1", f"STATUS={status_line(self.node)}")

    def get_timer(self) -> float | None:
        timers = [t for t in (self.notifier.get_timer(), self._next_status) if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        self.notifier.handle_timer(now)
        if self._next_status is not None and now >= self._next_status:
            self.notifier.status(status_line(self.node))
            self._next_status = now + STATUS_INTERVAL

    def close(self) -> None:
        self.notifier.close()
