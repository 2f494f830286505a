"""The lab's record of what it created, so `down` removes exactly that.

The file is rewritten before each thing is created, so a run killed half-way
still leaves a record naming everything that might exist.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.proc import ProcessId

STATE_DIR = Path(os.environ.get("HBLAB_STATE_DIR", "/var/lib/hblab"))
STATE_FILE = STATE_DIR / "state.json"


@dataclass
class NodeRecord:
    name: str
    netns: str
    node_dir: str
    impl: str | None = None
    unshare: ProcessId | None = None  # the `unshare` parent we spawned
    init: ProcessId | None = None  # PID 1 of the node's PID namespace
    power: str = "off"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "netns": self.netns,
            "node_dir": self.node_dir,
            "impl": self.impl,
            "unshare": self.unshare.to_json() if self.unshare else None,
            "init": self.init.to_json() if self.init else None,
            "power": self.power,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeRecord:
        rec = cls(data["name"], data["netns"], data["node_dir"], data.get("impl"))
        rec.unshare = ProcessId.from_json(data["unshare"]) if data.get("unshare") else None
        rec.init = ProcessId.from_json(data["init"]) if data.get("init") else None
        rec.power = data.get("power", "off")
        return rec


@dataclass
class LabState:
    backend: str
    profile: str
    overrides: dict[str, str] = field(default_factory=dict)
    config_dir: str | None = None
    namespaces: list[str] = field(default_factory=list)  # every netns we created
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    extra_pids: list[ProcessId] = field(default_factory=list)  # captures etc.
    source: dict[str, Any] = field(default_factory=dict)  # lab.source.SourceInfo the nodes run

    def save(self, path: Path = STATE_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "backend": self.backend,
            "profile": self.profile,
            "overrides": self.overrides,
            "config_dir": self.config_dir,
            "namespaces": self.namespaces,
            "nodes": {name: rec.to_json() for name, rec in self.nodes.items()},
            "extra_pids": [p.to_json() for p in self.extra_pids],
            "source": self.source,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path = STATE_FILE) -> LabState | None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        state = cls(data["backend"], data["profile"], data.get("overrides", {}))
        state.config_dir = data.get("config_dir")
        state.namespaces = list(data.get("namespaces", []))
        state.nodes = {n: NodeRecord.from_json(r) for n, r in data.get("nodes", {}).items()}
        state.extra_pids = [ProcessId.from_json(p) for p in data.get("extra_pids", [])]
        state.source = dict(data.get("source") or {})
        return state
