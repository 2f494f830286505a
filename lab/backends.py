"""Which lab backend a command drives: ``netns`` (namespaces) or ``docker`` (containers).

Both classes have the same interface (`Lab` below); the CLI and the integration
tests only use that. ``--backend`` or ``LAB=netns|docker`` choose; without either,
a docker lab that is up is driven, else the netns lab.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Protocol

from lab.errors import LabError
from lab.impls import Impl
from lab.topology import Topology

BACKENDS = ("netns", "docker")


class Lab(Protocol):
    backend: str
    topo: Topology

    def up(
        self,
        impls: dict[str, Impl],
        profile: str = ...,
        overrides: dict[str, str] | None = ...,
        config_dir: Path | None = ...,
        start_daemons: bool = ...,
    ) -> None: ...
    def down(self) -> list[str]: ...
    def require_up(self) -> Any: ...
    def status(self) -> dict[str, Any]: ...
    def vip_holders(self) -> list[str]: ...
    def run(
        self, name: str, argv: list[str], timeout: float = ..., check: bool = ...
    ) -> subprocess.CompletedProcess[str]: ...
    def exec_interactive(self, name: str, argv: list[str]) -> int: ...
    def service(self, name: str, service: str, verb: str) -> subprocess.CompletedProcess[str]: ...
    def node_file(self, name: str, path: str) -> Path: ...
    def log_dir(self, name: str) -> Path: ...
    def poweroff(self, name: str) -> None: ...
    def poweron(self, name: str, start_daemon: bool = ...) -> None: ...
    def crash(self, name: str) -> list[int]: ...
    def link(self, name: str, iface: str, up: bool) -> None: ...
    def netem(self, name: str, iface: str, params: dict[str, str] | None) -> None: ...
    def capture(
        self, name: str, iface: str, out: Path, seconds: float | None, bpf: str = ...
    ) -> int: ...
    def interface(self, name: str, iface: str) -> None: ...


def default_backend() -> str:
    chosen = os.environ.get("LAB", "")
    if chosen:
        return chosen
    from lab.docker_state import DOCKER_STATE_DIR

    return "docker" if (DOCKER_STATE_DIR / "state.json").exists() else "netns"


def make_lab(backend: str | None = None) -> Lab:
    name = backend or default_backend()
    if name == "docker":
        from lab.docker_backend import DockerLab

        return DockerLab()
    if name == "netns":
        from lab.netns_backend import NetnsLab

        return NetnsLab()
    raise LabError(f"unknown lab backend {name!r} (LAB= or --backend: {', '.join(BACKENDS)})")
