"""Blank nodes (``hblab up --blank``): the tutorial's two CentOS 6 machines before step 1.

A blank cluster node is networked as the reference topology and holds both
implementations, but nothing of the cluster: no ``/etc/ha.d`` files, no daemon
running, the name CentOS 6 installs with. What each step of the tutorial touches
is there and works with the real tools:

* ``hostname`` and ``/etc/sysconfig/network`` (HOSTNAME= is the name at every boot);
* the firewall CentOS 6 installs with, in ``/etc/sysconfig/iptables``, applied at
  boot by ``/etc/init.d/iptables`` (``service iptables save|stop|start|status``);
* ``/etc/selinux/config`` (the kernel has no SELinux: ``setenforce`` says so);
* CentOS's ``/etc/hosts``, without the other nodes' names;
* ``yum``, which says what is installed and downloads nothing;
* Heartbeat's sample files under ``/usr/share/doc/heartbeat-3.0.4/`` (and Debian's
  ``/usr/share/doc/heartbeat/``): the real files of Debian's package;
* a real sshd (``/etc/init.d/sshd``) and root keys exchanged between the nodes.

The node's rc runs the start links of ``/etc/rc.d/rc3.d`` at every boot, as
CentOS's does (lab.nodeinit on the netns backend, hblab-boot in the node image).
Both backends write the same files: :func:`blank_node`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from lab import sshkeys
from lab.implfiles import NodeFile
from lab.topology import Host, Topology

ASSETS = Path(__file__).parent / "assets"
BLANK_HOSTNAME = "localhost.localdomain"  # what a CentOS 6 install leaves without a name
RC_DIR = "/etc/rc.d/rc3.d"  # also named in lab.nodeinit and images/node/hblab-boot
SAMPLE_DIRS = ("/usr/share/doc/heartbeat-3.0.4", "/usr/share/doc/heartbeat")
SAMPLES = ("ha.cf", "haresources", "authkeys")
# Files the docker engine manages in a container (bind mounts): never put there.
DOCKER_MANAGED = frozenset({"/etc/hosts", "/etc/hostname"})


@dataclass(frozen=True, slots=True)
class NodeLink:
    path: str  # absolute, as the node sees it
    target: str


@dataclass(frozen=True, slots=True)
class BlankNode:
    """Everything a blank node holds beyond the implementations (lab.implfiles)."""

    files: list[NodeFile]
    links: list[NodeLink]
    private_dirs: list[str]  # mode 700 (root's ~/.ssh)


def _asset(name: str) -> str:
    return (ASSETS / name).read_text()


def network_file(hostname: str) -> str:
    """/etc/sysconfig/network as CentOS 6 writes it."""
    return f"NETWORKING=yes\nHOSTNAME={hostname}\n"


def sample_files() -> list[NodeFile]:
    """Heartbeat's samples, in the tutorial's directory and in Debian's."""
    return [
        NodeFile(f"{directory}/{name}", _asset(f"heartbeat-doc/{name}"))
        for directory in SAMPLE_DIRS
        for name in SAMPLES
    ]


def system_files() -> list[NodeFile]:
    """What a fresh CentOS 6 box has where the tutorial looks (the same on every node)."""
    return [
        NodeFile("/etc/sysconfig/network", network_file(BLANK_HOSTNAME)),
        NodeFile("/etc/hosts", _asset("centos/hosts")),
        NodeFile("/etc/selinux/config", _asset("centos/selinux-config")),
        NodeFile("/etc/sysconfig/iptables", _asset("centos/sysconfig-iptables"), 0o600),
        NodeFile("/etc/init.d/iptables", _asset("centos/iptables.init"), 0o755),
        NodeFile("/etc/init.d/sshd", _asset("centos/sshd.init"), 0o755),
        NodeFile("/etc/ssh/sshd_config", _asset("centos/sshd_config"), 0o600),
        NodeFile("/usr/local/sbin/yum", _asset("centos/yum"), 0o755),
    ]


def start_links() -> list[NodeLink]:
    """Runlevel 3's start links, in CentOS 6's order (iptables before the network
    services, sshd at 55)."""
    return [
        NodeLink(f"{RC_DIR}/S08iptables", "/etc/init.d/iptables"),
        NodeLink(f"{RC_DIR}/S55sshd", "/etc/init.d/sshd"),
    ]


def blank_node(host: Host, topo: Topology, keys: dict[str, sshkeys.NodeKeys]) -> BlankNode:
    """The files of cluster node ``host`` in a blank lab whose nodes have ``keys``."""
    files = [*system_files(), *sample_files()]
    files += sshkeys.node_files(host, keys, list(topo.cluster_nodes))
    return BlankNode(files, start_links(), [sshkeys.ROOT_SSH])


# What blank netns nodes run from this machine, and the Debian package of each.
PROGRAMS = {
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "scp": "openssh-client",
    "iptables": "iptables",
    "iptables-save": "iptables",
    "iptables-restore": "iptables",
    "vim": "vim",
    "setenforce": "selinux-utils",
}


def missing_packages() -> list[str]:
    """The Debian packages a blank netns lab needs that this machine lacks."""
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return sorted({pkg for prog, pkg in PROGRAMS.items() if shutil.which(prog, path=path) is None})
