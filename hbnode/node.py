"""One cluster node: the messaging core and the resource manager, glued and logged.

Still sans-IO: the daemon passes every input in with the time it happened and
takes out what must be sent, probed or run. This module owns the translation
between the two state machines (a peer declared dead → mach_down, a delivered
``resource`` message → the resource manager) and the words the log uses, so
people's grep habits from Heartbeat keep working.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hbnode import __version__
from hbnode.config import ClusterConfig
from hbnode.config.hacf import AutoFailback
from hbnode.core import events as ev
from hbnode.core.protocol import HeartbeatCore
from hbnode.core.states import LinkStatus, NodeStatus
from hbnode.core.timers import Timers
from hbnode.eventlog import EventLog
from hbnode.hblog import HbLogger, Level
from hbnode.lograte import LogLimiter
from hbnode.message import Message
from hbnode.persist import load_uuid, next_generation
from hbnode.rm import Action, ResourceManager, StandbyScope
from hbnode.rm.events import RmEvent

FINAL_STATUS_TIME = 0.5  # keep saying "I am here" briefly after shutdone, as Heartbeat does
CLIENT_TIMEOUT = 3.0  # an API client silent this long is gone


@dataclass(frozen=True, slots=True)
class Persisted:
    generation: int
    uuid: bytes


def load_persisted(config: ClusterConfig) -> Persisted:
    return Persisted(next_generation(method=config.hacf.hbgenmethod.value), load_uuid())


class Node:
    def __init__(
        self,
        config: ClusterConfig,
        logger: HbLogger,
        *,
        now: float,
        wallclock: Callable[[], float],
        persisted: Persisted | None = None,
        events: EventLog | None = None,
        rng: random.Random | None = None,
        loadavg: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        self.hacf = config.hacf
        self.me = config.node_name
        self.log = logger
        self.drop_lines = LogLimiter()
        self.wallclock = wallclock
        self.events = events if events is not None else EventLog(None, wallclock)
        state = persisted if persisted is not None else load_persisted(config)
        self.generation = state.generation
        self.log.info(f"Heartbeat generation: {self.generation}")
        hacf = self.hacf
        self.timers = Timers.from_hacf(hacf)
        self.ping_names = hacf.ping_node_names
        self.core = HeartbeatCore(
            me=self.me,
            nodes=list(hacf.nodes),
            ping_nodes=self.ping_names,
            timers=self.timers,
            generation=self.generation,
            uuid=state.uuid,
            rng=rng or random.Random(),
            wallclock=wallclock,
            loadavg=loadavg or _read_loadavg,
            ping_groups=[group.name for group in hacf.ping_groups],
            media=sorted({medium.dev for medium in hacf.media}),
            exact_dead_check=True,  # dead at the deadline, not the next 250 ms tick
        )
        self.rm = ResourceManager(
            me=self.me,
            nodes=list(hacf.nodes),
            groups=list(config.resource_groups),
            auto_failback=hacf.auto_failback,
            keepalive=self.timers.keepalive,
            deadtime=self.timers.deadtime,
            deadping=self.timers.deadping,
            ping_nodes=self.ping_names,
            isolation=hacf.isolation and bool(self.ping_names),
            ipfail=False,  # on while the respawned ipfail client is signed on
            early_isolation=True,
        )
        self.early_isolation = hacf.isolation and bool(self.ping_names)
        self.heard: dict[str, float] = {}  # peer or ping node → when (monotonic) last heard
        self.suspected = False
        self.started_at = now
        self.actions: list[Action] = []
        self.stopping = False
        self.stop_deadline: float | None = None
        self.last_status_heard: dict[str, float] = {}
        self.clients: dict[str, float] = {}  # API client name → when it last said alive
        if hacf.auto_failback is AutoFailback.LEGACY:
            self.log.warn("Deprecated 'legacy' auto_failback option selected.")
            self.log.warn("Please convert to 'auto_failback on'.")

    # -- inputs ------------------------------------------------------------------
    def start(self, now: float) -> None:
        self.rm.start(now)  # probe what an earlier daemon may have left running
        self.core.start(now)
        self.log.info("Local status now set to: 'up'")
        self._pump(now)

    def receive(self, msg: Message, ifname: str, now: float) -> None:
        src = msg.get("src") if msg.get("t") == "status" else None
        peer = src if src is not None and src != self.me and src in self.hacf.nodes else None
        before = self.core.last_alive(peer) if peer is not None else 0.0
        self.core.receive(msg, ifname, now)
        # Only a status the core kept proves life: a replayed or malformed one
        # must not hold off the isolation check.
        if peer is not None and self.core.last_alive(peer) > before:
            self.last_status_heard[peer] = self.wallclock()
            self.heard[peer] = now
        self._check_isolation(now)
        self._pump(now)

    def ping_reply(self, name: str, now: float) -> None:
        if name in self.ping_names:
            self.heard[name] = now
        self.core.ping_reply(name, now)
        self._check_isolation(now)
        self._pump(now)

    def action_done(self, action_id: int, ok: bool, now: float) -> None:
        self.rm.action_done(action_id, ok, now)
        self._pump(now)

    def get_timer(self) -> float | None:
        deadlines = [t for t in (self.core.get_timer(), self.rm.get_timer()) if t is not None]
        if self.stop_deadline is not None:
            deadlines.append(self.stop_deadline)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        if "ipfail" in self.clients and not self._ipfail_alive(now):
            self.clients.pop("ipfail")
            self.log.warn("client ipfail stopped answering: ipfail policy off")
            self.rm.set_ipfail(False, now)
        self.core.handle_timer(now)
        self.rm.handle_timer(now)
        self._check_isolation(now)
        self._pump(now)

    def _check_isolation(self, now: float) -> None:
        """Tell the resource manager early when we look cut off (hbnode_isolation).

        Peer and every ping node silent for warntime: almost surely our own link is
        gone. Letting go now, before the peer's deadtime runs out and it takes over,
        is what keeps the VIP from ever having two holders.
        """
        if not self.early_isolation or self.stopping or not self.core.comm_up():
            return
        limit = self.timers.warntime
        watched = [n for n in self.hacf.nodes if n != self.me] + self.ping_names
        silent = all(now - self.heard.get(name, -limit) >= limit for name in watched)
        if silent != self.suspected:
            self.suspected = silent
            self.events.record("isolation_suspected" if silent else "isolation_cleared")
            self.rm.suspect_isolation(silent, now)

    def shutdown(self, now: float) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.rm.shutdown(now)
        self._pump(now)

    def finished(self, now: float) -> bool:
        """True once shutdone is out and the last status messages have been sent."""
        return self.stop_deadline is not None and now >= self.stop_deadline

    # -- outputs -----------------------------------------------------------------
    def ping_targets(self) -> dict[str, list[str]]:
        """Ping pseudo-node name → the addresses probed for it (a group has several)."""
        targets = {address: [address] for address in self.hacf.ping_nodes}
        for group in self.hacf.ping_groups:
            targets[group.name] = list(group.addresses)
        return targets

    def take_outgoing(self, now: float) -> list[Message]:
        return self.core.take_outgoing()

    def take_ping_probes(self, now: float) -> list[tuple[str, Message]]:
        return self.core.take_ping_probes()

    def take_actions(self) -> list[Action]:
        actions, self.actions = self.actions, []
        return actions

    # -- the glue ----------------------------------------------------------------
    def _pump(self, now: float) -> None:
        """Move events between the two machines until both are quiet (bounded)."""
        for _ in range(64):
            core_events = self.core.take_events()
            for event in core_events:
                self._on_core_event(event, now)
            outgoing = self.rm.take_outgoing()
            for msg in outgoing:
                self.core.send(msg, now)
            self.actions += self.rm.take_actions()
            rm_events = self.rm.take_events()
            for rm_event in rm_events:
                self._on_rm_event(rm_event)
            if not (core_events or outgoing or rm_events):
                break
        if self.stopping and self.stop_deadline is None and self.rm.shutdown_done():
            self.log.info("All HA resources relinquished.")
            self.stop_deadline = now + FINAL_STATUS_TIME

    def _on_core_event(self, event: object, now: float) -> None:
        log = self.log
        if isinstance(event, ev.Delivered):
            self._delivered(event.msg, now)
        elif isinstance(event, ev.NodeStatusChanged):
            self._node_status(event, now)
        elif isinstance(event, ev.LinkStatusChanged):
            log.info(f"Link {event.node}:{event.link} {event.new}.")
            self.events.record("link", node=event.node, link=event.link, status=event.new)
            if event.node != self.me and event.node not in self.ping_names:
                self.rm.link_status(event.node, event.new is LinkStatus.UP, now)
        elif isinstance(event, ev.LateHeartbeat):
            if event.beyond_deadtime:
                log.crit(
                    f"Late heartbeat: Node {event.node}: interval {event.interval_ms} ms"
                    " (> deadtime)"
                )
            else:
                log.warn(f"Late heartbeat: Node {event.node}: interval {event.interval_ms} ms")
        elif isinstance(event, ev.CommUp):
            log.info("Comm_now_up(): updating status to active")
            log.info("Local status now set to: 'active'")
            self.core.set_status(NodeStatus.ACTIVE, now)
            live = {n for n in self.hacf.nodes if n != self.me and self._alive(n)}
            self.events.record("comm_up", peers=sorted(live))
            self.rm.comm_up(live, now)
        elif isinstance(event, ev.NodeRestarted):
            log.info(f"Heartbeat restart on node {event.node}")
            self.events.record("peer_restart", node=event.node)
            self.rm.node_restarted(event.node, now)
        elif isinstance(event, ev.PartitionHealed):
            self.core.send_status_now(now)  # as Heartbeat does: tell the peer at once
            log.crit(f"Cluster node {event.node} returning after partition.")
            log.info(
                "For information on cluster partitions, See URL: "
                "http://linux-ha.org/wiki/Split_Brain"
            )
            log.warn("Deadtime value may be too small.")
            log.info("See FAQ for information on tuning deadtime.")
            log.info("URL: http://linux-ha.org/wiki/FAQ#Heavy_Load")
            self.events.record("partition_healed", node=event.node)
            self.rm.partition_healed(event.node, now)
        elif isinstance(event, ev.PacketsLost):
            log.warn(
                f"{event.count} lost packet(s) for [{event.node}] [{event.first}:{event.last}]"
            )
        elif isinstance(event, ev.Dropped):
            self._dropped(event)

    def _alive(self, node: str) -> bool:
        """A peer counts as alive at comm-up if it is up or active, or if any packet of
        it has been heard: its first packet may be a resource message (it has just
        taken over from us) rather than a status, and then its status still says init."""
        status = self.core.node_status(node)
        if status in (NodeStatus.UP, NodeStatus.ACTIVE):
            return True
        if status is NodeStatus.DEAD:
            return False
        links = self.core.links(node)
        return any(self.core.link_status(node, link) is LinkStatus.UP for link in links)

    def _dropped(self, event: ev.Dropped) -> None:
        reason = event.reason
        if reason in (ev.DropReason.UNKNOWN_NODE, ev.DropReason.REPLAY):
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

    def _node_status(self, event: ev.NodeStatusChanged, now: float) -> None:
        node, new = event.node, event.new
        if node in self.ping_names:
            if new is NodeStatus.DEAD:
                self.log.warn(f"node {node}: is dead")
            else:
                self.log.info(f"Status update for node {node}: status {new}")
            self.events.record("ping_node", node=node, status=new)
            self.rm.ping_status(node, new is NodeStatus.PING, now)
            return
        if new is NodeStatus.DEAD:
            self.log.warn(f"node {node}: is dead")
            heard = self.last_status_heard.get(node)
            self.events.record("last_heartbeat_heard", node=node, at=heard)
            self.events.record("peer_dead", node=node)
            self.rm.node_dead(node, now)
        else:
            self.log.info(f"Status update for node {node}: status {new}")
            self.events.record("peer_status", node=node, status=new)
            self.rm.node_alive(node, new, now)

    def _delivered(self, msg: Message, now: float) -> None:
        kind = msg.get("t")
        src = msg.get("src")
        if kind == "shutdone" and src != self.me:
            self.log.info(f"Received shutdown notice from '{src}'.")
            self.events.record("peer_shutdown_notice", node=src)
        self.rm.receive(msg, now)

    def _on_rm_event(self, event: RmEvent) -> None:
        self.log.log(_LEVELS.get(event.level, Level.INFO), event.text)
        if event.step:
            fields: dict[str, Any] = {k: v for k, v in event.fields.items() if k != "at"}
            self.events.record(event.step, **fields)

    # -- control socket ------------------------------------------------------------
    def control(self, req: dict[str, Any], now: float) -> dict[str, Any]:
        cmd = req.get("cmd")
        if cmd == "status":
            return self.snapshot(now)
        if cmd in ("standby", "takeover"):
            word = req.get("what") or StandbyScope.ALL
            what = StandbyScope(word) if isinstance(word, str) and word in _SCOPES else None
            if what is None:
                return {"error": f"{cmd}: want one of {', '.join(StandbyScope)}"}
            if cmd == "standby":
                self.log.info(f"Going standby [{what}].")
                error = self.rm.standby(what, now)
            else:
                error = self.rm.takeover(what, now)
            self._pump(now)
            return {"ok": error is None, "error": error} if error else {"ok": True}
        if cmd == "client":
            return self._client(req, now)
        return {"error": f"unknown command {cmd!r}"}

    def _client(self, req: dict[str, Any], now: float) -> dict[str, Any]:
        """API clients (hbnode-ipfail) sign on, stay alive, sign off."""
        op, name = req.get("op"), str(req.get("name") or "")
        if name != "ipfail":
            return {"error": f"unknown client {name!r}"}
        if self.hacf.auto_failback is AutoFailback.LEGACY:
            return {
                "error": "auto_failback legacy is not supported with ipfail; "
                "set auto_failback on or off"
            }
        was = self._ipfail_alive(now)
        if op in ("signon", "alive"):
            self.clients[name] = now
            if op == "signon":
                self.log.info(f"client {name} (pid {req.get('pid')}) signed on")
        elif op == "signoff":
            self.clients.pop(name, None)
            self.log.info(f"client {name} signed off")
        else:
            return {"error": f"unknown client op {op!r}"}
        if self._ipfail_alive(now) != was:
            self.rm.set_ipfail(not was, now)
            self._pump(now)
        return {"ok": True}

    def _ipfail_alive(self, now: float) -> bool:
        seen = self.clients.get("ipfail")
        return seen is not None and now - seen <= CLIENT_TIMEOUT

    def snapshot(self, now: float) -> dict[str, Any]:
        nodes = []
        for name in [*self.hacf.nodes, *self.ping_names]:
            links = {link: self.core.link_status(name, link) for link in self.core.links(name)}
            nodes.append(
                {
                    "name": name,
                    "type": self.core.node_type(name),
                    "status": self.core.node_status(name),
                    "links": links,
                }
            )
        return {
            "node": self.me,
            "version": __version__,
            "pid": os.getpid(),
            "generation": self.generation,
            "uptime_s": round(now - self.started_at, 3),
            "comm_up": self.core.comm_up(),
            "nodes": nodes,
            "rscstatus": self.rm.rscstatus(),
            "holdings": self.rm.holdings(),
            "resources": self.rm.status(),
            "counters": self.core.counters(),
            "parameters": dict(self.hacf.parameters),
            "stopping": self.stopping,
        }


_SCOPES = frozenset(scope.value for scope in StandbyScope)
_LEVELS = {
    "crit": Level.CRIT,
    "error": Level.ERROR,
    "err": Level.ERROR,
    "warn": Level.WARN,
    "info": Level.INFO,
    "debug": Level.DEBUG,
}


def _read_loadavg() -> str:
    try:
        with open("/proc/loadavg") as handle:
            return handle.readline().strip()
    except OSError:
        return "0.00 0.00 0.00 1/1 1"


def _printable(text: str) -> str:
    """``text`` with control characters escaped, as it may go into a log line."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
