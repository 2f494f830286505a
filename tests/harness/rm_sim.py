"""A virtual-time cluster of ResourceManagers.

The cluster plays the parts around the resource manager: a membership layer
(heartbeats every keepalive, a node dead after deadtime of silence, a restart
seen as a new generation, a healed partition as the same one), ping nodes, a
network that delivers each message to every node that can hear the sender (the
sender included, as Heartbeat loops its own messages back) and honours ``dest``,
and per-node executors that run actions one at a time and track what really
runs where. Nothing sleeps; time is a float that only moves forward.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hbnode.config.hacf import AutoFailback
from hbnode.config.haresources import parse_haresources_text
from hbnode.core.states import NodeStatus
from hbnode.message import Message
from hbnode.rm import Action, ActionKind, ResourceManager, RmEvent
from hbnode.rm.fencing import FenceResult
from hbnode.rm.messages import HEAL_FIELD, QUICK_START

HARESOURCES = "master 192.168.0.38/24/eth0:0 nginx\nslave 192.168.0.39/24/eth0:1 httpd\n"
MASTER_KEY = "192.168.0.38/24/eth0:0"
SLAVE_KEY = "192.168.0.39/24/eth0:1"
NODES = ("master", "slave")
TICK = 0.25  # Heartbeat's dead check period
LATENCY = 0.01


@dataclass
class Executor:
    queue: list[Action] = field(default_factory=list)
    busy: Action | None = None


@dataclass
class NodeSim:
    name: str
    rm: ResourceManager | None = None
    generation: int = 0
    booted_at: float = 0.0
    comm_is_up: bool = False
    heard: dict[str, float] = field(default_factory=dict)  # peer → last heartbeat
    seen_gen: dict[str, int] = field(default_factory=dict)
    peer_alive: dict[str, bool] = field(default_factory=dict)
    ping_alive: dict[str, bool | None] = field(default_factory=dict)
    ping_heard: dict[str, float] = field(default_factory=dict)
    executor: Executor = field(default_factory=Executor)
    stopping_until: float | None = None
    seq: int = 0  # its last message's seq (the core numbers them; a new process anew)


class RmClusterSim:
    def __init__(
        self,
        *,
        haresources: str = HARESOURCES,
        auto_failback: AutoFailback = AutoFailback.ON,
        ping_nodes: Iterable[str] = (),
        isolation: bool = False,
        keepalive: float = 1.0,
        deadtime: float = 10.0,
        deadping: float | None = None,
        initdead: float | None = None,
        action_time: float = 0.5,
        nodes: Iterable[str] = NODES,
        heartbeat_like: Iterable[str] = (),
        stonith: bool = False,
        stonith_delay: float = 5.0,
        stonith_retry: float = 5.0,
    ) -> None:
        """``heartbeat_like``: nodes whose messages lose hbnode's own fields on the way
        out, as a real Heartbeat's would never carry them (its start-up negotiation,
        and that it heals in place).
        ``stonith``: every node has a STONITH device; a ``fence`` action powers its
        target off (``crash``) unless the target's BMC is in ``bmc_down``."""
        self.stonith = "external/ipmi" if stonith else None
        self.stonith_delay, self.stonith_retry = stonith_delay, stonith_retry
        self.bmc_down: set[str] = set()  # nodes whose BMC does not answer
        self.heartbeat_like = set(heartbeat_like)
        self.groups = parse_haresources_text(haresources)
        self.auto_failback = auto_failback
        self.ping_nodes = list(ping_nodes)
        self.isolation = isolation
        self.keepalive, self.deadtime = keepalive, deadtime
        self.deadping = deadtime if deadping is None else deadping
        self.initdead = deadtime if initdead is None else initdead
        self.action_time = action_time
        self.now = 0.0
        self.sims = {n: NodeSim(n) for n in nodes}
        self.running: dict[str, set[str]] = {n: set() for n in nodes}  # what really runs
        self.cut: set[frozenset[str]] = set()  # node pairs that cannot hear each other
        self.deaf: set[tuple[str, str]] = set()  # (listener, speaker): a one-way fault
        self.ping_cut: set[str] = set()  # nodes that cannot reach any ping node
        self.fail: dict[tuple[str, ActionKind, str], int] = {}  # (node, kind, key) → failures left
        self.sent: list[tuple[float, str, Message]] = []
        self.events: dict[str, list[RmEvent]] = {n: [] for n in nodes}
        self.actions: dict[str, list[Action]] = {n: [] for n in nodes}
        self.doubles: list[tuple[float, str, tuple[str, ...]]] = []
        self.fenced: list[tuple[float, str, str, FenceResult]] = []  # (when, by, whom, result)
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._next_tick = 0.0

    # -- scenario controls -------------------------------------------------------------
    def boot(self, *names: str, probe: bool = False) -> None:
        """Start the daemon on ``names``; ``probe``: it first asks what already runs
        (ResourceManager.start), as the real daemon does."""
        for name in names:
            sim = self.sims[name]
            sim.generation += 1
            sim.seq = 0
            sim.booted_at, sim.comm_is_up, sim.stopping_until = self.now, False, None
            sim.heard, sim.peer_alive, sim.seen_gen = {}, {}, {}  # a new process knows nothing
            sim.ping_alive = dict.fromkeys(self.ping_nodes)
            sim.ping_heard = {}
            sim.executor = Executor()
            sim.rm = ResourceManager(
                me=name,
                nodes=list(self.sims),
                groups=self.groups,
                auto_failback=self.auto_failback,
                keepalive=self.keepalive,
                deadtime=self.deadtime,
                deadping=self.deadping,
                ping_nodes=self.ping_nodes,
                isolation=self.isolation,
                stonith=self.stonith,
                stonith_delay=self.stonith_delay,
                stonith_retry=self.stonith_retry,
            )
            if probe:
                sim.rm.start(self.now)
                self._pump(name)
        self._membership()

    def crash(self, name: str) -> None:
        """Power off: the process and every resource on the machine are gone."""
        self.sims[name].rm = None
        self.running[name] = set()

    def kill9(self, name: str) -> None:
        """kill -9 of the daemon only: what it started keeps running on the machine."""
        self.sims[name].rm = None

    def stop(self, name: str) -> None:
        """``heartbeat -k``: orderly shutdown; the process exits once shutdone is out."""
        rm = self.rm(name)
        rm.shutdown(self.now)
        self._pump(name)

    def partition(self, a: str = "master", b: str = "slave") -> None:
        self.cut.add(frozenset((a, b)))

    def heal(self, a: str = "master", b: str = "slave") -> None:
        self.cut.discard(frozenset((a, b)))

    def fail_next(self, node: str, kind: ActionKind, key: str, times: int = 1) -> None:
        self.fail[(node, ActionKind(kind), key)] = times

    def call(self, node: str, fn: Callable[[ResourceManager], object]) -> object:
        """Run an operator call on ``node``'s manager and pump what it produced."""
        result = fn(self.rm(node))
        self._pump(node)
        return result

    # -- time --------------------------------------------------------------------------
    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            when = self._next_due()
            if when is None or when > end:
                break
            self.now = max(self.now, when)
            self._step()
        self.now = end

    def _next_due(self) -> float | None:
        due = [self._next_tick]
        if self._queue:
            due.append(self._queue[0][0])
        for sim in self.sims.values():
            if sim.rm is not None and (t := sim.rm.get_timer()) is not None:
                due.append(t)
        return min(due)

    def _step(self) -> None:
        while self._queue and self._queue[0][0] <= self.now:
            _, _, fn = heapq.heappop(self._queue)
            fn()
        for name, sim in self.sims.items():
            timer = sim.rm.get_timer() if sim.rm is not None else None
            if sim.rm is not None and timer is not None and timer <= self.now:
                sim.rm.handle_timer(self.now)
                self._pump(name)
        if self._next_tick <= self.now:
            self._next_tick = self.now + TICK
            self._membership()

    def _at(self, when: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), fn))

    # -- the membership layer ----------------------------------------------------------
    def hears(self, a: str, b: str) -> bool:
        """Can ``a`` hear ``b``'s packets?"""
        if (a, b) in self.deaf:
            return False
        return self.sims[b].rm is not None and frozenset((a, b)) not in self.cut

    def _membership(self) -> None:
        for name, sim in self.sims.items():
            if sim.rm is None:
                continue
            if sim.stopping_until is not None and self.now >= sim.stopping_until:
                sim.rm = None  # exited after shutdone and its last status messages
                continue
            for peer in self.sims:
                if peer != name:
                    self._watch_peer(sim, peer)
            for ping in self.ping_nodes:
                self._watch_ping(sim, ping)
            self._maybe_comm_up(sim)

    def _watch_peer(self, sim: NodeSim, peer: str) -> None:
        rm = sim.rm
        assert rm is not None
        if self.hears(sim.name, peer):
            sim.heard[peer] = self.now
            gen = self.sims[peer].generation
            if sim.peer_alive.get(peer):
                if sim.seen_gen.get(peer, gen) != gen:
                    rm.node_restarted(peer, self.now)  # restart faster than deadtime
                sim.seen_gen[peer] = gen
                return
            was_dead = peer in sim.peer_alive
            if was_dead and sim.seen_gen.get(peer) == gen:
                rm.partition_healed(peer, self.now)
            elif was_dead and peer in sim.seen_gen:
                rm.node_restarted(peer, self.now)
            sim.seen_gen[peer] = gen
            sim.peer_alive[peer] = True
            rm.node_alive(peer, NodeStatus.ACTIVE, self.now)
            self._pump(sim.name)
            return
        last = sim.heard.get(peer, sim.booted_at)
        limit = self.deadtime if sim.comm_is_up else self.initdead
        if sim.peer_alive.get(peer, True) and self.now - last >= limit:
            if sim.peer_alive.get(peer) is None and not sim.comm_is_up:
                sim.peer_alive[peer] = False
            else:
                sim.peer_alive[peer] = False
            rm.node_dead(peer, self.now)
            self._pump(sim.name)

    def _watch_ping(self, sim: NodeSim, ping: str) -> None:
        rm = sim.rm
        assert rm is not None
        if sim.name not in self.ping_cut:
            sim.ping_heard[ping] = self.now
            if sim.ping_alive.get(ping) is not True:
                sim.ping_alive[ping] = True
                rm.ping_status(ping, True, self.now)
                self._pump(sim.name)
            return
        last = sim.ping_heard.get(ping, sim.booted_at)
        if sim.ping_alive.get(ping) is not False and self.now - last >= self.deadping:
            sim.ping_alive[ping] = False
            rm.ping_status(ping, False, self.now)
            self._pump(sim.name)

    def _maybe_comm_up(self, sim: NodeSim) -> None:
        if sim.comm_is_up or sim.rm is None:
            return
        peers = [p for p in self.sims if p != sim.name]
        if not all(p in sim.peer_alive for p in peers):
            return
        if (
            not all(p in sim.ping_alive and sim.ping_alive[p] is not None for p in self.ping_nodes)
            and self.now - sim.booted_at < self.deadping
        ):
            return
        sim.comm_is_up = True
        live = {p for p in peers if sim.peer_alive[p]}
        sim.rm.comm_up(live, self.now)
        self._pump(sim.name)

    # -- the network and the executors -------------------------------------------------
    def _pump(self, name: str) -> None:
        sim = self.sims[name]
        rm = sim.rm
        if rm is None:
            return
        for msg in rm.take_outgoing():
            msg.set("src", name)  # what the core adds (ipfail's own src stays in place)
            sim.seq += 1
            msg.set("seq", f"{sim.seq:x}")
            if name in self.heartbeat_like:
                msg.remove(QUICK_START)
                msg.remove(HEAL_FIELD)
            self.sent.append((self.now, name, msg))
            for receiver in self.sims:
                if receiver == name or self.hears(receiver, name):
                    self._at(self.now + LATENCY, lambda r=receiver, m=msg: self._deliver(r, m))
        for action in rm.take_actions():
            self.actions[name].append(action)
            sim.executor.queue.append(action)
        self.events[name] += rm.take_events()
        if rm.shutdown_done() and sim.stopping_until is None:
            sim.stopping_until = self.now + 0.5
        self._run_executor(name)

    def deliver_late(self, receiver: str, msg: Message) -> None:
        """``msg`` reaches ``receiver`` again now: a retransmission that fills a gap,
        after newer messages (the core delivers it as 3.0.6 does)."""
        self._deliver(receiver, msg)

    def _deliver(self, receiver: str, msg: Message) -> None:
        rm = self.sims[receiver].rm
        dest = msg.get("dest")
        if rm is None or (dest is not None and dest != receiver):
            return
        copy = msg.copy()
        if receiver in self.heartbeat_like:
            copy.remove(QUICK_START)  # a real Heartbeat does not know the field
        rm.receive(copy, self.now)
        self._pump(receiver)

    def _run_executor(self, name: str) -> None:
        sim = self.sims[name]
        ex = sim.executor
        if ex.busy is not None or not ex.queue:
            return
        ex.busy = ex.queue.pop(0)
        rm = sim.rm
        self._at(self.now + self.action_time, lambda: self._finish(name, rm))

    def _finish(self, name: str, rm: ResourceManager | None) -> None:
        sim = self.sims[name]
        action = sim.executor.busy
        sim.executor.busy = None
        if action is None or sim.rm is not rm or rm is None:
            return  # the node crashed meanwhile
        if action.kind is ActionKind.FENCE:
            self._fence(name, rm, action)
            return
        key = (name, action.kind, action.group)
        ok = self.fail.get(key, 0) <= 0
        if action.kind is ActionKind.PROBE:
            ok = action.group in self.running[name]  # the answer: does it run here?
        elif not ok:
            self.fail[key] -= 1
        elif action.kind is ActionKind.ACQUIRE:
            self.running[name].add(action.group)
        elif action.kind is ActionKind.RELEASE:
            self.running[name].discard(action.group)
        self._check_doubles()
        rm.action_done(action.id, ok, self.now)
        self._pump(name)

    def _fence(self, name: str, rm: ResourceManager, action: Action) -> None:
        """The BMC of ``action.group`` powers it off, unless it does not answer."""
        target = action.group
        if target in self.bmc_down:
            result = FenceResult.BAD
        else:
            result = FenceResult.OK
            self.crash(target)
        self.fenced.append((self.now, name, target, result))
        rm.fence_done(action.id, result, self.now)
        self._pump(name)

    def _check_doubles(self) -> None:
        for group in self.groups:
            holders = tuple(sorted(n for n, keys in self.running.items() if group.key in keys))
            if len(holders) > 1:
                self.doubles.append((self.now, group.key, holders))

    # -- views for assertions ----------------------------------------------------------
    def rm(self, name: str) -> ResourceManager:
        rm = self.sims[name].rm
        assert rm is not None, f"{name} is not running"
        return rm

    def holdings(self) -> dict[str, str]:
        return {n: s.rm.holdings() if s.rm is not None else "down" for n, s in self.sims.items()}

    def where(self) -> dict[str, set[str]]:
        """Which node really runs each group (the executors' view)."""
        return {n: set(keys) for n, keys in self.running.items()}

    def messages(self, sender: str | None = None, kind: str | None = None) -> list[Message]:
        return [
            msg
            for _, src, msg in self.sent
            if (sender is None or src == sender) and (kind is None or msg.get("t") == kind)
        ]

    def texts(self, node: str) -> list[str]:
        return [e.text for e in self.events[node]]

    def steps(self, node: str) -> list[str]:
        return [e.step for e in self.events[node] if e.step]


def fields(msg: Message) -> list[tuple[str, object]]:
    """The resource layer's fields and ``src``; not the seq the harness numbers them by."""
    return [(f.name, f.value) for f in msg if f.name != "seq"]
