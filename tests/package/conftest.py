"""The package tests: hbnode as installed from its .deb, not as a checkout.

``make test-package`` (or ``pytest tests/package --lab``, as root with a Docker
engine): build the .deb twice (this version, and a newer one to upgrade to), build
the package-test images (lab.pkg_images), bring up the reference cluster on
containers whose nodes hold no checkout and no lab code, install the package into
them, and drive the cluster with the lab's faults and probes.

The lab runs under its own prefix (``<HBLAB_PREFIX>-pkg``) and state directory, so
it never meets a docker lab of the same user. Only one lab on the reference
subnets fits on one engine: while another is up, bringing this one up is retried
for a bounded time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.docker_backend import DockerLab
from lab.errors import LabError
from lab.impls import Impl
from lab.state import DOCKER_STATE_DIR
from lab.topofile import load_topology
from lab.topology import REFERENCE, REFERENCE_FILE

ROOT = Path(__file__).resolve().parents[2]
DEB_DIR = ROOT / "build" / "deb"
UPGRADE_SUFFIX = "+test1"
STATE_DIR = Path(os.environ.get("HBLAB_PKG_STATE_DIR", f"{DOCKER_STATE_DIR}-pkg"))
PREFIX = f"{REFERENCE.prefix}-pkg"
IPFAIL = "hacluster /usr/libexec/heartbeat/ipfail"
POOL_WAIT = 900.0  # how long to wait for another lab to free the reference subnets


@dataclass(frozen=True)
class Debs:
    current: Path  # this tree's version
    newer: Path  # the same tree as a newer version: the upgrade


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "package tests need root"
    for program in ("dpkg-buildpackage", "lintian", "apt-get"):
        if shutil.which(program) is None:
            return f"package tests need {program}"
    from lab import docker_engine

    if not docker_engine.reachable():
        return f"package tests need a Docker engine at {docker_engine.engine_url()}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing()
    nspawn = None if shutil.which("systemd-nspawn") else "test_systemd needs systemd-nspawn"
    for item in items:
        if "package" not in item.nodeid.split("/"):
            continue
        why = reason or (nspawn if "test_systemd" in item.nodeid else None)
        if why:
            # Locally a non-root run skips; CI fails on a skipped package test.
            item.add_marker(pytest.mark.skip(reason=f"{why} (scripts/install-deps.sh --package)"))


def _build(version: str | None) -> Path:
    argv = ["bash", str(ROOT / "scripts" / "build-deb.sh")]
    done = subprocess.run(
        [*argv, *(["--version", version] if version else [])],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    built = [line.split()[-1] for line in done.stdout.splitlines() if line.startswith("built ")]
    return ROOT / built[-1]


@pytest.fixture(scope="session")
def debs() -> Debs:
    """Both packages, built by `make deb`'s script (lintian errors fail it)."""
    current = _build(None)
    version = current.name.split("_")[1]
    return Debs(current, _build(f"{version}{UPGRADE_SUFFIX}"))


@pytest.fixture(scope="session")
def pkg_images() -> dict[str, str]:
    from lab import pkg_images

    return pkg_images.build()


def make_pkg_lab(images: dict[str, str]) -> DockerLab:
    topo = load_topology(REFERENCE_FILE, PREFIX, validate=False)
    return DockerLab(topo, STATE_DIR, images={"node": images["node"]})


@pytest.fixture(scope="module")
def pkg_lab(pkg_images: dict[str, str]) -> Iterator[DockerLab]:
    """The reference topology on package nodes, up (hbnode not installed yet)."""
    lab = make_pkg_lab(pkg_images)
    if lab.is_up:
        lab.down()  # a run that was killed: remove what it recorded
        lab = make_pkg_lab(pkg_images)
    impls = {h.name: Impl.HBNODE for h in lab.topo.cluster_nodes}
    # ipfail where Debian 12's heartbeat has it (the package links it to hbnode's), so
    # the same ha.cf serves after a roll-back; the metrics endpoint on every address.
    overrides = {"respawn": IPFAIL, "hbnode_metrics": "0.0.0.0:9694"}
    deadline = time.monotonic() + POOL_WAIT
    while True:
        try:
            lab.up(impls, "fast", overrides, None, start_daemons=False)
            break
        except LabError as exc:
            if "overlap" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(15)  # another lab holds the reference subnets: wait for it
            lab = make_pkg_lab(pkg_images)
    try:
        yield lab
    finally:
        lab.down()
        assert lab.leftovers() == []
