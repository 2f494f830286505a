"""The recorder: the lab sampled into one timeline while a schedule plays.

* the VIP's holders, each node's addresses read inside its namespace (SIOCGIFCONF
  on a socket kept open there, microseconds a read), every 0.05 s. The nodes are
  read A, B, A, B: two holders are recorded only when one node is seen holding
  before and after the other was, so a fast hand-over read between the two
  nodes' reads is not taken for an overlap;
* who answers the client's ARP who-has for the VIP, and the client's HTTP GET
  through the VIP (each every 0.1 s, the bench's probes);
* each node's power, its daemon's PID and whether the service runs (every 0.5 s);
* each daemon's own view (every 1 s): ``hbnode status --json`` on hbnode nodes,
  ``cl_status rscstatus`` and ``nodestatus`` on Heartbeat nodes;
* every new line of each node's ha-log.

Every sampler is a thread bounded in time, stopped in ``stop()``; none sends
anything but the client's probes, and only to the VIP.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from lab.backends import Lab, make_lab
from lab.bench.watchers import LogTail
from lab.live.netview import NetHandle
from lab.nemesis.timeline import ProcSample, Timeline
from lab.probes import ArpWatch, HttpProbe
from lab.soak.leaks import node_processes

PROBE_INTERVAL = 0.1
HOLDERS_INTERVAL = 0.05
PROC_INTERVAL = 0.5
VIEW_INTERVAL = 1.0
MAX_SECONDS = 590.0  # under the probes' own 600 s limit
SERVICE_LABEL = "nginx: master process"


def holders_of(reads: list[tuple[str, bool]]) -> list[str]:
    """The holders from reads of the nodes in turn (A, B, A, B): a lone holder is one
    seen in any read; two only when each was seen holding on both sides of a read
    of the other (pure)."""
    seen = sorted({node for node, holds in reads if holds})
    if len(seen) < 2:
        return seen
    both = any(
        reads[i][1] and reads[i + 1][1] and reads[i + 2][1]
        for i in range(len(reads) - 2)
        if reads[i][0] == reads[i + 2][0] != reads[i + 1][0]
    )
    if both:
        return seen
    return [reads[-1][0]] if reads[-1][1] else [reads[-2][0]]


def _event_text(event: dict[str, Any]) -> str:
    skip = {"ts", "source", "step"}
    fields = " ".join(f"{k}={v}" for k, v in event.items() if k not in skip)
    return f"{event.get('step', '?')} {fields}".strip()


class _Loop:
    """A thread calling ``fn`` every ``interval`` until stopped or MAX_SECONDS."""

    def __init__(self, name: str, fn: Callable[[], None], interval: float) -> None:
        self.fn, self.interval = fn, interval
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10.0)

    def _run(self) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        while not self._stop.is_set() and time.monotonic() < deadline:
            began = time.monotonic()
            try:
                self.fn()
            except Exception:  # a node rebooting under the sampler: the next sample counts
                self.errors += 1
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))


class Recorder:
    """Samples ``lab`` through a lab object of its own: the player's object writes the
    lab's record (poweroff, poweron) while these threads read it."""

    def __init__(self, lab: Lab, timeline: Timeline, t0: float) -> None:
        self.lab = make_lab(lab.backend, prefix=lab.topo.prefix)
        self.timeline, self.t0 = timeline, t0
        self.nodes = [h.name for h in lab.topo.cluster_nodes]
        self.vip = str(lab.topo.vip.ip)
        client = lab.topo.host("client")
        address = client.address_on("eth0") if client is not None else None
        if address is None:
            raise ValueError("the topology has no client on eth0")
        netns = lab.netns_of("client")
        self.macs = {
            i.mac: h.name for h in lab.topo.cluster_nodes for i in h.interfaces if i.name == "eth0"
        }
        self.http = HttpProbe(netns, self.vip, PROBE_INTERVAL, 0.2, MAX_SECONDS)
        self.arp = ArpWatch.on(
            netns, "eth0", self.vip, str(address.ip), PROBE_INTERVAL, MAX_SECONDS
        )
        self.logs = LogTail({n: lab.log_dir(n) for n in self.nodes}, interval=0.1)
        self.handles = {n: NetHandle() for n in self.nodes}
        self.wall_t0 = time.time() - (time.monotonic() - t0)
        self.loops = [
            _Loop("nemesis-holders", self._holders, HOLDERS_INTERVAL),
            _Loop("nemesis-procs", self._procs, PROC_INTERVAL),
            _Loop("nemesis-views", self._views, VIEW_INTERVAL),
        ]

    def _now(self) -> float:
        return round(time.monotonic() - self.t0, 3)

    def start(self) -> None:
        self.logs.start()
        self.http.start()
        self.arp.start()
        for loop in self.loops:
            loop.start()

    def stop(self) -> None:
        for loop in self.loops:
            loop.stop()
        for handle in self.handles.values():
            handle.close()
        self.http.stop()
        self.arp.stop()
        self.logs.stop()
        tl = self.timeline
        tl.end = self._now()
        tl.http = [(round(s.sent_at - self.t0, 3), s.ok, s.server) for s in self.http.samples]
        tl.arp = [
            (round(s.sent_at - self.t0, 3), sorted(self.macs.get(m, m) for m in s.macs))
            for s in self.arp.samples
        ]
        tl.logs = [(round(t - self.t0, 3), node, line) for t, node, line in self.logs.lines]
        tl.events = [
            (round(float(e["ts"]) - self.wall_t0, 3), str(e["source"]), _event_text(e))
            for e in self.logs.events
        ]

    # -- samplers ---------------------------------------------------------------------------
    def _holders(self) -> None:
        for node, handle in self.handles.items():
            handle.point_at(self.lab.netns_of(node) if self.lab.is_on(node) else "")
        at = self._now()
        reads = [(node, self._holds(node)) for node in self.nodes * 2]
        self.timeline.holders.append((at, holders_of(reads)))

    def _holds(self, node: str) -> bool:
        state = self.handles[node].look([], with_qdiscs=False)
        return state is not None and self.vip in state.addresses

    def _procs(self) -> None:
        for node in self.nodes:
            on = self.lab.is_on(node)
            pid = self.lab.daemon_pid(node) if on else None
            init = self.lab.init_pid(node) if on else None
            labels = node_processes(init).values() if init else []
            service = any(label.startswith(SERVICE_LABEL) for label in labels)
            self.timeline.procs.append(ProcSample(self._now(), node, on, pid, service))

    def _views(self) -> None:
        for node in self.nodes:
            if not self.lab.is_on(node) or self.lab.daemon_pid(node) is None:
                continue
            view = self._view(node)
            if view:
                self.timeline.views.append((self._now(), node, view))

    def _view(self, node: str) -> dict[str, Any]:
        if self.timeline.impls.get(node) == "hbnode":
            done = self.lab.run(node, ["hbnode", "status", "--json"], timeout=5)
            if done.returncode != 0:
                return {"error": done.stderr.strip()[-200:]}
            status = json.loads(done.stdout)
            return {
                "rscstatus": status.get("rscstatus"),
                "comm_up": status.get("comm_up"),
                "nodes": {n["name"]: n["status"] for n in status.get("nodes", [])},
                "resources": status.get("resources", {}),
            }
        peer = next(n for n in self.nodes if n != node)
        rsc = self.lab.run(node, ["cl_status", "rscstatus"], timeout=5)
        peer_status = self.lab.run(node, ["cl_status", "nodestatus", peer], timeout=5)
        return {
            "rscstatus": rsc.stdout.strip() or rsc.stderr.strip()[-200:],
            "nodes": {peer: peer_status.stdout.strip()},
        }
