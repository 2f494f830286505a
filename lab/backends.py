"""Which lab backend a command drives: ``netns`` (namespaces) or ``docker`` (containers).

Both are lab.labcore.LabBase (`Lab` here): the CLI, the bench, the soak, the fuzzer
and the tests use only that interface. ``--backend`` or ``LAB=netns|docker``
choose; without either, a docker lab that is up is driven, else the netns lab.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import LabError
from lab.labcore import LabBase
from lab.state import DOCKER_STATE_DIR, STATE_DIR
from lab.topology import REFERENCE, load

BACKENDS = ("netns", "docker")
Lab = LabBase


def default_backend() -> str:
    chosen = os.environ.get("LAB", "")
    if chosen:
        return chosen
    return "docker" if (DOCKER_STATE_DIR / "state.json").exists() else "netns"


def make_lab(
    backend: str | None = None, topology: Path | None = None, state_dir: Path | None = None
) -> Lab:
    """The lab of ``backend``; ``topology``: a topology file for a lab about to come up
    (a lab that is up is driven by the file it was built from); ``state_dir``: where
    its record is, when not the backend's default (the lab's watchdog is told)."""
    name = backend or default_backend()
    topo = load(topology) if topology is not None else REFERENCE
    if name == "docker":
        from lab.docker_backend import DockerLab

        return DockerLab(topo, state_dir or DOCKER_STATE_DIR)
    if name == "netns":
        from lab.netns_backend import NetnsLab

        return NetnsLab(topo, state_dir or STATE_DIR)
    raise LabError(f"unknown lab backend {name!r} (LAB= or --backend: {', '.join(BACKENDS)})")
