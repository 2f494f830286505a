"""What each node looks like from outside, cheaply enough to ask ten times a second.

* Netlink, through one pyroute2 handle per node kept open inside its namespace
  (reopened when the namespace changes): each interface up or down, the VIP
  configured or not, a netem qdisc on an interface.
* The node's own files, through its init's root: the daemon's and nginx's pid
  files, checked against the node's own /proc. No process is started for these.
* The nftables loss rule lab.faults falls back to where the kernel has no netem:
  `nft` inside the node's network namespace, asked only every few seconds.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyroute2 import NetNS

from lab.faults import NFT_TABLE
from lab.impls import PIDFILE
from lab.netsock import netns_path

NGINX_PIDFILE = "run/nginx.pid"  # lab/assets/nginx.init
IFF_UP = 0x1
_NFT_LOSS = re.compile(r'oifname "([^"]+)" numgen random mod 100 < (\d+)')


@dataclass
class NetState:
    """One look at a node's namespace."""

    links: dict[str, bool] = field(default_factory=dict)  # ifname → administratively up
    addresses: set[str] = field(default_factory=set)
    netem: dict[str, str] = field(default_factory=dict)  # ifname → "loss 30%" etc.


class NetHandle:
    """A netlink handle kept open inside one node's namespace."""

    def __init__(self) -> None:
        self.ref = ""
        self._ns: Any = None

    def point_at(self, ref: str) -> None:
        """Follow the node to ``ref`` (a name or /proc path; "" while it is off)."""
        if ref == self.ref and (self._ns is not None or not ref):
            return
        self.close()
        self.ref = ref
        if ref and Path(netns_path(ref)).exists():
            self._ns = NetNS(ref)

    def close(self) -> None:
        if self._ns is not None:
            with contextlib.suppress(Exception):  # a namespace already gone closes badly
                self._ns.close()
        self._ns = None

    def look(self, with_qdiscs: bool) -> NetState | None:
        if self._ns is None:
            return None
        try:
            return self._look(with_qdiscs)
        except Exception:  # the namespace vanished under us (container killed)
            self.close()
            return None

    def _look(self, with_qdiscs: bool) -> NetState:
        state = NetState()
        names: dict[int, str] = {}
        for link in self._ns.get_links():
            name = str(link.get("ifname"))
            names[int(link["index"])] = name
            if name != "lo":
                state.links[name] = bool(link["flags"] & IFF_UP)
        state.addresses = {str(msg.get("address")) for msg in self._ns.get_addr(family=2)}
        if with_qdiscs:
            for qdisc in self._ns.get_qdiscs():
                if qdisc.get("kind") == "netem" and qdisc.get("parent") == 0xFFFFFFFF:
                    state.netem[names.get(int(qdisc["index"]), "?")] = _netem_text(qdisc)
        return state


def _netem_text(qdisc: Any) -> str:
    """netem's loss as a percentage where pyroute2 decodes it, else just "netem"."""
    options = qdisc.get("options")
    loss = options.get("loss") if options is not None else None
    if isinstance(loss, int) and loss > 0:
        return f"netem loss {loss * 100 / 0xFFFFFFFF:.0f}%"
    return "netem"


def nft_loss(netns: str) -> dict[str, str]:
    """lab.faults' nftables loss rules in ``netns``: ifname → "loss 30%"."""
    done = subprocess.run(
        ["nsenter", f"--net={netns_path(netns)}", "nft", "list", "table", "inet", NFT_TABLE],
        capture_output=True,
        text=True,
        timeout=5,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        return {}
    return {m.group(1): f"loss {m.group(2)}%" for m in _NFT_LOSS.finditer(done.stdout)}


def process_running(root: Path, pidfile: str) -> bool:
    """Whether the pid file under the node's ``root`` names a live process of the node
    (looked up in the node's own /proc: its PIDs are its namespace's)."""
    try:
        pid = int((root / pidfile).read_text().split()[0])
        stat = (root / "proc" / str(pid) / "stat").read_text()
    except (OSError, ValueError, IndexError):
        return False
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def node_root(init_pid: int | None) -> Path | None:
    return Path(f"/proc/{init_pid}/root") if init_pid else None


def daemon_running(root: Path) -> bool:
    return process_running(root, PIDFILE)


def nginx_running(root: Path) -> bool:
    return process_running(root, NGINX_PIDFILE)
