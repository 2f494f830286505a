"""Runs last (file order): after the suite, nothing of the lab is left behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lab.netns_backend import NetnsLab
from lab.state import STATE_DIR, STATE_FILE
from lab.topology import REFERENCE
from lab.wiring import existing_namespaces

NODES_DIR = f"{STATE_DIR}/nodes/"


@pytest.mark.failover  # also after `make test-failover`: the suite must leave nothing
def test_no_lab_leftovers() -> None:
    if os.environ.get("LAB") == "docker":
        _no_docker_leftovers()
        return
    assert NetnsLab().state is None, f"{STATE_FILE} still records a lab"
    # Exactly this lab's names: other labs (e.g. the docker engine's own namespace)
    # may share the prefix.
    lab_ns = {REFERENCE.switch_netns, *(REFERENCE.netns_of(h.name) for h in REFERENCE.hosts)}
    assert not [n for n in existing_namespaces() if n in lab_ns]
    mounts = Path("/proc/mounts").read_text()
    assert not [n for n in lab_ns if f"/run/netns/{n} " in mounts] and NODES_DIR not in mounts
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert not any(name in links for name in ("master-eth", "slave-eth", "br-eth"))
    ours = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            # Only this lab's nodes: a second lab (another prefix) may be running.
            if NODES_DIR.encode() in cmd:
                ours.append(cmd.replace(b"\0", b" ").decode(errors="replace"))
    assert not ours, f"lab processes left: {ours}"


def _no_docker_leftovers() -> None:
    from lab import docker_engine
    from lab.docker_backend import DockerLab
    from lab.docker_images import LABEL

    lab = DockerLab()
    assert lab.state is None, f"{lab.state_file} still records a docker lab"
    assert not (lab.state_dir / "nodes").exists()
    api = docker_engine.client()
    try:
        containers = api.containers.list(all=True, filters={"label": LABEL})
        networks = api.networks.list(filters={"label": LABEL})
    finally:
        api.close()
    assert not [c.name for c in containers], "lab containers left"
    assert not [n.name for n in networks], "lab networks left"
