"""When is a freshly started cluster ready, and what is it doing until then?

`hblab up` (and `make lab`) return once the resource group is held by its owner
alone, the client gets the owner's page through the VIP, and no daemon is still in
transition (see :func:`in_transition`). Until then the lab
reports what each node's daemon says of itself (``cl_status``: init, up,
active) and where the resource negotiation stands, so a newcomer sees
"negotiating", not "held by nobody".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hbnode.config.errors import ConfigError
from hbnode.config.haresources import parse_haresources_text
from hbnode.control import CONTROL_SOCKET, ControlError
from hbnode.control import request as control_request
from hbnode.core.timers import Timers
from lab import netsock
from lab.errors import LabError
from lab.impls import Impl

if TYPE_CHECKING:
    from lab.labcore import LabBase

POLL = 0.1  # VIP and page: cheap (netlink, one TCP connect)
SETTLE_POLL = 0.25  # served, waiting out "transition": a real Heartbeat costs a cl_status
REPORT_EVERY = 2.0  # daemon states: one cl_status per node, printed as progress
PAGE_TIMEOUT = 0.5
# Beyond the daemons' own start-up bound (initdead, then Heartbeat's 10 s
# resource negotiation delay), the slack a loaded machine may need.
NEGOTIATION_S = 10.0
SLACK_S = 20.0


class NotReady(LabError):
    """The cluster did not settle in time: the message names what is missing."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One look at the cluster: who holds the VIP, who serves the page, daemon states."""

    owner: str
    holders: tuple[str, ...]
    page: str | None  # the node named by http://VIP/ from the client, or None
    daemons: dict[str, str]  # node → its own status (init/up/active/stopped/off)
    unsettled: tuple[str, ...] = ()  # nodes whose daemon still says "transition"

    @property
    def served(self) -> bool:
        return self.holders == (self.owner,) and self.page == self.owner

    @property
    def ready(self) -> bool:
        return self.served and not self.unsettled

    def describe(self) -> str:
        states = ", ".join(f"{node} {state}" for node, state in self.daemons.items())
        vip = f"VIP {self.vip_phrase()}"
        if self.served and self.unsettled:
            vip += f", {' and '.join(self.unsettled)} still in transition"
        return f"{states}, {vip}" if states else vip

    def vip_phrase(self) -> str:
        if len(self.holders) > 1:
            return f"held by {' and '.join(self.holders)} (two holders)"
        if self.holders:
            served = "" if self.page == self.holders[0] else ", page not served yet"
            return f"held by {self.holders[0]}{served}"
        running = [s for s in self.daemons.values() if s not in ("off", "stopped")]
        return "negotiating" if running else "held by nobody (no daemon runs)"


def group_owner(lab: LabBase) -> str:
    """The node the first haresources line names (the lab's own files, or --config's)."""
    first = lab.topo.cluster_nodes[0].name
    try:
        text = lab.node_file(first, "/etc/ha.d/haresources").read_text()
        groups = parse_haresources_text(text)
    except (OSError, ConfigError):
        return first
    return groups[0].owner if groups else first


def fetch_page(client_netns: str, vip: str, timeout: float = PAGE_TIMEOUT) -> str | None:
    """GET http://VIP/ from inside the client; the last line of the page names the node."""
    sock = netsock.inet_socket(client_netns)
    sock.settimeout(timeout)
    try:
        sock.connect((vip, 80))
        sock.sendall(b"GET / HTTP/1.0\r\nHost: " + vip.encode() + b"\r\n\r\n")
        body = sock.recv(4096).decode(errors="replace")
    except OSError:
        return None
    finally:
        sock.close()
    if not body.startswith(("HTTP/1.1 200", "HTTP/1.0 200")) or "\n" not in body:
        return None
    return body.rsplit("\n", 2)[-2].strip() or None


def daemon_states(lab: LabBase) -> dict[str, str]:
    """Each cluster node's view of itself, as ``cl_status nodestatus`` prints it."""
    nodes = lab.status()["nodes"]
    states: dict[str, str] = {}
    for host in lab.topo.cluster_nodes:
        info = nodes.get(host.name, {})
        if info.get("power") != "on":
            states[host.name] = "off"
        elif info.get("daemon") != "running":
            states[host.name] = "stopped"
        else:
            done = lab.run(host.name, ["cl_status", "nodestatus", host.name], timeout=10)
            states[host.name] = done.stdout.strip() or "starting"
    return states


