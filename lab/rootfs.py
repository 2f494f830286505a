"""Per-node directories on the host that lab.nodeinit mounts over the node's view.

Nothing here touches the host's /etc: every node-specific file lands in the node's
overlay upper directory under the lab's state directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lab import bootsvc, hafiles, implfiles, pkgfiles
from lab.impls import Impl
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
    (node_dir / "log").mkdir(parents=True, exist_ok=True)  # /var/log/nginx: lab.pkgfiles
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
    # What the installed packages put in the node's own /run, /var/lib/heartbeat
    # and /var/log; lab.nodeinit applies it at every boot.
    _write(host_path(node_dir, pkgfiles.CONF_PATH), pkgfiles.node_conf())
    _write(host_path(node_dir, bootsvc.SCRIPT_PATH), bootsvc.node_script(), 0o755)  # ha_logd
    hafiles.write_ha_d(
        etc / "ha.d", topo, host, profile, hafiles.overrides_for(impl.value, overrides), config_dir
    )
    install_impl(node_dir, impl)


# The node's overlays: a path under one of these lands in that overlay's upper dir.
OVERLAY_DIRS = {
    "/etc/": "etc/upper",
    "/usr/lib64/": "lib64/upper",
    "/usr/local/sbin/": "sbin/upper",
}


def host_path(node_dir: Path, node_path: str) -> Path:
    """Where a file the node sees at ``node_path`` is written on this machine."""
    for prefix, upper in OVERLAY_DIRS.items():
        if node_path.startswith(prefix):
            return node_dir / upper / node_path.removeprefix(prefix)
    raise ValueError(f"{node_path} is in none of the node's overlays")


def install_impl(node_dir: Path, impl: Impl) -> None:
    """Both implementations, the choice of ``impl``, and the switch (lab.implfiles)."""
    files = implfiles.install_files(sys.executable, sys.prefix, pythonpath=NODE_SOURCE)
    debian = Path(implfiles.DEBIAN_INIT)
    if debian.is_file():  # the real Heartbeat's own script, moved aside as in the image
        init = f"{implfiles.HBLAB_ETC}/init.d/{Impl.HEARTBEAT.value}"
        files.append(implfiles.NodeFile(init, debian.read_text(), 0o755))
    for node_file in [*files, implfiles.choice_file(impl)]:
        _write(host_path(node_dir, node_file.path), node_file.text, node_file.mode)
