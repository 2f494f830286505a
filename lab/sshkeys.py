"""SSH keys of blank lab nodes: each its own host key, root keys exchanged between them.

The tutorial copies the configured files with ``scp authkeys ha.cf haresources
slave:/etc/ha.d``. The lab has no passwords to type, so when a blank lab comes up
every cluster node gets a root key pair, every node's ``authorized_keys`` holds
all of them, and every ``known_hosts`` knows every node's host key under its name
and its addresses: scp asks nothing once ``/etc/hosts`` resolves the name. The
keys are made fresh by ``ssh-keygen`` for each lab and live only in the nodes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError
from lab.implfiles import NodeFile
from lab.topology import Host

HOST_KEY = "/etc/ssh/ssh_host_ed25519_key"  # the one HostKey of lab/assets/centos/sshd_config
ROOT_SSH = "/root/.ssh"


@dataclass(frozen=True, slots=True)
class KeyPair:
    private: str
    public: str  # one line: "ssh-ed25519 AAAA… comment"


@dataclass(frozen=True, slots=True)
class NodeKeys:
    host: KeyPair  # sshd's host key
    root: KeyPair  # root's ~/.ssh/id_ed25519


def _keygen(directory: Path, name: str, comment: str) -> KeyPair:
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return KeyPair(path.read_text(), Path(f"{path}.pub").read_text().strip())


def generate(nodes: list[str]) -> dict[str, NodeKeys]:
    """Fresh host and root keys for each named node."""
    if shutil.which("ssh-keygen") is None:
        raise LabError("ssh-keygen is missing on this machine (apt-get install openssh-client)")
    with tempfile.TemporaryDirectory(prefix="hblab-keys-") as tmp:
        directory = Path(tmp)
        return {
            name: NodeKeys(
                host=_keygen(directory, f"{name}-host", f"root@{name}"),
                root=_keygen(directory, f"{name}-root", f"root@{name}"),
            )
            for name in nodes
        }


def known_hosts_line(host: Host, key: KeyPair) -> str:
    """The node's host key under its name and every address it has (scp by either)."""
    names = [host.name, *(str(i.address.ip) for i in host.interfaces)]
    algorithm, blob = key.public.split()[:2]
    return f"{','.join(names)} {algorithm} {blob}"


def node_files(host: Host, keys: dict[str, NodeKeys], nodes: list[Host]) -> list[NodeFile]:
    """What ``host`` holds: its host key, root's key pair, and the exchanged public keys."""
    own = keys[host.name]
    authorized = "".join(f"{keys[n.name].root.public}\n" for n in nodes)
    known = "".join(f"{known_hosts_line(n, keys[n.name].host)}\n" for n in nodes)
    return [
        NodeFile(HOST_KEY, own.host.private, 0o600),
        NodeFile(f"{HOST_KEY}.pub", own.host.public + "\n", 0o644),
        NodeFile(f"{ROOT_SSH}/id_ed25519", own.root.private, 0o600),
        NodeFile(f"{ROOT_SSH}/id_ed25519.pub", own.root.public + "\n", 0o644),
        NodeFile(f"{ROOT_SSH}/authorized_keys", authorized, 0o600),
        NodeFile(f"{ROOT_SSH}/known_hosts", known, 0o644),
    ]