def look(lab: LabBase, owner: str, with_daemons: bool) -> Snapshot:
    holders = tuple(sorted(lab.vip_holders()))
    client = lab.topo.host("client")
    page = None
    if holders and client is not None:
        page = fetch_page(lab.netns_of(client.name), str(lab.topo.vip.ip))
    daemons = daemon_states(lab) if with_daemons else {}
    snap = Snapshot(owner, holders, page, daemons)
    if not snap.served:
        return snap
    return Snapshot(owner, holders, page, daemons, tuple(in_transition(lab)))


def in_transition(lab: LabBase, status: dict[str, Any] | None = None) -> list[str]:
    """The cluster nodes whose daemon runs and still says ``transition``
    (``cl_status rscstatus``), or does not answer yet.

    Ready means settled, not only served. The real Heartbeat's node that has just
    learnt its peer holds the group reports its own holdings from a child process,
    through the FIFO its scripts use. An hb_takeover run at that moment writes the
    same FIFO, the two messages can interleave, and the FIFO reader drops both
    (lab.badnews.HEARTBEAT_FIFO_LOSS): the takeover never happens, and the node
    never says it is stable. Once no daemon is in transition, that report is out.
    """
    status = lab.status() if status is None else status
    running = [
        name
        for name, info in status["nodes"].items()
        if info.get("power") == "on" and info.get("daemon") == "running"
    ]
    # No answer yet (the API is not up) or "transition": still negotiating.
    return [name for name in running if rscstatus(lab, name) in (None, "transition")]


def rscstatus(lab: LabBase, name: str) -> str | None:
    """What ``cl_status rscstatus`` prints on the node, or None if its daemon does not
    answer. hbnode's is read from its control socket through the node's root: the
    same answer without starting a Python interpreter in the node for every look."""
    if lab.record(name).impl == Impl.HBNODE.value:
        try:
            socket_path = lab.node_file(name, str(CONTROL_SOCKET))
            return str(control_request("status", socket_path, timeout=2.0)["rscstatus"])
        except (ControlError, OSError, LabError, KeyError):
            pass  # another machine's engine, or not up yet: ask the node itself
    done = lab.run(name, ["cl_status", "rscstatus"], timeout=10)
    return done.stdout.strip() if done.returncode == 0 else None


def ready_timeout(timers: Timers) -> float:
    """How long a healthy start can take: initdead, the negotiation, and slack."""
    return timers.initdead + timers.deadtime + NEGOTIATION_S + SLACK_S


def wait_ready(
    lab: LabBase,
    timeout: float,
    progress: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Poll until :meth:`Snapshot.ready`; report progress; raise :class:`NotReady`.

    Returns the seconds it took.
    """
    owner = group_owner(lab)
    started = clock()
    next_report = started + REPORT_EVERY
    while True:
        now = clock()
        report = now >= next_report
        snap = look(lab, owner, with_daemons=report)
        if snap.ready:
            return clock() - started
        if report:
            progress(f"waiting for the cluster: {snap.describe()} ({now - started:.1f}s)")
            next_report = now + REPORT_EVERY
        if clock() - started >= timeout:
            final = snap if snap.daemons else look(lab, owner, with_daemons=True)
            raise NotReady(
                f"the cluster was not ready after {timeout:.0f} s: wanted the VIP on "
                f"{owner} serving its page; {final.describe()}"
            )
        sleep(SETTLE_POLL if snap.served else POLL)


def vip_state(lab: LabBase, status: dict[str, Any]) -> str:
    """The VIP in words for `hblab status`: who holds it, or "starting" while the
    daemons still negotiate (``cl_status rscstatus`` says ``transition``)."""
    holders = status["vip_holders"]
    if len(holders) > 1:
        return f"held by {' and '.join(holders)} (two holders)"
    if holders:
        return f"held by {holders[0]}"
    if in_transition(lab, status):
        return "starting (the nodes are negotiating the resource group)"
    return "held by nobody"
