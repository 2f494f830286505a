"""Which lab backend a command drives: ``netns`` (namespaces) or ``docker`` (containers).

Both are lab.labcore.LabBase (`Lab` here): the CLI, the bench, the soak, the fuzzer
and the tests use only that interface. ``--backend`` or ``LAB=netns|docker``
choose; without either, a docker lab that is up is driven, else the netns lab.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lab.errors import LabError
from lab.labcore import LabBase
from lab.state import state_dirs
from lab.topology import REFERENCE, load

BACKENDS = ("netns", "docker")
# Short enough that <prefix>-<host> fits an interface name's 15 bytes where it must.
_PREFIX = re.compile(r"[a-z][a-z0-9]{1,7}")
Lab = LabBase


def default_backend(prefix: str | None = None) -> str:
    chosen = os.environ.get("LAB", "")
    if chosen:
        return chosen
    docker_dir = state_dirs(prefix)[1]
    return "docker" if (docker_dir / "state.json").exists() else "netns"


def check_prefix(prefix: str) -> None:
    """A prefix names the lab's namespaces, bridges and interfaces: short and plain."""
    if not _PREFIX.fullmatch(prefix):
        raise LabError(f"bad prefix {prefix!r}: 2 to 8 lowercase letters and digits")


def make_lab(
    backend: str | None = None,
    topology: Path | None = None,
    prefix: str | None = None,
    state_dir: Path | None = None,
) -> Lab:
    """The lab of ``backend``; ``topology``: a topology file for a lab about to come up
    (a lab that is up is driven by the file it was built from); ``prefix``: a lab
    beside the default one (its names and state directories); ``state_dir``: where its
    record is, when not the prefix's default (the lab's watchdog is told)."""
    if prefix is not None:
        check_prefix(prefix)
    name = backend or default_backend(prefix)
    topo = load(topology, prefix) if topology is not None or prefix else REFERENCE
    netns_dir, docker_dir = state_dirs(prefix)
    if name == "docker":
        from lab.docker_backend import DockerLab

        return DockerLab(topo, state_dir or docker_dir)
    if name == "netns":
        from lab.netns_backend import NetnsLab

        return NetnsLab(topo, state_dir or netns_dir)
    raise LabError(f"unknown lab backend {name!r} (LAB= or --backend: {', '.join(BACKENDS)})")
