"""The docker backend's record of what it created, so `down` removes exactly that.

Like lab.state for the netns lab, it is rewritten before each thing is created: a
run killed half-way still names every network and container that might exist.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.proc import ProcessId

DOCKER_STATE_DIR = Path(os.environ.get("HBLAB_D_STATE_DIR", "/var/lib/hblab-d/lab"))


@dataclass
class ContainerRecord:
    name: str  # the lab host: master, slave, gw, client
    container: str  # the Docker container's name (hblab-d-master, …)
    log_dir: str  # bound on the node's /var/log: readable when the node is off
    impl: str | None = None
    init: ProcessId | None = None  # the container's PID 1 (tini) while it runs

    @property
    def netns(self) -> str:
        """The node's network namespace as a path (lab.netsock and pyroute2 take it)."""
        return f"/proc/{self.init.pid}/ns/net" if self.init and self.init.alive() else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "container": self.container,
            "log_dir": self.log_dir,
            "impl": self.impl,
            "init": self.init.to_json() if self.init else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContainerRecord:
        rec = cls(data["name"], data["container"], data["log_dir"], data.get("impl"))
        rec.init = ProcessId.from_json(data["init"]) if data.get("init") else None
        return rec


@dataclass
class DockerState:
    backend: str
    profile: str
    engine: str  # the engine's URL when the lab came up
    overrides: dict[str, str] = field(default_factory=dict)
    config_dir: str | None = None
    networks: list[str] = field(default_factory=list)
    nodes: dict[str, ContainerRecord] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)  # the node image's hbnode (its label)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "backend": self.backend,
            "profile": self.profile,
            "engine": self.engine,
            "overrides": self.overrides,
            "config_dir": self.config_dir,
            "networks": self.networks,
            "nodes": {name: rec.to_json() for name, rec in self.nodes.items()},
            "source": self.source,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> DockerState | None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        state = cls(data["backend"], data["profile"], data["engine"], data.get("overrides", {}))
        state.config_dir = data.get("config_dir")
        state.networks = list(data.get("networks", []))
        state.nodes = {n: ContainerRecord.from_json(r) for n, r in data.get("nodes", {}).items()}
        state.source = dict(data.get("source") or {})
        return state
