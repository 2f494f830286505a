"""A fake cluster for the messaging core: HeartbeatCore instances joined by fake links.

Like h11's ConnectionPair, but for datagrams and virtual time (aioquic's tests):
every message a core sends is signed and encoded with the real codec (md5 key
``Hello!``, the capture's), carried by a :class:`FakeNetwork` that can lose,
duplicate, delay and reorder with a seeded ``random.Random``, then decoded,
authenticated and handed to the receivers. Nothing sleeps;
:meth:`CoreClusterSim.run_until` jumps from one deadline to the next.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from hbnode.auth import AuthKey, AuthKeys, AuthMethod
from hbnode.core import events as ev
from hbnode.core.protocol import HeartbeatCore
from hbnode.core.states import NodeStatus
from hbnode.core.timers import Timers
from hbnode.message import Message
from hbnode.wire import decode_untrusted, encode_datagram, verify_datagram

E = TypeVar("E")
KEYS = AuthKeys(3, {3: AuthKey(3, AuthMethod.MD5, b"Hello!")})
WALL_EPOCH = 1_795_569_859.0  # wall clock at virtual time 0 (the capture's era)
FAST = Timers(
    keepalive=0.25,
    deadtime=1.5,
    warntime=0.75,
    initdead=3.0,
    deadping=1.5,
    max_rexmit_delay=0.25,
    hopfudge=1,
)


def uuid_of(name: str) -> bytes:
    return name.encode().ljust(16, b"\0")[:16]


def wire_roundtrip(msg: Message) -> Message:
    """Sign, encode, decode and authenticate: what a real link does to a message."""
    datagram = decode_untrusted(encode_datagram(msg, KEYS))
    assert verify_datagram(datagram, KEYS) is None
    return datagram.message


@dataclass
class LinkPath:
    """How one direction of one medium behaves."""

    loss: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.001
    jitter: float = 0.0  # extra uniform delay: with jitter > spacing, packets reorder
    up: bool = True


@dataclass(order=True)
class _InFlight:
    arrival: float
    order: int
    dest: str = field(compare=False)
    link: str = field(compare=False)
    data: bytes = field(compare=False)


class FakeNetwork:
    """Media between nodes; ``paths[(src, dst, link)]`` overrides the default path."""

    def __init__(self, links: Iterable[str], rng: random.Random) -> None:
        self.links = list(links)
        self.rng = rng
        self.default = LinkPath()
        self.paths: dict[tuple[str, str, str], LinkPath] = {}
        self.queue: list[_InFlight] = []
        self._order = itertools.count()
        self.echo = True  # our own packets come back to us (bcast)

    def path(self, src: str, dst: str, link: str) -> LinkPath:
        return self.paths.setdefault((src, dst, link), LinkPath(**vars(self.default)))

    def set_all(self, **changes: float | bool) -> None:
        for key in vars(self.default):
            if key in changes:
                setattr(self.default, key, changes[key])
        for path in self.paths.values():
            for key, value in changes.items():
                setattr(path, key, value)

    def send(self, src: str, nodes: Iterable[str], data: bytes, now: float) -> None:
        for dst in nodes:
            if dst == src and not self.echo:
                continue
            for link in self.links:
                path = self.path(src, dst, link)
                if not path.up or self.rng.random() < path.loss:
                    continue
                copies = 2 if self.rng.random() < path.duplicate else 1
                for _ in range(copies):
                    arrival = now + path.delay + self.rng.uniform(0, path.jitter)
                    item = _InFlight(arrival, next(self._order), dst, link, data)
                    heapq.heappush(self.queue, item)

    def next_arrival(self) -> float | None:
        return self.queue[0].arrival if self.queue else None

    def pop_due(self, now: float) -> list[_InFlight]:
        due = []
        while self.queue and self.queue[0].arrival <= now:
            due.append(heapq.heappop(self.queue))
        return due


class CoreClusterSim:
    """Named cores on a fake network, stepped through virtual time."""

    def __init__(
        self,
        names: Iterable[str] = ("master", "slave"),
        *,
        timers: Timers = FAST,
        links: Iterable[str] = ("eth1",),
        ping_nodes: Iterable[str] = (),
        seed: int = 1,
        flow_control: bool | dict[str, bool] = True,
        exact_dead_check: bool = True,
    ) -> None:
        """``exact_dead_check``: as the daemon runs the core (hbnode.node); False gives
        Heartbeat's 250 ms dead-check tick, for tests of that tick."""
        self.names = list(names)
        self.timers = timers
        self.ping_nodes = list(ping_nodes)
        self.rng = random.Random(seed)
        self.net = FakeNetwork(links, random.Random(seed + 1))
        self.now = 0.0
        self.generations = dict.fromkeys(self.names, 0x6B0638C4)
        self.flow_control = flow_control
        self.cores: dict[str, HeartbeatCore] = {}
        self.running: set[str] = set()
        self.events: dict[str, list[ev.Event]] = {n: [] for n in self.names}
        self.sent: dict[str, list[Message]] = {n: [] for n in self.names}
        self.received: dict[str, list[tuple[float, str, Message]]] = {n: [] for n in self.names}
        self.probes: dict[str, list[tuple[float, str, Message]]] = {n: [] for n in self.names}
        self.ping_reachable: dict[tuple[str, str], bool] = {}
        self.ping_rtt = 0.002
        self._pings: list[tuple[float, int, str, str]] = []
        self._ping_order = itertools.count()
        self.auto_active = True
        self.exact_dead_check = exact_dead_check
        # drop(src, dst, msg) → True loses that message (every copy, on every link).
        self.drop: Callable[[str, str, Message], bool] | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def make_core(self, name: str) -> HeartbeatCore:
        flow = self.flow_control
        return HeartbeatCore(
            me=name,
            nodes=list(self.names),
            ping_nodes=list(self.ping_nodes),
            timers=self.timers,
            generation=self.generations[name],
            uuid=uuid_of(name),
            rng=random.Random(f"{name}-{self.rng.random()}"),
            wallclock=lambda: WALL_EPOCH + self.now,
            flow_control=flow if isinstance(flow, bool) else flow[name],
            media=self.net.links,
            exact_dead_check=self.exact_dead_check,
        )

    def start(self, name: str, at: float | None = None) -> HeartbeatCore:
        """Start (or restart, with the next generation) node ``name``."""
        if at is not None:
            self.run_until(at)
        if name in self.cores:
            self.generations[name] += 1
        core = self.make_core(name)
        self.cores[name] = core
        self.running.add(name)
        core.start(self.now)
        self.flush(name)
        return core

    def start_all(self) -> None:
        for name in self.names:
            self.start(name)

    def crash(self, name: str) -> None:
        """The node stops dead: no timers, nothing received, nothing sent."""
        self.running.discard(name)

    # -- time --------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        deadlines = [self.cores[n].get_timer() for n in self.running]
        deadlines.append(self.net.next_arrival())
        if self._pings:
            deadlines.append(self._pings[0][0])
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None

    def run_until(self, end: float) -> None:
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > end:
                break
            self.now = max(self.now, deadline)
            self._step()
        self.now = max(self.now, end)

    def run_for(self, seconds: float) -> None:
        self.run_until(self.now + seconds)

    def _step(self) -> None:
        now = self.now
        for item in self.net.pop_due(now):
            if item.dest not in self.running:
                continue
            datagram = decode_untrusted(item.data)
            assert verify_datagram(datagram, KEYS) is None
            self.received[item.dest].append((now, item.link, datagram.message))
            self.cores[item.dest].receive(datagram.message, item.link, now)
            self.flush(item.dest)
        while self._pings and self._pings[0][0] <= now:
            _, _, node, target = heapq.heappop(self._pings)
            if node in self.running:
                self.cores[node].ping_reply(target, now)
                self.flush(node)
        for name in sorted(self.running):
            timer = self.cores[name].get_timer()
            if timer is not None and timer <= now:
                self.cores[name].handle_timer(now)
                self.flush(name)

    def flush(self, name: str) -> None:
        """Carry out what ``name``'s core queued: its datagrams onto the net, its ping
        probes, its events (tests call it after a direct ``core.send``)."""
        core = self.cores[name]
        for msg in core.take_outgoing():
            self.sent[name].append(msg)
            data = encode_datagram(msg, KEYS)
            for dst in self.names:
                if self.drop is None or not self.drop(name, dst, msg):
                    self.net.send(name, [dst], data, self.now)
        for target, probe in core.take_ping_probes():
            self.probes[name].append((self.now, target, probe))
            wire_roundtrip(probe)  # the probe payload must be wire-valid too
            if self.ping_reachable.get((name, target), True):
                item = (self.now + self.ping_rtt, next(self._ping_order), name, target)
                heapq.heappush(self._pings, item)
        events = core.take_events()
        self.events[name].extend(events)
        if self.auto_active and any(isinstance(e, ev.CommUp) for e in events):
            core.set_status(NodeStatus.ACTIVE, self.now)  # what node.py does at comm-up
            self.flush(name)

    # -- queries -----------------------------------------------------------------------
    def of_type(self, name: str, kind: type[E]) -> list[E]:
        return [e for e in self.events[name] if isinstance(e, kind)]

    def status_changes(self, name: str, node: str) -> list[tuple[float, str, str]]:
        return [
            (round(e.now, 6), e.old, e.new)
            for e in self.of_type(name, ev.NodeStatusChanged)
            if e.node == node
        ]

    def sent_of_type(self, name: str, msg_type: str) -> list[Message]:
        return [m for m in self.sent[name] if m.get("t") == msg_type]
