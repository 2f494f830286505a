"""Polling helpers for lab tests: wait for a condition with a deadline, never sleep blind."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab import freezes
from lab.backends import Lab
from lab.badnews import BAD_NEWS, MEMLOCK_LINE, REALTIME_LINE
from lab.probes import AddrWatch, ArpWatch, HttpProbe
from lab.ready import SETTLE_POLL, in_transition
from lab.topology import REFERENCE


class Timeout(AssertionError):
    pass


def node_log(lab: Lab, node: str, name: str = "ha-log") -> str:
    """A log file of the node's /var/log ("" until it exists), readable while it is off."""
    path = lab.log_dir(node) / name
    return path.read_text(errors="replace") if path.exists() else ""


Said = str | Callable[[], str]  # a message, or one made when it is needed

# ha-log lines that move a group or judge who holds it, on either implementation.
MOVES = re.compile(
    r"acquired|released|[Rr]eleasing|giving up|Giveup|[Ii]solat|standby|keeps them"
    r"|partition|[Tt]ak(e|ing) over|is dead|failed|STONITH"
)
MOVE_LINE_CHARS = 160
MACHINE = re.compile(f"{MEMLOCK_LINE}|{REALTIME_LINE}")  # the machine's, in every log
# From the owner serving its page to both daemons out of "transition": the real
# Heartbeat's peer reports its holdings within a keepalive or two of the owner's.
SETTLE_TIMEOUT = 30.0


def _say(what: Said) -> str:
    return what if isinstance(what, str) else what()


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: Said, interval: float = 0.05
) -> float:
    """Poll until ``predicate()``; return the seconds it took, or fail with ``what``.

    Give ``what`` as a callable when it names the state: it is then made at the
    deadline, so the failure says what the lab looked like when the wait gave up.
    """
    started, wall_started = time.monotonic(), time.time()
    deadline = started + timeout
    while True:
        if predicate():
            return time.monotonic() - started
        # Time in which this process stood still (lab.freezes) is not held against it.
        if time.monotonic() >= freezes.extended(deadline, wall_started):
            said = freezes.said(wall_started)
            raise Timeout(f"not within {timeout:.1f} s{said}: {_say(what)}")
        time.sleep(interval)


def holds_for(
    predicate: Callable[[], bool], seconds: float, what: Said, interval: float = 0.05
) -> None:
    """Fail if ``predicate()`` turns false at any sample during ``seconds``; time in
    which this process stood still (lab.freezes) is sampled again, not taken on trust."""
    deadline, wall_started = time.monotonic() + seconds, time.time()
    while time.monotonic() < freezes.extended(deadline, wall_started):
        if not predicate():
            raise AssertionError(f"stopped holding: {_say(what)}")
        time.sleep(interval)


