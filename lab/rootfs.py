"""Per-node directories on the host that lab.nodeinit mounts over the node's view.

Nothing here touches the host's /etc: every node-specific file lands in the node's
overlay upper directory under the lab's state directory.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from lab import bootsvc, hafiles, implfiles, pkgfiles
from lab.centos import BlankNode
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
    blank: BlankNode | None = None,
) -> None:
    """Lay out a node's private files (see lab.nodeinit for the mount plan).

    ``blank``: a cluster node of ``hblab up --blank`` (lab.centos), with no ha.d files.
    """
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
    _write(node_dir / "www" / "index.html", f"<h1>{host.name}</h1>\n{host.name}\n")
    # CentOS-like nginx init script (fast stop): see lab/assets/nginx.init.
    _write(etc / "init.d" / "nginx", (ASSETS / "nginx.init").read_text(), 0o755)
    # CentOS's syslog rules (/var/log/messages) for the rsyslogd lab.nodeinit starts.
    _write(etc / "rsyslog.conf", (ASSETS / "rsyslog.conf").read_text())
    if host.role is Role.CLUSTER_NODE and impl is not None:
        # What the installed packages put in the node's own /run, /var/lib/heartbeat
        # and /var/log (nginx's log directory too); lab.nodeinit applies it at every
        # boot. A blank node has the packages installed as well (the tutorial's yum
        # finds them), so it gets the same.
        _write(host_path(node_dir, pkgfiles.CONF_PATH), pkgfiles.node_conf())
        _write(host_path(node_dir, bootsvc.SCRIPT_PATH), bootsvc.node_script(), 0o755)  # ha_logd
    if blank is not None and host.role is Role.CLUSTER_NODE and impl is not None:
        write_blank(node_dir, blank)
        install_impl(node_dir, impl)
        return
    _write(etc / "hostname", f"{host.name}\n")
    _write(etc / "hosts", _hosts_file(topo))
    # The CentOS tutorial sets the node name here; heartbeat itself uses uname -n.
    _write(etc / "sysconfig" / "network", f"NETWORKING=yes\nHOSTNAME={host.name}\n")
    if host.role is not Role.CLUSTER_NODE or impl is None:
        return
    hafiles.write_ha_d(
        etc / "ha.d", topo, host, profile, hafiles.overrides_for(impl.value, overrides), config_dir
    )
    install_impl(node_dir, impl)


# The node's overlays: a path under one of these lands in that overlay's upper dir.
OVERLAY_DIRS = {
    "/etc/": "etc/upper",
    "/usr/lib64/": "lib64/upper",
    "/usr/local/sbin/": "sbin/upper",
    "/usr/share/doc/": "doc/upper",  # blank nodes only: Heartbeat's sample files
    "/root/": "root/upper",  # blank nodes only: root's ~/.ssh
}
# What a blank node must not see of this machine's /etc through its overlay.
HIDDEN_ON_BLANK = (
    "/etc/hostname",
    "/etc/ha.d/ha.cf",
    "/etc/ha.d/authkeys",
    "/etc/ha.d/haresources",
)


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


def write_blank(node_dir: Path, blank: BlankNode) -> None:
    """A blank node's files in its overlays, and whiteouts that hide this machine's own
    ha.d files and hostname (lab.nodeinit mounts the overlays)."""
    for sub in ("doc/upper", "doc/work", "root/upper", "root/work"):
        (node_dir / sub).mkdir(parents=True, exist_ok=True)
    # The overlay's root takes the upper dir's mode: /root stays private.
    (node_dir / "root" / "upper").chmod(0o700)
    for node_file in blank.files:
        _write(host_path(node_dir, node_file.path), node_file.text, node_file.mode)
    for link in blank.links:
        path = host_path(node_dir, link.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.symlink_to(link.target)
    for private in blank.private_dirs:
        path = host_path(node_dir, private + "/")
        path.chmod(0o700)
        # Opaque: the node's ~/.ssh holds its own keys only, none of this machine's.
        os.setxattr(path, "trusted.overlay.opaque", b"y")
    for hidden in HIDDEN_ON_BLANK:
        _whiteout(host_path(node_dir, hidden))


def _whiteout(path: Path) -> None:
    """overlayfs's whiteout (a 0/0 character device in the upper dir): the lower file
    is gone for the node, and this machine's file is untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))
