"""`hblab down --all`: remove every object a lab of this prefix could have made.

`hblab down` removes what the state file records. When that record is gone (a
deleted /var/lib/hblab, a crashed machine's leftovers, a lab made by an older
hblab), this sweep finds the objects by what only the lab gives them, as
Mininet's `mn -c` does, and never by a process name:

* network namespaces named ``<prefix>-<host>`` (the lab's naming rule);
* every process whose network namespace is one of those (node inits, daemons,
  captures), killed with SIGKILL and waited for;
* the node directories under the state directory;
* containers and networks that carry the lab's Docker label and the
  ``<prefix>-d-`` name, when an engine answers.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
from pathlib import Path

from lab import wiring
from lab.proc import PROC, ProcessId, wait_gone

KILL_WAIT = 5.0


def is_lab_namespace(prefix: str, name: str) -> bool:
    """``<prefix>-<host>``, a host name having no dash of its own: so the private Docker
    engines' ``hblab-d-engine`` and ``hblab-d2-engine`` are never the default lab's."""
    return re.fullmatch(rf"{re.escape(prefix)}-[a-z][a-z0-9]*", name) is not None


def lab_namespaces(prefix: str) -> list[str]:
    """The namespaces this prefix's labs name (:func:`is_lab_namespace`)."""
    return sorted(n for n in wiring.existing_namespaces() if is_lab_namespace(prefix, n))


def _netns_inode(name: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{name}").st_ino
    except OSError:
        return None


def processes_in(namespaces: list[str]) -> list[ProcessId]:
    """Every process whose network namespace is one of ``namespaces``."""
    wanted = {f"net:[{ino}]" for ino in map(_netns_inode, namespaces) if ino is not None}
    found: list[ProcessId] = []
    if not wanted:
        return found
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "ns" / "net") not in wanted:
                continue
        except OSError:
            continue
        pid = ProcessId.of(int(entry.name))
        if pid is not None:
            found.append(pid)
    return found


def sweep_netns(prefix: str, state_dir: Path) -> list[str]:
    removed: list[str] = []
    namespaces = lab_namespaces(prefix)
    pids = processes_in(namespaces)
    for pid in pids:
        pid.kill(signal.SIGKILL)
    wait_gone(pids, KILL_WAIT)
    if pids:
        removed.append(f"{len(pids)} processes")
    for name in reversed(namespaces):
        wiring.remove_namespace(name)
        removed.append(name)
    nodes = state_dir / "nodes"
    if nodes.is_dir():
        shutil.rmtree(nodes, ignore_errors=True)
        removed.append(str(nodes))
    (state_dir / "state.json").unlink(missing_ok=True)
    (state_dir / "lock").unlink(missing_ok=True)  # labcore.LOCK_FILE
    with contextlib.suppress(OSError):
        state_dir.rmdir()  # only if empty: never remove what we did not make
    return removed


def docker_objects(prefix: str, remove: bool = False) -> list[str]:
    """Containers and networks of this prefix's docker lab (by label and name), if an
    engine answers; ``remove`` removes them too."""
    from lab import docker_engine
    from lab.docker_images import LABEL

    if not docker_engine.reachable():
        return []
    import docker.errors

    found: list[str] = []
    api = docker_engine.client()
    name_prefix = f"{prefix}-d-"
    try:
        objects = [
            *api.containers.list(all=True, filters={"label": LABEL}),
            *api.networks.list(filters={"label": LABEL}),
        ]
        for obj in objects:  # containers first: a network in use cannot go
            if not obj.name.startswith(name_prefix):
                continue
            found.append(obj.name)
            if remove:
                with contextlib.suppress(docker.errors.NotFound):
                    obj.remove(**({"force": True} if hasattr(obj, "status") else {}))
    finally:
        api.close()
    return found


def sweep_docker(prefix: str, state_dir: Path) -> list[str]:
    """Remove this prefix's containers, networks and node directories."""
    removed = docker_objects(prefix, remove=True)
    nodes = state_dir / "nodes"
    if nodes.is_dir():
        shutil.rmtree(nodes, ignore_errors=True)
    (state_dir / "state.json").unlink(missing_ok=True)
    (state_dir / "lock").unlink(missing_ok=True)  # labcore.LOCK_FILE
    return removed