@dataclass
class Cluster:
    """A lab that is up, with the questions tests ask of it."""

    lab: Lab
    spec: str

    @property
    def timers(self) -> dict[str, float]:
        """The nodes' own timers (their ha.cf, --set included), in seconds."""
        t = self.lab.timers()
        return {
            name: getattr(t, name) for name in ("keepalive", "deadtime", "warntime", "initdead")
        }

    @property
    def deadtime(self) -> float:
        return self.timers["deadtime"]

    def holders(self) -> list[str]:
        return self.lab.vip_holders()

    def held_by(self, *nodes: str) -> Callable[[], bool]:
        return lambda: sorted(self.holders()) == sorted(nodes)

    def wait_holder(self, node: str, timeout: float) -> float:
        return wait_until(
            self.held_by(node),
            timeout,
            lambda: f"the VIP held by {node} alone (holders now: {self.holders()}) {self.moves()}",
        )

    def settles_on(self, node: str, timeout: float, strict: bool | None = None) -> float:
        """``node`` alone holds the VIP and serves the page, for 3 × deadtime: the state
        that lasts, not the first moment after a fault. Returns the seconds until it
        first held.

        ``strict`` (the default when both nodes run hbnode): once it holds, it must
        not move again. Otherwise (a real Heartbeat restarts itself after a partition,
        and its nodes may take and drop the group on the way) it must come to hold
        for 3 × deadtime without a break within ``timeout``.
        """
        strict = self.hbnode_only if strict is None else strict
        lasting = 3 * self.deadtime
        started = time.monotonic()
        deadline = started + timeout + (0.0 if strict else lasting)
        what = f"{node} alone holds the VIP and serves"
        while True:
            wait_until(
                lambda: self.holders() == [node] and self.page() == node,
                max(0.0, deadline - time.monotonic()),
                lambda: f"{what} (holders now: {self.holders()}) {self.moves()}",
            )
            took = time.monotonic() - started
            try:
                holds_for(
                    lambda: self.holders() == [node],
                    lasting,
                    lambda: (
                        f"{node} keeps the VIP for 3 x deadtime (now: {self.holders()})"
                        f" {self.moves()}"
                    ),
                )
            except AssertionError:
                if strict or time.monotonic() + lasting > deadline:
                    raise
                continue  # it moved again: wait for the state that lasts
            # It served when it first held; one probe after the hold may meet a busy
            # machine (a 1 s HTTP timeout), so it gets the lasting window to answer.
            self.wait_page(node, lasting)
            return took

    @property
    def hbnode_only(self) -> bool:
        """Both nodes run hbnode (the real Heartbeat restarts itself after a heal)."""
        return all(self.impl(n) == "hbnode" for n in ("master", "slave"))

    def page(self) -> str | None:
        """The node named by http://VIP/ as the client sees it, or None."""
        # netns_of: a name on the netns backend, the container's /proc path on docker.
        probe = HttpProbe(self.lab.netns_of("client"), str(REFERENCE.vip.ip), timeout=1.0)
        probe.probe_once(time.monotonic())
        sample = probe.samples[-1]
        return sample.server if sample.ok else None

    def wait_page(self, node: str, timeout: float) -> float:
        return wait_until(
            lambda: self.page() == node, timeout, f"the client gets {node}'s page via the VIP"
        )

    def nodestatus(self, on: str, about: str) -> str:
        done = self.lab.run(on, ["cl_status", "nodestatus", about], timeout=10)
        return done.stdout.strip()

    def arp_watch(self, interval: float = 0.05) -> ArpWatch:
        client = REFERENCE.host("client")
        assert client is not None
        addr = client.address_on("eth0")
        assert addr is not None
        return ArpWatch.on(
            self.lab.netns_of("client"),
            "eth0",
            str(REFERENCE.vip.ip),
            str(addr.ip),
            interval=interval,
        )

    def addr_watch(self, interval: float = 0.05) -> AddrWatch:
        return AddrWatch(self.holders, interval=interval)

    def impl(self, node: str) -> str:
        """The implementation running on ``node`` (spec "hbnode" or "master=…,slave=…")."""
        if "=" not in self.spec:
            return self.spec
        return dict(part.split("=", 1) for part in self.spec.split(","))[node]

    def tool(self, node: str, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run hb_standby/hb_takeover as the tutorial would on that node's implementation."""
        path = name if self.impl(node) == "hbnode" else f"/usr/share/heartbeat/{name}"
        return self.lab.run(node, [path, *args], timeout=30)

    def log(self, node: str, name: str = "ha-log") -> str:
        return node_log(self.lab, node, name)

    def moves(self, lines: int = 6) -> str:
        """Each node's last ha-log lines that moved or judged a group: why the holder
        is what it is, in the failure's own message (a CI report keeps little else)."""
        parts = []
        for host in self.lab.topo.cluster_nodes:
            log = self.log(host.name).splitlines()
            found = [line for line in log if MOVES.search(line)]
            said = " | ".join(line[:MOVE_LINE_CHARS] for line in found[-lines:])
            parts.append(f"[{host.name}'s last moves: {said or 'none'}]")
            # Its errors too: a lost message (the real Heartbeat's FIFO) moves nothing.
            bad = [line for line in log if BAD_NEWS.search(line) and not MACHINE.search(line)]
            if bad:
                errors = " | ".join(line[:MOVE_LINE_CHARS] for line in bad[-3:])
                parts.append(f"[{host.name}'s last errors: {errors}]")
        return " ".join(parts)

    def startup(self, owner: str = "master", timeout: float = 60.0) -> float:
        """Wait for the initial acquisition: VIP on ``owner``, its page served, and no
        daemon still in transition (lab.ready.in_transition says why a test must not
        act before). Returns the seconds until the VIP was on ``owner``."""
        took = self.wait_holder(owner, timeout)
        self.wait_page(owner, 10.0)
        wait_until(
            lambda: not in_transition(self.lab),
            SETTLE_TIMEOUT,
            lambda: f"no daemon in transition (now: {in_transition(self.lab)})",
            interval=SETTLE_POLL,
        )
        return took
