"""The lab's record of what it created, so `down` removes exactly that.

One record type for both backends. The file is rewritten before each thing is
created, so a run killed half-way still leaves a record naming everything that
might exist: namespaces (netns backend), networks and containers (docker), the
processes the lab started, and each node's directory on this machine.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.proc import ProcessId

DEFAULT_PREFIX = "hblab"
# Every prefix's docker state lives under this one parent; a lab's state file makes it
# (mkdir -p), so the last lab to go removes it too, once it is empty.
DOCKER_PARENT = Path("/var/lib/hblab-d")


def lab_prefix() -> str:
    """The prefix of this process's lab: every name the lab creates starts with it."""
    return os.environ.get("HBLAB_PREFIX") or DEFAULT_PREFIX


def state_dirs(prefix: str | None = None) -> tuple[Path, Path]:
    """(netns, docker) state directories of a lab prefix.

    HBLAB_STATE_DIR / HBLAB_D_STATE_DIR name them for the environment's own prefix;
    any other prefix (``hblab --prefix NAME``: a classroom of labs side by side)
    gets directories of its own name.
    """
    prefix = prefix or lab_prefix()
    if prefix == DEFAULT_PREFIX:
        own = Path("/var/lib/hblab"), DOCKER_PARENT / "lab"
    else:
        own = Path(f"/var/lib/hblab-{prefix}"), DOCKER_PARENT / prefix
    if prefix != lab_prefix():
        return own
    # One of the two set alone leaves the other to the prefix, never to the default
    # lab's: a prefix whose docker state fell back there would see, and take down,
    # the default lab's containers (`hblab down` picks the backend by that state).
    netns = os.environ.get("HBLAB_STATE_DIR")
    docker = os.environ.get("HBLAB_D_STATE_DIR")
    return Path(netns) if netns else own[0], Path(docker) if docker else own[1]


STATE_DIR, DOCKER_STATE_DIR = state_dirs()


def prefix_env(prefix: str) -> dict[str, str]:
    """This process's environment for a child whose own lab is ``prefix``'s: its
    names, and the state directories `hblab --prefix` gives that prefix."""
    netns_dir, docker_dir = state_dirs(prefix)
    return os.environ | {
        "HBLAB_PREFIX": prefix,
        "HBLAB_STATE_DIR": str(netns_dir),
        "HBLAB_D_STATE_DIR": str(docker_dir),
    }


@dataclass
class NodeRecord:
    """One lab host as created: its implementation, its init, where its files are."""

    name: str
    node_dir: str  # on this machine: the node's files (overlays, or its bound /var/log)
    impl: str | None = None  # cluster nodes only: lab.impls.Impl's value
    netns: str = ""  # netns backend: the named namespace (`ip netns`)
    container: str = ""  # docker backend: the container's name
    unshare: ProcessId | None = None  # netns backend: the `unshare` parent we spawned
    init: ProcessId | None = None  # PID 1 of the node's PID namespace while it runs
    watchdog: ProcessId | None = None  # this boot's lab.watchdog_server, if ha.cf has one

    @property
    def on(self) -> bool:
        return self.init is not None and self.init.alive()

    @property
    def log_dir(self) -> Path:
        return Path(self.node_dir) / "log"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "node_dir": self.node_dir,
            "impl": self.impl,
            "netns": self.netns,
            "container": self.container,
            "unshare": self.unshare.to_json() if self.unshare else None,
            "init": self.init.to_json() if self.init else None,
            "watchdog": self.watchdog.to_json() if self.watchdog else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeRecord:
        rec = cls(
            data["name"],
            data["node_dir"],
            data.get("impl"),
            data.get("netns", ""),
            data.get("container", ""),
        )
        rec.unshare = ProcessId.from_json(data["unshare"]) if data.get("unshare") else None
        rec.init = ProcessId.from_json(data["init"]) if data.get("init") else None
        rec.watchdog = ProcessId.from_json(data["watchdog"]) if data.get("watchdog") else None
        return rec


@dataclass
class LabState:
    backend: str
    profile: str
    overrides: dict[str, str] = field(default_factory=dict)
    config_dir: str | None = None
    source: dict[str, Any] = field(default_factory=dict)  # lab.source.SourceInfo the nodes run
    topology: str | None = None  # the topology file it was built from; None: the reference
    engine: str = ""  # docker: the engine's URL when the lab came up
    blank: bool = False  # `up --blank`: the tutorial's machines before step 1 (lab.centos)
    namespaces: list[str] = field(default_factory=list)  # netns: every namespace we created
    networks: list[str] = field(default_factory=list)  # docker: every network we created
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    extra_pids: list[ProcessId] = field(default_factory=list)  # captures etc.
    fencing: bool = False  # hblab up --fencing: a BMC per node (lab.bmc)
    # Who brought it up (lab.state.who_brings_it_up): a lab found up later says whose it is.
    brought_up_by: str = ""

    @property
    def owner(self) -> str:
        """Whose lab this is, for a message about a lab found up (records before the
        field was added say nothing)."""
        return self.brought_up_by or "an unknown process"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "backend": self.backend,
            "profile": self.profile,
            "overrides": self.overrides,
            "config_dir": self.config_dir,
            "source": self.source,
            "topology": self.topology,
            "engine": self.engine,
            "blank": self.blank,
            "namespaces": self.namespaces,
            "networks": self.networks,
            "nodes": {name: rec.to_json() for name, rec in self.nodes.items()},
            "extra_pids": [p.to_json() for p in self.extra_pids],
            "fencing": self.fencing,
            "brought_up_by": self.brought_up_by,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> LabState | None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        return cls(
            backend=data["backend"],
            profile=data["profile"],
            overrides=dict(data.get("overrides", {})),
            config_dir=data.get("config_dir"),
            source=dict(data.get("source") or {}),
            topology=data.get("topology"),
            engine=data.get("engine", ""),
            blank=bool(data.get("blank", False)),
            namespaces=list(data.get("namespaces", [])),
            networks=list(data.get("networks", [])),
            nodes={n: NodeRecord.from_json(r) for n, r in data.get("nodes", {}).items()},
            extra_pids=[ProcessId.from_json(p) for p in data.get("extra_pids", [])],
            fencing=bool(data.get("fencing", False)),
            brought_up_by=str(data.get("brought_up_by", "")),
        )


def who_brings_it_up() -> str:
    """This process, as a lab found up later should name it: its PID and command, and
    the test that runs it (pytest sets PYTEST_CURRENT_TEST, inherited by `hblab`
    commands a test starts)."""
    program = Path(sys.argv[0])
    # `python -m lab` runs lab/__main__.py: that is the hblab command.
    name = "hblab" if program.name == "__main__.py" else program.name
    command = " ".join([name, *sys.argv[1:]])[:160]
    who = f"pid {os.getpid()} ({command})"
    test = os.environ.get("PYTEST_CURRENT_TEST")
    return f"{who}, test {test}" if test else who
