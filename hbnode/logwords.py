"""Heartbeat's words: the log lines and event-log steps for what the core and the rm report.

The cores never log; they report events. This module says what Heartbeat 3.0.6
would log for each (``node slave: is dead``, ``Link slave:eth1 up.``, ``Comm_now_up():
updating status to active``), so grep habits from Heartbeat keep working, and
records the failover's steps in the event log (``/var/log/ha-events.jsonl``).
The resource manager's own lines come with their words (hbnode.rm.events); here
they only get their level.

Sans-IO: the log and the event log are passed in (hbnode.hblog, hbnode.eventlog).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from hbnode.core import events as ev
from hbnode.core.states import NodeStatus
from hbnode.lograte import LogLimiter
from hbnode.message import Message
from hbnode.rm import RmEvent, StandbyScope


class LogSink(Protocol):
    """Heartbeat's log levels (hbnode.hblog.HbLogger)."""

    def debug(self, text: str) -> None: ...
    def info(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...
    def crit(self, text: str) -> None: ...


class EventSink(Protocol):
    """The failover event log (hbnode.eventlog.EventLog)."""

    def record(self, step: str, **fields: Any) -> object: ...


_DROPS_SAID_SPARINGLY = (ev.DropReason.UNKNOWN_NODE, ev.DropReason.REPLAY)


class HeartbeatWords:
    """Says in Heartbeat's words what ``me``'s core and resource manager report."""

    def __init__(
        self,
        log: LogSink,
        events: EventSink,
        wallclock: Callable[[], float],
        *,
        me: str,
        ping_names: Iterable[str],
    ) -> None:
        self.me = me
        self.log = log
        self.events = events
        self.wallclock = wallclock
        self.ping_names = frozenset(ping_names)
        self.drop_lines = LogLimiter()
        self.last_status_heard: dict[str, float] = {}  # peer → wall clock of its last status
        self._levels: dict[str, Callable[[str], None]] = {
            "crit": log.crit,
            "error": log.error,
            "err": log.error,
            "warn": log.warn,
            "info": log.info,
            "debug": log.debug,
        }

    # -- the node's own moments -------------------------------------------------------
    def generation(self, generation: int) -> None:
        self.log.info(f"Heartbeat generation: {generation}")

    def legacy_failback(self) -> None:
        self.log.warn("Deprecated 'legacy' auto_failback option selected.")
        self.log.warn("Please convert to 'auto_failback on'.")

    def local_status(self, status: NodeStatus) -> None:
        self.log.info(f"Local status now set to: '{status}'")

    def going_standby(self, scope: StandbyScope) -> None:
        self.log.info(f"Going standby [{scope}].")

    def resources_relinquished(self) -> None:
        self.log.info("All HA resources relinquished.")

    def status_heard(self, peer: str) -> None:
        """A status of ``peer`` was kept: the ``at`` of its ``last_heartbeat_heard`` step."""
        self.last_status_heard[peer] = self.wallclock()

    # -- what the core reports --------------------------------------------------------
    def link(self, event: ev.LinkStatusChanged) -> None:
        self.log.info(f"Link {event.node}:{event.link} {event.new}.")
        self.events.record("link", node=event.node, link=event.link, status=event.new)

    def node_status(self, event: ev.NodeStatusChanged) -> None:
        node, new = event.node, event.new
        if new is NodeStatus.DEAD:
            self.log.warn(f"node {node}: is dead")
        else:
            self.log.info(f"Status update for node {node}: status {new}")
        if node in self.ping_names:
            self.events.record("ping_node", node=node, status=new)
        elif new is NodeStatus.DEAD:
            self.events.record(
                "last_heartbeat_heard", node=node, at=self.last_status_heard.get(node)
            )
            self.events.record("peer_dead", node=node)
        else:
            self.events.record("peer_status", node=node, status=new)

    def late_heartbeat(self, event: ev.LateHeartbeat) -> None:
        line = f"Late heartbeat: Node {event.node}: interval {event.interval_ms} ms"
        if event.beyond_deadtime:
            self.log.crit(f"{line} (> deadtime)")
        else:
            self.log.warn(line)

    def comm_up(self, live_peers: Iterable[str]) -> None:
        self.log.info("Comm_now_up(): updating status to active")
        self.local_status(NodeStatus.ACTIVE)
        self.events.record("comm_up", peers=sorted(live_peers))

    def node_restarted(self, event: ev.NodeRestarted) -> None:
        self.log.info(f"Heartbeat restart on node {event.node}")
        self.events.record("peer_restart", node=event.node)

    def partition_healed(self, event: ev.PartitionHealed) -> None:
        log = self.log
        log.crit(f"Cluster node {event.node} returning after partition.")
        log.info(
            "For information on cluster partitions, See URL: http://linux-ha.org/wiki/Split_Brain"
        )
        log.warn("Deadtime value may be too small.")
        log.info("See FAQ for information on tuning deadtime.")
        log.info("URL: http://linux-ha.org/wiki/FAQ#Heavy_Load")
        self.events.record("partition_healed", node=event.node)

    def packets_lost(self, event: ev.PacketsLost) -> None:
        node, first, last = event.node, event.first, event.last
        self.log.warn(f"{event.count} lost packet(s) for [{node}] [{first}:{last}]")

    def delivered(self, msg: Message) -> None:
        src = msg.get("src")
        if msg.get("t") == "shutdone" and src != self.me:
            self.log.info(f"Received shutdown notice from '{src}'.")
            self.events.record("peer_shutdown_notice", node=src)

    def dropped(self, event: ev.Dropped) -> None:
        reason = event.reason
        if reason in _DROPS_SAID_SPARINGLY:
            # Counted every time (status --json); said once per interval per reason,
            # so signed junk from a key holder cannot fill the disk (lograte).
            log_now, suppressed = self.drop_lines.allow(reason, event.now)
            if not log_now:
                return
            if suppressed:
                self.log.warn(f"{suppressed} more message(s) dropped ({reason}) were not logged")
        node = _printable(event.node)  # from the wire: no forged log lines
        if reason is ev.DropReason.UNKNOWN_NODE:
            self.log.error(f"process_status_message: bad node [{node}] in message")
        elif reason is ev.DropReason.REPLAY:
            self.log.error(f"should_drop_message: attempted replay attack [{node}]? {event.detail}")
        else:
            self.log.debug(f"dropped message from {event.node}: {reason} {event.detail}")

    # -- what the resource manager reports ----------------------------------------------
    def rm_event(self, event: RmEvent) -> None:
        if event.level is not None:
            self._levels.get(event.level, self.log.info)(event.text)
        if event.step:
            fields: dict[str, Any] = {k: v for k, v in event.fields.items() if k != "at"}
            self.events.record(event.step, **fields)


def _printable(text: str) -> str:
    """``text`` with control characters escaped, as it may go into a log line."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
