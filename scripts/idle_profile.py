"""An idle cluster in virtual time, through the daemon's own code, to profile per heartbeat.

    python3 scripts/idle_profile.py [--seconds 60] [--keepalive 250ms]
    python3 scripts/idle_profile.py --cprofile 25      # where the time goes, by function
    python3 scripts/idle_profile.py --allocations 15   # what each heartbeat allocates
    valgrind --tool=callgrind python3 scripts/idle_profile.py --seconds 600   # instructions

Two Nodes (core, resource manager, glue) talk through the daemon's LinkIO: its
flush (encode, sign), its receive path (split, verify, decode) and its ping
probes and echoes; only the sockets are fakes (a datagram arrives 0.3 ms after
it is sent, a ping node answers every probe) and time is virtual, so the same
run does the same work on a busy machine or an idle one. The nodes come up,
settle for --warmup virtual seconds, then the measured window runs: CPU time of
this process per virtual second (process_time) and per heartbeat, the function
calls, and with --allocations the memory each heartbeat allocates (tracemalloc)
and the garbage collections. Not in it: the selector, the clock, the syscalls
(see BENCHMARKS.md, "Idle cost", for the daemon in a lab).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import heapq
import io
import itertools
import os
import pstats
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hbnode.config import load_config
from hbnode.config.load import ClusterConfig
from hbnode.eventlog import EventLog
from hbnode.hblog import HbLogger
from hbnode.link_io import LinkIO
from hbnode.node import Node, Persisted
from hbnode.rm.liveness import IPFAIL, ClientOp

PING = "172.16.254.1"
LATENCY = 0.0003
HACF = """\
keepalive {keepalive}
deadtime 1500ms
warntime 750ms
initdead 3
udpport 694
ucast eth1 172.16.254.18
ucast eth1 172.16.254.28
auto_failback on
ping {ping}
respawn hacluster /usr/lib64/heartbeat/ipfail
node master
node slave
"""


class FakeLink:
    """A UdpLink's send and receive; the pair wires sends to the peer's queue."""

    def __init__(self, ifname: str, send: Callable[[bytes], None]) -> None:
        self.ifname, self._send = ifname, send
        self.inbox: list[tuple[bytes, tuple[str, int]]] = []
        self.send_errors = 0

    def send(self, data: bytes) -> None:
        self._send(data)

    def receive(self) -> list[tuple[bytes, tuple[str, int]]]:
        got, self.inbox = self.inbox, []
        return got


class FakePing:
    """A PingLink whose ping node echoes every probe."""

    def __init__(self, echo: Callable[[str, bytes], None]) -> None:
        self._echo = echo
        self.inbox: list[tuple[str, bytes]] = []

    def send(self, name: str, payload: bytes) -> None:
        self._echo(name, payload)

    def receive(self) -> list[tuple[str, bytes]]:
        got, self.inbox = self.inbox, []
        return got


class IdlePair:
    def __init__(self, ha_d: Path, keepalive: str) -> None:
        self.now = 1000.0
        self.queue: list[tuple[float, int, Callable[[], None]]] = []
        self.order = itertools.count()
        self.nodes: dict[str, Node] = {}
        self.links: dict[str, LinkIO] = {}
        self.sent = {"master": 0, "slave": 0}
        for index, name in enumerate(("master", "slave")):
            config = _config(ha_d / name, name, keepalive)
            log = HbLogger(echo=io.StringIO(), clock=self.wall)
            node = Node(
                config,
                log,
                now=self.now,
                wallclock=self.wall,
                persisted=Persisted(100 + index, bytes([index + 1]) * 16),
                events=EventLog(None, self.wall),
                rng=random.Random(index),
                loadavg=lambda: "0.00 0.00 0.00 1/100 1234",
            )
            link_io = LinkIO(config, node, log)
            peer = "slave" if name == "master" else "master"
            link = FakeLink("eth1", functools.partial(self._send, name, peer))
            link_io.links = {"eth1": link}  # type: ignore[dict-item]
            link_io.ping = FakePing(functools.partial(self._echo, name))  # type: ignore[assignment]
            self.nodes[name], self.links[name] = node, link_io

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    def start(self) -> None:
        for name, node in self.nodes.items():
            node.start(self.now)
            self._after(name)

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        for _ in range(10_000_000):  # bounded: a few events per keepalive
            # One get_timer per node and turn, before the inputs, as the daemon's loop.
            timers = {name: node.get_timer() for name, node in self.nodes.items()}
            due = [t for t in timers.values() if t is not None]
            if self.queue:
                due.append(self.queue[0][0])
            when = min(due, default=end)
            if when > end:
                break
            self.now = max(self.now, when)
            while self.queue and self.queue[0][0] <= self.now:
                heapq.heappop(self.queue)[2]()
            for name, node in self.nodes.items():
                timer = timers[name]
                if timer is not None and timer <= self.now:
                    node.handle_timer(self.now)  # as the daemon: only when due
                    self._after(name)
        self.now = end

    def _after(self, name: str) -> None:
        """The daemon's _after_input: send what is queued, finish actions at once."""
        node = self.nodes[name]
        self.links[name].flush(self.now)
        for action in node.take_actions():
            self._at(0.0, functools.partial(self._done, node, action, name))
        if node.core.comm_up() and IPFAIL not in node.rm.liveness.held:
            node.client(IPFAIL, ClientOp.SIGNON, self.now, pid=1, held=True)

    def _done(self, node: Node, action: Any, name: str) -> None:
        node.action_done(action.id, True, self.now)
        self._after(name)

    def _at(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self.queue, (self.now + delay, next(self.order), fn))

    def _send(self, me: str, peer: str, data: bytes) -> None:
        self.sent[me] += 1
        self._at(LATENCY, lambda: self._arrive(peer, me, data))

    def _arrive(self, name: str, sender: str, data: bytes) -> None:
        link_io = self.links[name]
        link = link_io.links["eth1"]
        link.inbox.append((data, (sender, 694)))  # type: ignore[attr-defined]
        link_io._on_readable(link)
        self._after(name)

    def _echo(self, name: str, ping_name: str, payload: bytes) -> None:
        def back() -> None:
            ping = self.links[name].ping
            assert isinstance(ping, FakePing)
            ping.inbox.append((ping_name, payload))
            self.links[name]._on_ping()
            self._after(name)

        self._at(2 * LATENCY, back)


