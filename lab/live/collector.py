"""The live model: a snapshot of the lab ten times a second, pushed to subscribers.

One thread gathers, every ``interval``: the lab's record (reloaded when another
process changes it: `hblab poweroff` in a shell counts as much as a button), each
host's power, netlink state and pid files (lab.live.netview), new log lines and
events (lab.live.logstate), the heartbeats and ARP answers seen since the last
tick (lab.live.wire) and the client's probes (lab.live.probe). It builds one
:class:`~lab.live.model.Snapshot` and hands its JSON form to every subscriber
(the web server, the terminal view, a recorder). Everything here only looks: the
one packet sent is the ARP who-has, and the one request the HTTP probe, both from
the client to the VIP inside the lab.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from lab.backends import Lab, make_lab
from lab.errors import LabError
from lab.live import build, netview
from lab.live.layout import layout
from lab.live.logstate import NodeLog, step_of_event, step_of_line
from lab.live.model import FORMAT, NodeView, Snapshot, Stats, VipView, probe_code
from lab.live.probe import LiveProbe
from lab.live.stats import CpuMeter
from lab.live.tail import Follow
from lab.live.timestamps import line_time
from lab.live.wire import Target, WireWatch

MAX_SECONDS = 12 * 3600.0  # a live view stops by itself after this, whatever happens
EVENTS_KEPT = 40
# A poweroff kills the daemon a moment before the node's init: a daemon missing for
# less than this, on a node still on, is not yet called crashed.
CRASH_GRACE = 0.3
QDISC_EVERY = 1.0  # netem qdiscs: netlink, but rarely changed
NFT_EVERY = 3.0  # the nftables loss rule: a process per node, so seldom
Subscriber = Callable[[dict[str, Any]], None]


class LiveModel:
    """Watch the lab of ``backend`` (None: the one hblab would drive)."""

    def __init__(
        self,
        backend: str | None = None,
        interval: float = 0.1,
        max_seconds: float = MAX_SECONDS,
        probe_interval: float = 0.2,
    ) -> None:
        self.backend = backend
        self.interval = interval
        self.max_seconds = max_seconds
        self.lab: Lab = make_lab(backend)
        self.topo = self.lab.topo
        self.names = [h.name for h in self.topo.hosts]
        self.cluster = [h.name for h in self.topo.cluster_nodes]
        self.heartbeat_ifaces = sorted({m.iface for m in self.topo.media})
        self.vip = str(self.topo.vip.ip)
        self.wire = WireWatch(self.topo, probe_interval, max_seconds)
        self.probe = LiveProbe(self._client_netns, self.vip, probe_interval, max_seconds)
        self.handles = {name: netview.NetHandle() for name in self.names}
        self.logs: dict[str, NodeLog] = {}
        self.follows: dict[str, tuple[Follow, Follow]] = {}
        self.events: collections.deque[tuple[float, str, str]] = collections.deque(
            maxlen=EVENTS_KEPT
        )
        self.meter = CpuMeter()
        self.seq = 0
        self.latest: dict[str, Any] | None = None
        self._netns: dict[str, str] = {}
        self._nft: dict[str, dict[str, str]] = {}
        self._was_on: dict[str, bool] = {}
        self._state_stamp: tuple[int, int] | None = None
        self._timers: dict[str, float] = {}
        self._last_nodes: list[NodeView] = []
        self._daemon_seen: dict[str, float] = {}  # node → when its daemon was last seen
        self._next_qdisc = self._next_nft = 0.0
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the views' side -----------------------------------------------------------------------
    def hello(self) -> dict[str, Any]:
        """What a view needs once: the drawing and what it may do."""
        return {
            "format": FORMAT,
            "mode": "live",
            "backend": self.lab.backend,
            "controls": True,
            "layout": layout(self.topo),
            "cluster": self.cluster,
        }

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._subscribers.remove(subscriber)

        return unsubscribe

    def note(self, text: str) -> None:
        """An event of hblab's own ("poweroff master", pressed on the page)."""
        self.events.append((time.time(), "hblab", text))

    def start(self) -> None:
        self.wire.start()
        self.probe.start()
        self._thread = threading.Thread(target=self._run, name="live-model", daemon=True)
        self._thread.start()
        self.meter.track(self._thread, self.wire._thread, self.probe._thread)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.probe.stop()
        self.wire.stop()
        for handle in self.handles.values():
            handle.close()

    # -- the thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            snapshot = self.tick()
            data = snapshot.to_json()
            self.latest = data
            with self._lock:
                subscribers = list(self._subscribers)
            for subscriber in subscribers:
                with contextlib.suppress(Exception):  # one broken view never stops the others
                    subscriber(data)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def tick(self) -> Snapshot:
        """Gather once and build the snapshot."""
        now, mono = time.time(), time.monotonic()
        self._reload_lab()
        state = self.lab.state
        qdiscs, nft = mono >= self._next_qdisc, mono >= self._next_nft
        if qdiscs:
            self._next_qdisc = mono + QDISC_EVERY
        if nft:
            self._next_nft = mono + NFT_EVERY
        facts = [self._facts(name, state is not None, qdiscs, nft) for name in self.names]
        self._retarget(facts)
        nodes = [build.node_view(f, self.vip, self.heartbeat_ifaces, now) for f in facts]
        if state is not None and self._last_nodes:
            for text in build.changes(self._last_nodes, nodes):
                self.note(text)
        self._last_nodes = nodes if state is not None else []
        self.seq += 1
        rate, cpu = self.meter.sample(mono)
        return Snapshot(
            t=now,
            seq=self.seq,
            lab="up" if state is not None else "down",
            backend=self.lab.backend,
            nodes=nodes,
            vip=VipView(
                self.vip,
                self.topo.vip_label,
                [n.name for n in nodes if n.vip and n.role == "node"],
                list(self.wire.arp_answers),
            ),
            probe="".join(probe_code(server, self.cluster) for _, server in self.probe.recent()),
            probe_interval=self.probe.interval,
            events=sorted(self.events),
            beats=self.wire.take_beats(),
            stats=Stats(rate, cpu),
            timers=self._timers,
        )

    def _reload_lab(self) -> None:
        """A new lab object whenever its record changes (another process may drive it)."""
        try:
            info = os.stat(self.lab.state_file)
            stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_ino)
        except OSError:
            stamp = None
        if stamp == self._state_stamp:
            return
        self._state_stamp = stamp
        with contextlib.suppress(LabError, OSError, ValueError, KeyError):
            self.lab = make_lab(self.backend)
        if self.lab.state is None:
            return
        with contextlib.suppress(LabError, OSError, ValueError):
            timers = self.lab.timers()
            self._timers = {"keepalive": timers.keepalive, "deadtime": timers.deadtime}
        for name in self.cluster:
            log_dir = self.lab.log_dir(name)
            paths = (log_dir / "ha-log", log_dir / "ha-events.jsonl")
            if name not in self.follows or self.follows[name][0].path != paths[0]:
                self.follows[name] = (Follow(paths[0]), Follow(paths[1]))
                self.logs[name] = NodeLog(frozenset(self.cluster))
                self._read_logs(name, backlog=True)

    def _facts(self, name: str, up: bool, qdiscs: bool, nft: bool) -> build.Facts:
        host = self.topo.host(name)
        assert host is not None
        facts = build.Facts(
            name, host.role.value, False, interfaces=[i.name for i in host.interfaces]
        )
        if not up:
            self._netns[name] = ""
            return facts
        rec = self.lab.record(name)
        facts.on, facts.impl = rec.on, rec.impl
        ref = ""
        with contextlib.suppress(LabError):
            ref = self.lab.netns_of(name) if facts.on else ""
        self._netns[name] = ref
        handle = self.handles[name]
        handle.point_at(ref)
        facts.net = handle.look(facts.interfaces, with_qdiscs=qdiscs)
        if name in self.cluster:
            self._node_facts(facts, rec.init.pid if rec.init and facts.on else None, nft)
            heard = dict(self.wire.heard)
            facts.heard = {iface: t for (node, iface), t in heard.items() if node == name}
        return facts

    def _node_facts(self, facts: build.Facts, init_pid: int | None, nft: bool) -> None:
        name = facts.name
        if self._was_on.get(name) and not facts.on:
            self.logs[name] = NodeLog(frozenset(self.cluster))  # a cold boot forgets
        self._was_on[name] = facts.on
        self._read_logs(name, backlog=False)
        facts.log = self.logs.get(name)
        root = netview.node_root(init_pid)
        if root is not None:
            facts.daemon_running = netview.daemon_running(root)
            facts.nginx_running = netview.nginx_running(root)
        now = time.monotonic()
        if facts.daemon_running:
            self._daemon_seen[name] = now
        elif now - self._daemon_seen.get(name, -CRASH_GRACE) < CRASH_GRACE:
            facts.daemon_running = True
        if nft:
            ref = self._netns.get(name, "")
            with contextlib.suppress(OSError, ValueError, subprocess.SubprocessError):
                self._nft[name] = netview.nft_loss(ref) if ref else {}
        facts.nft = self._nft.get(name, {}) if facts.on else {}

    def _read_logs(self, name: str, backlog: bool) -> None:
        follow = self.follows.get(name)
        if follow is None:
            return
        log, with_events = self.logs[name], self.lab.record(name).impl == "hbnode"
        for line in follow[0].new_lines():
            log.feed(line)
            step = None if with_events else step_of_line(line, log.cluster)
            if step is not None:
                self.events.append((line_time(line) if backlog else time.time(), name, step))
        for line in follow[1].new_lines():
            with contextlib.suppress(ValueError, TypeError):
                event = json.loads(line)
                text = step_of_event(event, log.cluster) if isinstance(event, dict) else None
                if text is not None:
                    self.events.append((float(event["ts"]), name, text))

    def _retarget(self, facts: list[build.Facts]) -> None:
        targets = [
            Target(f.name, iface, self._netns[f.name])
            for f in facts
            if f.name in self.cluster and f.on and self._netns.get(f.name)
            for iface in self.heartbeat_ifaces
        ]
        client = self.wire.client_if
        if client is not None and self._netns.get("client"):
            targets.append(Target("client", client.name, self._netns["client"], arp=True))
        self.wire.retarget(targets)

    def _client_netns(self) -> str | None:
        return self._netns.get("client") or None
