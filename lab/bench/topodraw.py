"""`hblab topology`: the lab as a picture (nodes, interfaces, addresses, bridges, VIP).

Drawn from the topology description (lab.topology), so the picture cannot drift
from what the lab builds. Cluster nodes sit above and below the switch namespace,
the other hosts left and right of the bridge they are cabled to.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from lab.bench.plot import save_figure
from lab.topology import Host, Role, Topology

ROLE_COLORS = {Role.CLUSTER_NODE: "#e3f2fd", Role.PING_NODE: "#f1f8e9", Role.CLIENT: "#fff3e0"}
ROLE_NAMES = {Role.CLUSTER_NODE: "cluster node", Role.PING_NODE: "ping node", Role.CLIENT: "client"}
VIP_COLOR = "#ffca28"


def bridge_positions(topo: Topology) -> dict[str, tuple[float, float]]:
    """Bridges side by side in the middle of the picture (segment name → x, y)."""
    count = len(topo.segments)
    return {
        seg.name: (0.5 + (i - (count - 1) / 2) * 0.28, 0.5) for i, seg in enumerate(topo.segments)
    }


def host_positions(topo: Topology) -> dict[str, tuple[float, float]]:
    """Cluster nodes above and below; other hosts beside their bridge, outward."""
    places: dict[str, tuple[float, float]] = {}
    cluster = topo.cluster_nodes
    for i, host in enumerate(cluster):
        places[host.name] = (0.5, 0.86 if i == 0 else 0.14) if i < 2 else (0.5, 0.5)
    bridges = bridge_positions(topo)
    others = [h for h in topo.hosts if h.role is not Role.CLUSTER_NODE]
    for host in others:
        x, _ = bridges[host.interfaces[0].segment]
        places[host.name] = (0.1 if x < 0.5 else 0.9, 0.5)
    return places


def _box(ax: Axes, x: float, y: float, w: float, h: float, color: str, text: str) -> None:
    box = FancyBboxPatch(
        (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.01", fc=color, ec="#37474f"
    )
    ax.add_patch(box)
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def draw(topo: Topology, out: Path, vip_holders: list[str] | None = None) -> Path:
    """Draw ``topo``; ``vip_holders`` from a running lab (None: the lab is not up)."""
    fig, ax = plt.subplots(figsize=(12, 7.5))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    bridges = bridge_positions(topo)
    hosts = host_positions(topo)
    _draw_switch(ax, topo, bridges)
    for host in topo.hosts:
        _draw_host(ax, topo, host, hosts[host.name], bridges, vip_holders)
    holders = "lab not up" if vip_holders is None else ", ".join(vip_holders) or "nobody"
    ax.set_title(
        f"hblab topology — VIP {topo.vip.ip}/{topo.vip.network.prefixlen} on "
        f"{topo.vip_label} of the holder (now: {holders})",
        fontsize=11,
    )
    return save_figure(fig, out)


def _draw_switch(ax: Axes, topo: Topology, bridges: dict[str, tuple[float, float]]) -> None:
    xs = [x for x, _ in bridges.values()]
    left, right = min(xs) - 0.11, max(xs) + 0.11
    ax.add_patch(
        FancyBboxPatch(
            (left, 0.38),
            right - left,
            0.24,
            boxstyle="round,pad=0.01",
            fc="none",
            ls="--",
            ec="#78909c",
        )
    )
    ax.text(left + 0.01, 0.6, f"netns {topo.switch_netns}", fontsize=8, color="#546e7a")
    for seg in topo.segments:
        x, y = bridges[seg.name]
        _box(ax, x, y, 0.18, 0.09, "#eceff1", f"{seg.bridge}\n{seg.subnet}\n{seg.purpose}")


def _draw_host(
    ax: Axes,
    topo: Topology,
    host: Host,
    where: tuple[float, float],
    bridges: dict[str, tuple[float, float]],
    vip_holders: list[str] | None,
) -> None:
    x, y = where
    for iface in host.interfaces:
        bx, by = bridges[iface.segment]
        ax.plot([x, bx], [y, by], color="#546e7a", lw=1.2, zorder=0)
        mx, my = x + (bx - x) * 0.42, y + (by - y) * 0.42
        if abs(by - y) < 1e-6:  # a horizontal cable: the label goes above it
            mx, my = (x + bx) / 2, y + 0.07
        label = f"{iface.name} {iface.address}\n{iface.mac}"
        ax.text(
            mx,
            my,
            label,
            fontsize=7.5,
            ha="center",
            va="center",
            bbox={"fc": "white", "ec": "none", "alpha": 0.85},
        )
    role = ROLE_NAMES.get(host.role, host.role.value)
    name = host.name if role == host.name else f"{host.name} ({role})"
    text = f"{name}\nnetns {topo.netns_of(host.name)}"
    _box(ax, x, y, 0.17, 0.08, ROLE_COLORS.get(host.role, "#ffffff"), text)
    if vip_holders is not None and host.name in vip_holders:
        badge = f"{topo.vip_label} VIP {topo.vip.ip}"
        dy = 0.075 if y > 0.5 else -0.075
        _box(ax, x, y + dy, 0.17, 0.04, VIP_COLOR, badge)
