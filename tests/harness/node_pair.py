"""Two whole hbnode Nodes (core + resource manager + glue) on a fake network, in
virtual time, with a ping node and the respawned ipfail client.

Every message goes through the real codec (encode, sign, decode, verify). The
network is an event queue: each direction of the master↔slave cable and each
node's path to the ping node can be cut and healed on its own, with a latency.
Resource actions finish after ``action_time``. Nothing sleeps: ``run`` jumps
from one due time to the next.
"""

from __future__ import annotations

import heapq
import io
import itertools
import random
from collections.abc import Callable
from pathlib import Path

from hbnode.config import load_config
from hbnode.control_commands import answer
from hbnode.eventlog import EventLog
from hbnode.hblog import HbLogger
from hbnode.node import Node, Persisted
from hbnode.rm import Action, ActionKind
from hbnode.wire import decode_untrusted, encode_datagram, verify_datagram

PING = "10.0.0.254"
GROUP = "192.168.0.38/24/eth0:0"
NAMES = ("master", "slave")
IPFAIL_ALIVE = 1.0  # hbnode-ipfail says it is alive this often

FAST_HACF = """\
keepalive {keepalive}
deadtime {deadtime}
warntime {warntime}
initdead 3
udpport 694
ucast eth1 172.16.254.18
ucast eth1 172.16.254.28
auto_failback {auto_failback}
node master
node slave
{ping}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now


class NodePair:
    """master and slave, the tutorial's haresources, fast timers, one ping node."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        auto_failback: str = "on",
        ping: bool = True,
        latency: float = 0.001,
        action_time: float = 0.01,
        seed: int = 0,
        timers: tuple[str, str, str] = ("250ms", "1500ms", "750ms"),
        ipfail: bool = True,
    ) -> None:
        """``timers``: keepalive, deadtime and warntime as ha.cf spells them;
        ``ipfail``: the respawned ipfail client signs on (its policy runs)."""
        self.ipfail = ipfail
        self.clock = Clock()
        self.latency = latency
        self.action_time = action_time
        self.nodes: dict[str, Node] = {}
        self.logs: dict[str, io.StringIO] = {}
        self.up = dict.fromkeys(NAMES, False)
        self.cable: dict[tuple[str, str], bool] = {("master", "slave"): True,
                                                   ("slave", "master"): True}  # fmt: skip
        self.reach_ping = dict.fromkeys(NAMES, True)
        # A frozen daemon (SIGSTOP): what reaches it waits, in order, until it runs again.
        self.frozen: dict[str, list[Callable[[], None]]] = {}
        # Share of the datagrams lost in each direction of the cable (a lossy link).
        self.loss: dict[tuple[str, str], float] = dict.fromkeys(self.cable, 0.0)
        self.holds: dict[str, set[str]] = {n: set() for n in NAMES}
        self.history: list[tuple[float, frozenset[str]]] = [(self.clock.now, frozenset())]
        self.delivered: dict[str, list[dict[str, str]]] = {n: [] for n in NAMES}
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._rng = random.Random(seed)
        keepalive, deadtime, warntime = timers
        hacf = FAST_HACF.format(
            keepalive=keepalive,
            deadtime=deadtime,
            warntime=warntime,
            auto_failback=auto_failback,
            ping=f"ping {PING}" if ping else "",
        )
        self._seed = seed
        self._ha_d: dict[str, Path] = {}
        self.generation = {name: 100 + i for i, name in enumerate(NAMES)}
        for name in NAMES:
            ha_d = self._ha_d[name] = tmp_path / name
            ha_d.mkdir(parents=True, exist_ok=True)
            (ha_d / "ha.cf").write_text(hacf)
            keys = ha_d / "authkeys"
            keys.write_text("auth 3\n3 md5 Hello!\n")
            keys.chmod(0o600)
            (ha_d / "haresources").write_text(f"master {GROUP} nginx\n")
            self.logs[name] = io.StringIO()
            self.nodes[name] = self._boot(name)

    def _boot(self, name: str) -> Node:
        """A daemon as it starts: its config read, its generation the one on disk."""
        i = NAMES.index(name)
        config = load_config(self._ha_d[name], name)
        self.keys = config.authkeys
        return Node(
            config,
            HbLogger(echo=self.logs[name], clock=self.clock.wall),
            now=self.clock.now,
            wallclock=self.clock.wall,
            persisted=Persisted(self.generation[name], bytes([i + 1]) * 16),
            events=EventLog(None, self.clock.wall),
            rng=random.Random(self._seed * 10 + i + self.generation[name]),
            loadavg=lambda: "0.00 0.00 0.00 1/1 1",
        )

    # -- scenario controls ------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.clock.now

    def start(self, *names: str) -> None:
        for name in names:
            self.up[name] = True
            self.nodes[name].start(self.now)
            self.flush(name)
            if self.ipfail:
                self._ipfail_alive(name, "signon")

    def poweroff(self, name: str) -> None:
        """The machine goes off: the daemon with it, and what it held."""
        self.up[name] = False
        self.holds[name].clear()
        self._record()

    def poweron(self, name: str) -> None:
        """The machine boots: a new daemon, one generation on (hbnode.persist)."""
        self.generation[name] += 1
        self.nodes[name] = self._boot(name)
        self.start(name)

    def freeze(self, name: str) -> None:
        """SIGSTOP the daemon: no timer runs, nothing is read or sent."""
        self.frozen[name] = []

    def thaw(self, name: str) -> None:
        """SIGCONT: the daemon reads what waited in its sockets, then its timers run."""
        for waiting in self.frozen.pop(name, []):
            waiting()

    def _waits(self, name: str, fn: Callable[[], None]) -> bool:
        if name in self.frozen:
            self.frozen[name].append(fn)
            return True
        return False

    def start_both_and_settle(self) -> None:
        self.start(*NAMES)
        self.run(14.0)  # initdead, then Heartbeat's 10 s resource negotiation delay
        assert self.holder() == "master", self.holders()

    def set_cable(self, up: bool, *directions: tuple[str, str]) -> None:
        for direction in directions or tuple(self.cable):
            self.cable[direction] = up

    def cut_master_eth1(self) -> None:
        """The tutorial's pulled cable: master loses the peer and the ping node."""
        self.set_cable(False)
        self.reach_ping["master"] = False

    # -- time -----------------------------------------------------------------------------
    def run(self, seconds: float) -> None:
        end = self.now + seconds
        for _ in range(10_000_000):  # bounded: a run is at most a few hundred thousand steps
            due = [self._queue[0][0]] if self._queue else []
            due += [t for n, node in self.nodes.items() if self.up[n] and n not in self.frozen
                    and (t := node.get_timer()) is not None]  # fmt: skip
            if not due:
                break  # nothing can happen before ``end`` (both daemons off or frozen)
            when = min(due)
            if when > end:
                break
            self.clock.now = max(self.now, when)
            while self._queue and self._queue[0][0] <= self.now:
                _, _, fn = heapq.heappop(self._queue)
                fn()
            for name, node in self.nodes.items():
                timer = node.get_timer()
                running = self.up[name] and name not in self.frozen
                if running and timer is not None and timer <= self.now:
                    node.handle_timer(self.now)
                    self.flush(name)
        self.clock.now = end

    def _at(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (self.now + delay, next(self._order), fn))

    # -- the network, the ping node, the executor and ipfail ---------------------------
    def flush(self, name: str) -> None:
        """Carry out what ``name`` queued: its datagrams onto the cable, its ping
        probes, its actions (tests call it after a direct ``core.send``)."""
        node = self.nodes[name]
        for msg in node.take_outgoing(self.now):
            data = encode_datagram(msg, self.keys)
            peer = "slave" if name == "master" else "master"
            lost = self._rng.random() < self.loss[(name, peer)]
            if self.cable[(name, peer)] and not lost:
                self._at(self.latency, lambda p=peer, d=data, s=name: self._receive(p, d))
        for ping_name, _probe in node.take_ping_probes(self.now):
            if self.reach_ping[name]:
                self._at(2 * self.latency, lambda n=name, p=ping_name: self._echo(n, p))
        for action in node.take_actions():
            self._at(self.action_time, lambda n=name, a=action: self._done(n, a))

    def _receive(self, name: str, data: bytes) -> None:
        peer = "slave" if name == "master" else "master"
        if not self.up[name] or not self.cable[(peer, name)]:
            return  # cut while in flight
        if self._waits(name, lambda: self._receive_now(name, data)):
            return
        self._receive_now(name, data)

    def _receive_now(self, name: str, data: bytes) -> None:
        datagram = decode_untrusted(data)
        assert verify_datagram(datagram, self.keys) is None
        msg = datagram.message
        self.delivered[name].append({f.name: f.value for f in msg if isinstance(f.value, str)})
        self.nodes[name].receive(msg, "eth1", self.now)
        self.flush(name)

    def _echo(self, name: str, ping_name: str) -> None:
        if self._waits(name, lambda: self._echo(name, ping_name)):
            return
        if self.up[name] and self.reach_ping[name]:
            self.nodes[name].ping_reply(ping_name, self.now)
            self.flush(name)

    def _done(self, name: str, action: Action) -> None:
        if not self.up[name]:
            return
        # The executor is a process of its own, which a SIGSTOP of the daemon does not
        # stop: the address comes or goes now, and only the daemon's reading of the
        # result waits for the thaw.
        kind, group, ident = action.kind, action.group, action.id
        ok = True
        if kind is ActionKind.ACQUIRE:
            self.holds[name].add(group)
        elif kind is ActionKind.RELEASE:
            self.holds[name].discard(group)
        elif kind is ActionKind.PROBE:
            ok = group in self.holds[name]
        self._record()
        if not self._waits(name, lambda: self._result(name, ident, ok)):
            self._result(name, ident, ok)

    def _result(self, name: str, ident: int, ok: bool) -> None:
        if self.up[name]:
            self.nodes[name].action_done(ident, ok, self.now)
            self.flush(name)

    def _ipfail_alive(self, name: str, op: str = "alive") -> None:
        if not self.up[name] or self._waits(name, lambda: self._ipfail_alive(name, op)):
            return
        request = {"cmd": "client", "op": op, "name": "ipfail"}
        answer(self.nodes[name], request, self.now, pid=1)
        self.flush(name)
        self._at(IPFAIL_ALIVE, lambda n=name: self._ipfail_alive(n))

    def _record(self) -> None:
        holders = frozenset(n for n in NAMES if GROUP in self.holds[n])
        if holders != self.history[-1][1]:
            self.history.append((self.now, holders))

    # -- what happened --------------------------------------------------------------------
    def holders(self) -> list[str]:
        return sorted(n for n in NAMES if GROUP in self.holds[n])

    def holder(self) -> str | None:
        found = self.holders()
        return found[0] if len(found) == 1 else None

    def changes_since(self, since: float) -> list[tuple[float, frozenset[str]]]:
        return [(t, h) for t, h in self.history if t > since]

    def two_holders_seconds(self, since: float = 0.0) -> float:
        total = 0.0
        for (at, holders), (until, _) in itertools.pairwise([*self.history, (self.now, None)]):
            if len(holders) > 1 and until > since:
                total += until - max(at, since)
        return total

    def log(self, name: str) -> str:
        return self.logs[name].getvalue()

    def received(self, name: str, kind: str, since_index: int = 0) -> list[dict[str, str]]:
        """Messages of type ``kind`` that ``name`` received from its peer."""
        return [m for m in self.delivered[name][since_index:] if m.get("t") == kind]