def _config(ha_d: Path, name: str, keepalive: str) -> ClusterConfig:
    ha_d.mkdir(parents=True, exist_ok=True)
    (ha_d / "ha.cf").write_text(HACF.format(keepalive=keepalive, ping=PING))
    keys = ha_d / "authkeys"
    keys.write_text("auth 3\n3 md5 Hello!\n")
    keys.chmod(0o600)
    (ha_d / "haresources").write_text("master 192.168.0.38/24/eth0:0 nginx\n")
    return load_config(ha_d, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="virtual seconds measured")
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--keepalive", default="250ms")
    parser.add_argument("--cprofile", type=int, metavar="N", help="top N functions by own time")
    parser.add_argument("--allocations", type=int, metavar="N", help="top N allocation sites")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pair = IdlePair(Path(tmp), args.keepalive)
        pair.start()
        pair.run(args.warmup)
        assert all(n.core.comm_up() for n in pair.nodes.values()), "the pair did not come up"
        sent_before = dict(pair.sent)
        gc_before = [s["collections"] for s in gc.get_stats()]
        profile = cProfile.Profile() if args.cprofile else None
        if args.allocations:
            tracemalloc.start(4)
            before = tracemalloc.take_snapshot()
        began = time.process_time()
        if profile is not None:
            profile.enable()
        pair.run(args.seconds)
        if profile is not None:
            profile.disable()
        took = time.process_time() - began
        heartbeats = (pair.sent["master"] - sent_before["master"]) or 1
        gc_after = [s["collections"] for s in gc.get_stats()]
        print(
            f"{args.seconds:.0f} virtual s at keepalive {args.keepalive}: "
            f"{heartbeats} datagrams sent by master, "
            f"{took / args.seconds * 1e6:.0f} µs CPU per virtual second for both nodes "
            f"({took / args.seconds / 2 * 100:.3f} % of a core per node), "
            f"{took / heartbeats / 2 * 1e6:.0f} µs per datagram sent"
        )
        collections = [a - b for a, b in zip(gc_after, gc_before, strict=True)]
        print(f"garbage collections per generation: {collections}")
        if profile is not None:
            stats = pstats.Stats(profile).sort_stats("tottime")
            stats.print_stats(args.cprofile)
        if args.allocations:
            after = tracemalloc.take_snapshot()
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
            print(f"held after the window: {growth / 1024:+.1f} KiB; peak {peak / 1024:.0f} KiB")
            for stat in after.compare_to(before, "lineno")[: args.allocations]:
                print(f"  {stat}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
