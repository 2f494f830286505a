"""Per-node directories on the host that lab.nodeinit mounts over the node's view.

Nothing here touches the host's /etc: every node-specific file lands in the node's
overlay upper directory under the lab's state directory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lab import hafiles
from lab.impls import TOOL_NAMES, Impl, spec
from lab.source import NODE_SOURCE
from lab.topology import Host, Role, Topology

ASSETS = Path(__file__).parent / "assets"


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _hosts_file(topo: Topology) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    for host in topo.hosts:
        addr = host.address_on("eth0") or host.address_on("eth1")
        if addr is not None:
            lines.append(f"{addr.ip}\t{host.name}")
    return "\n".join(lines) + "\n"


def prepare_node_dir(
    node_dir: Path,
    topo: Topology,
    host: Host,
    impl: Impl | None,
    profile: str,
    overrides: dict[str, str],
    config_dir: Path | None,
) -> None:
    """Lay out a node's private files (see lab.nodeinit for the mount plan)."""
    for sub in (
        "etc/upper",
        "etc/work",
        "lib64/upper",
        "lib64/work",
        "sbin/upper",
        "sbin/work",
        "hblib",
        "www",
    ):
        (node_dir / sub).mkdir(parents=True, exist_ok=True)
    (node_dir / "log" / "nginx").mkdir(parents=True, exist_ok=True)
    etc = node_dir / "etc" / "upper"
    _write(etc / "hostname", f"{host.name}\n")
    _write(etc / "hosts", _hosts_file(topo))
    # The CentOS tutorial sets the node name here; heartbeat itself uses uname -n.
    _write(etc / "sysconfig" / "network", f"NETWORKING=yes\nHOSTNAME={host.name}\n")
    _write(node_dir / "www" / "index.html", f"<h1>{host.name}</h1>\n{host.name}\n")
    # CentOS-like nginx init script (fast stop): see lab/assets/nginx.init.
    _write(etc / "init.d" / "nginx", (ASSETS / "nginx.init").read_text(), 0o755)
    if host.role is not Role.CLUSTER_NODE or impl is None:
        return
    hafiles.write_ha_d(
        etc / "ha.d", topo, host, profile, hafiles.overrides_for(impl.value, overrides), config_dir
    )
    install_impl(node_dir, impl)


def install_impl(node_dir: Path, impl: Impl) -> None:
    """Point the node's /etc/init.d/heartbeat and ipfail at ``impl``."""
    etc = node_dir / "etc" / "upper"
    init_script = etc / "init.d" / "heartbeat"
    chosen = spec(impl, pythonpath=NODE_SOURCE)
    if chosen.init_script is None:
        init_script.unlink(missing_ok=True)  # the lower /etc's script shows through
    else:
        _write(init_script, chosen.init_script, 0o755)
    tools = node_dir / "sbin" / "upper"
    for name, module in chosen.tools.items():
        _write(tools / name, f'#!/bin/sh\nexec {chosen.runner} -m {module} "$@"\n', 0o755)
    for stale in set(TOOL_NAMES) - set(chosen.tools):
        (tools / stale).unlink(missing_ok=True)
    link = node_dir / "lib64" / "upper" / "heartbeat" / "ipfail"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    os.symlink(chosen.ipfail, link)


def remove_node_dir(node_dir: Path) -> None:
    # Overlay work dirs contain a root-only "work" subdir; rmtree handles it as root.
    shutil.rmtree(node_dir, ignore_errors=True)
