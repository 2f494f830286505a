"""`hblab watch`: the live model as a full-screen terminal view (rich), for a shell
over ssh. It draws the same snapshots as the page, five times a second, in text:
one row per host, the VIP's holders by netlink and by ARP, the client's probe
strip (a letter per probe: the node that served the page, ``x`` for a failure) and
the newest events. Ctrl-C leaves it.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

REFRESH = 0.2  # seconds between redraws (the model itself ticks faster)
MAX_SECONDS = 12 * 3600.0
STATE_STYLES = {
    "active": "bold green",
    "up": "yellow",
    "init": "yellow",
    "starting": "yellow",
    "stopped": "dim",
    "crashed": "bold red",
    "off": "dim",
}
PROBE_STYLES = ("black on green", "black on cyan", "black on magenta", "black on blue")


class Source(Protocol):
    latest: dict[str, Any] | None

    def hello(self) -> dict[str, Any]: ...


def _header(hello: dict[str, Any], snap: dict[str, Any]) -> Text:
    timers = snap.get("timers") or {}
    parts = [f"hblab watch — {snap['backend']} lab"]
    if hello.get("mode") == "replay":
        index, count = snap.get("replay", [0, 0])
        parts = [f"hblab watch — replay of {hello.get('source')} ({index}/{count})"]
    elif snap["lab"] != "up":
        parts.append("(not up)")
    if timers:
        parts.append(f"keepalive {timers['keepalive']}s deadtime {timers['deadtime']}s")
    stats = snap["stats"]
    parts.append(f"model {stats['rate']:.1f}/s, CPU {stats['cpu']:.1f}%")
    return Text(" — ".join(parts), style="bold", no_wrap=True, overflow="ellipsis")


def _vip(snap: dict[str, Any]) -> Text:
    vip = snap["vip"]
    holders = " and ".join(vip["holders"]) or "nobody"
    arp = " and ".join(vip["arp"]) or "none"
    style = "bold white on red" if vip["split"] else "bold black on yellow"
    text = Text(f" VIP {vip['ip']} ({vip['label']}) held by {holders} ", style=style)
    text.append(f"   ARP answers: {arp}", style="bold red" if len(vip["arp"]) > 1 else "")
    return text


def _link(link: dict[str, Any]) -> Text:
    style = {"down": "bold red", "off": "dim"}.get(link["state"], "")
    text = Text(f"{link['iface']} {link['state']}", style=style)
    if link.get("heard_age") is not None and link["state"] == "up":
        text.append(f" ♥{link['heard_age']:.1f}s", style="magenta")
    if link["faults"]:
        text.append(f" [{', '.join(f for f in link['faults'] if f != 'down')}]", style="yellow")
    return text


def _nodes(snap: dict[str, Any]) -> Table:
    table = Table(expand=True, box=None, header_style="bold")
    for column in ("host", "power", "impl", "daemon", "status", "sees", "links", "VIP", "nginx"):
        table.add_column(column)
    for node in snap["nodes"]:
        status = node.get("status") or ("on" if node["power"] == "on" else "off")
        sees = ", ".join(f"{p} {s}" for p, s in node.get("peers", {}).items())
        links = Text("  ").join(_link(link) for link in node["links"])
        table.add_row(
            Text(node["name"], style="bold"),
            node["power"],
            node.get("impl") or "",
            node.get("daemon") or "",
            Text(status, style=STATE_STYLES.get(status, "")),
            sees,
            links,
            "✔" if node["vip"] else "",
            {True: "running", False: "—", None: ""}[node.get("nginx")],
        )
    return table


def _probe(hello: dict[str, Any], snap: dict[str, Any], width: int) -> Text:
    cluster = hello.get("cluster", [])
    text = Text(f"client → http://{snap['vip']['ip']}/ every {snap['probe_interval']}s: ")
    for code in snap["probe"][-max(10, width - len(text) - 2) :]:
        if code == ".":
            text.append("x", style="bold white on red")
        else:
            index = int(code)
            letter = cluster[index][0] if index < len(cluster) else "?"
            text.append(letter, style=PROBE_STYLES[index % len(PROBE_STYLES)])
    return text


def _events(snap: dict[str, Any], count: int) -> Text:
    text = Text()
    for when, who, what in list(reversed(snap["events"]))[:count]:
        stamp = time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when % 1 * 1000):03d}"
        text.append(f"{stamp} ", style="dim")
        text.append(f"{who:<7} ", style="bold cyan" if who == "hblab" else "bold")
        text.append(f"{what}\n")
    return text


def render(hello: dict[str, Any], snap: dict[str, Any] | None, width: int, height: int) -> Group:
    if snap is None:
        return Group(Text("hblab watch: waiting for the first snapshot…"))
    events_room = max(3, height - len(snap["nodes"]) - 12)
    return Group(
        _header(hello, snap),
        _vip(snap),
        Panel(_nodes(snap), title="hosts"),
        _probe(hello, snap, width),
        Panel(_events(snap, events_room), title="events (newest first)"),
    )


def watch(source: Source, max_seconds: float = MAX_SECONDS) -> int:
    """Redraw until Ctrl-C (or ``max_seconds``)."""
    console = Console()
    hello = source.hello()
    deadline = time.monotonic() + max_seconds
    with Live(console=console, screen=True, auto_refresh=False) as live:
        try:
            while time.monotonic() < deadline:
                size = console.size
                live.update(render(hello, source.latest, size.width, size.height), refresh=True)
                time.sleep(REFRESH)
        except KeyboardInterrupt:
            pass
    return 0
