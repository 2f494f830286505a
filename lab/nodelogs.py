"""Keeping the nodes' Heartbeat logs past the lab's end.

A node's /var/log lives in its rootfs, which goes when the lab goes down, so a
failed CTS or nemesis run can only be read afterwards from a copy taken first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.backends import Lab

LOG_NAMES = ("ha-log", "ha-debug")


def keep_logs(lab: Lab, into: Path) -> list[Path]:
    """Copy each cluster node's ha-log and ha-debug to ``into/<node>.<name>``."""
    into.mkdir(parents=True, exist_ok=True)
    kept: list[Path] = []
    for host in lab.topo.cluster_nodes:
        for name in LOG_NAMES:
            source = lab.log_dir(host.name) / name
            if source.is_file():
                target = into / f"{host.name}.{name}"
                target.write_bytes(source.read_bytes())
                kept.append(target)
    return kept
