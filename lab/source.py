"""Which hbnode a lab node runs: the source tree this hblab was started from.

A node has a private /tmp and /run and may not see the host path of the clone
(a clone in /tmp is hidden by the node's own /tmp). Nor may it trust whatever
``pip install -e`` last pointed at: a second clone on the same machine would run
the first clone's code. So each node bind-mounts the tree that holds this
``lab`` package (read-only) at :data:`NODE_SOURCE`, and every way in to hbnode
inside a node (the init script, the tools, the respawned ipfail client) puts that
path first on ``PYTHONPATH``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import hbnode
from lab.nodeinit import NODE_SOURCE  # under the node's private /run: nothing on the host

__all__ = ["NODE_SOURCE", "SourceInfo", "source_info", "source_root"]


def source_root() -> Path:
    """The directory that holds this ``lab`` package and its ``hbnode`` beside it."""
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class SourceInfo:
    path: str  # the tree on the host
    version: str  # hbnode's own version
    commit: str | None  # `git describe --always --dirty` of a checkout, else None

    def to_json(self) -> dict[str, str | None]:
        return {"path": self.path, "version": self.version, "commit": self.commit}

    def describe(self) -> str:
        commit = f" ({self.commit})" if self.commit else ""
        return f"hbnode {self.version}{commit} from {self.path}"


@cache
def source_info() -> SourceInfo:
    root = source_root()
    commit = None
    if (root / ".git").exists():
        try:
            done = subprocess.run(
                ["git", "-C", str(root), "describe", "--always", "--dirty"],
                capture_output=True,
                text=True,
                timeout=5,
            )
            commit = done.stdout.strip() or None if done.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            commit = None
    return SourceInfo(str(root), hbnode.__version__, commit)
