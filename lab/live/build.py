"""From what was gathered in one tick to a node's view (pure: unit-tested).

The collector hands over plain facts (power, pid-file checks, netlink, the log's
state, the wire's last heartbeat); this module decides what a node *is* from
them, e.g. a node whose daemon is gone without a shutdown line has crashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.live.logstate import NodeLog
from lab.live.model import LinkView, NodeView
from lab.live.netview import NetState


@dataclass
class Facts:
    """One tick's raw facts about one host."""

    name: str
    role: str
    on: bool
    impl: str | None = None
    net: NetState | None = None
    daemon_running: bool = False
    nginx_running: bool = False
    log: NodeLog | None = None
    heard: dict[str, float] = field(default_factory=dict)  # iface → last heartbeat (wall)
    nft: dict[str, str] = field(default_factory=dict)  # iface → "loss 30%"
    interfaces: list[str] = field(default_factory=list)  # from the topology


def daemon_word(facts: Facts) -> str | None:
    """running, stopped (never started, or shut down cleanly) or crashed."""
    if facts.role != "node":
        return None
    if not facts.on:
        return "off"
    if facts.daemon_running:
        return "running"
    own = facts.log.own if facts.log is not None else "?"
    return "stopped" if own in ("?", "stopped") else "crashed"


def status_word(facts: Facts, daemon: str | None) -> str | None:
    """The daemon's own status (init, up, active), or what stands in for it."""
    if daemon is None:
        return None
    if daemon != "running":
        return daemon
    own = facts.log.own if facts.log is not None else "?"
    return "starting" if own in ("?", "stopped") else own


def link_views(facts: Facts, vip: str, heartbeat_ifaces: list[str], now: float) -> list[LinkView]:
    views: list[LinkView] = []
    for iface in facts.interfaces:
        up = facts.net.links.get(iface) if facts.net is not None else None
        state = "absent" if up is None else ("up" if up else "down")
        if not facts.on:
            state = "off"
        faults = ["down"] if state == "down" else []
        if facts.net is not None and iface in facts.net.netem:
            faults.append(facts.net.netem[iface])
        if iface in facts.nft:
            faults.append(facts.nft[iface])
        heard = facts.heard.get(iface)
        age = round(now - heard, 3) if heard is not None and iface in heartbeat_ifaces else None
        says = None
        if facts.log is not None and facts.role == "node":
            says = next((s for k, s in facts.log.links.items() if k.endswith(f":{iface}")), None)
        views.append(LinkView(iface, state, age, faults, says))
    return views


def node_view(facts: Facts, vip: str, heartbeat_ifaces: list[str], now: float) -> NodeView:
    daemon = daemon_word(facts)
    view = NodeView(
        name=facts.name,
        role=facts.role,
        power="on" if facts.on else "off",
        impl=facts.impl,
        daemon=daemon,
        status=status_word(facts, daemon),
        links=link_views(facts, vip, heartbeat_ifaces, now),
        vip=facts.net is not None and vip in facts.net.addresses,
    )
    if facts.role == "node":
        view.nginx = facts.on and facts.nginx_running
        if daemon == "running" and facts.log is not None:
            view.peers = dict(facts.log.peers)
    return view


def changes(before: list[NodeView], after: list[NodeView]) -> list[str]:
    """What changed on the hosts between two ticks, as events: power, cables, faults
    (whoever caused it: a button, `hblab` in a shell, the daemon)."""
    old = {n.name: n for n in before}
    said: list[str] = []
    for node in after:
        prev = old.get(node.name)
        if prev is None:
            continue
        if prev.power != node.power:
            said.append(f"{node.name} powered {node.power}")
            continue
        if node.power != "on":
            continue
        links = {link.iface: link for link in prev.links}
        for link in node.links:
            was = links.get(link.iface)
            if was is None:
                continue
            if was.state != link.state and "off" not in (was.state, link.state):
                said.append(f"{node.name}:{link.iface} cable {link.state}")
            faults = [f for f in link.faults if f != "down"]
            if faults != [f for f in was.faults if f != "down"]:
                said.append(f"{node.name}:{link.iface} {', '.join(faults) or 'no fault'}")
    return said
