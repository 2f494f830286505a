"""Two whole Nodes (core + resource manager + glue), stepped in fixed ticks of virtual time.

Messages go through the real codec (encode, sign, decode, verify) on one fake
link; resource actions complete instantly. tests/harness/node_pair.py is the
event-driven pair with a ping node, latency and ipfail.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from hbnode.config import load_config
from hbnode.eventlog import EventLog
from hbnode.hblog import HbLogger
from hbnode.node import Node, Persisted
from hbnode.rm import ActionKind
from hbnode.wire import decode_untrusted, encode_datagram, verify_datagram

HACF = """\
keepalive 250ms
deadtime 1500ms
warntime 750ms
initdead 3
udpport 694
ucast eth1 172.16.254.18
ucast eth1 172.16.254.28
auto_failback on
node master
node slave
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now


def _ha_d(tmp: Path, extra: str = "") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "ha.cf").write_text(HACF + extra)
    keys = tmp / "authkeys"
    keys.write_text("auth 3\n3 md5 Hello!\n")
    keys.chmod(0o600)
    (tmp / "haresources").write_text("master 192.168.0.38/24/eth0:0 nginx\n")
    return tmp


class SteppedPair:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = Clock()
        self.nodes: dict[str, Node] = {}
        self.logs: dict[str, io.StringIO] = {}
        self.up = {"master": True, "slave": True}
        self.cable = True
        for i, name in enumerate(("master", "slave")):
            config = load_config(_ha_d(tmp_path / name), name)
            self.keys = config.authkeys
            out = io.StringIO()
            self.logs[name] = out
            logger = HbLogger(echo=out, clock=self.clock.wall)
            self.nodes[name] = Node(
                config,
                logger,
                now=self.clock.now,
                wallclock=self.clock.wall,
                persisted=Persisted(100 + i, bytes([i + 1]) * 16),
                events=EventLog(None, self.clock.wall),
                rng=random.Random(i),
                loadavg=lambda: "0.00 0.00 0.00 1/1 1",
            )
        self.holds: dict[str, set[str]] = {"master": set(), "slave": set()}

    def start(self, name: str) -> None:
        self.nodes[name].start(self.clock.now)

    def step(self, seconds: float, tick: float = 0.01) -> None:
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now = round(self.clock.now + tick, 6)
            for name, node in self.nodes.items():
                if not self.up[name]:
                    continue
                node.handle_timer(self.clock.now)
                self._deliver(name)
                for action in node.take_actions():
                    ok = True
                    if action.kind is ActionKind.ACQUIRE:
                        self.holds[name].add(action.group)
                    elif action.kind is ActionKind.RELEASE:
                        self.holds[name].discard(action.group)
                    elif action.kind is ActionKind.PROBE:  # start-up: does the group run here?
                        ok = action.group in self.holds[name]
                    node.action_done(action.id, ok, self.clock.now)
                    self._deliver(name)

    def _deliver(self, name: str) -> None:
        node = self.nodes[name]
        for msg in node.take_outgoing(self.clock.now):
            data = encode_datagram(msg, self.keys)
            for peer, other in self.nodes.items():
                if peer == name or not self.up[peer] or not self.cable:
                    continue
                datagram = decode_untrusted(data)
                assert verify_datagram(datagram, self.keys) is None
                other.receive(datagram.message, "eth1", self.clock.now)
        node.take_ping_probes(self.clock.now)

    def log(self, name: str) -> str:
        return self.logs[name].getvalue()
