"""Images for the package tests: nodes that get hbnode from its .deb, not from a checkout.

``python -m lab.pkg_images`` builds, offline once the packages are fetched:

1. the lab's Debian rootfs (lab.docker_images: content-hashed, shared);
2. ``<prefix>-pkg-base``: images/base on that rootfs, under our own name, so that
   another lab's rebuild of ``hblab-d-base`` can never change it under us;
3. ``<prefix>-pkg-node``: images/pkgnode, with what the hbnode package depends on
   (and systemd, for ``systemd-analyze verify``) installed from .debs that apt
   fetched on this machine, and Heartbeat's own .deb for the roll-back test.

The .debs are what ``apt-get install --download-only`` picks against the rootfs's
own dpkg status: exactly the packages the rootfs lacks, from the machine's apt
sources (the ordinary client, no list of names of our own). Nothing of hbnode or
of the lab goes into the image; the tests install the package in each container.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from lab import docker_engine
from lab.docker_images import (
    IMAGES_DIR,
    LABEL,
    RSYSLOG_CONF,
    BuildReport,
    ensure_rootfs,
    image_context,
    scratch_dir,
)
from lab.errors import LabError
from lab.topology import REFERENCE

# Depends and Suggests of the package, logrotate with the cron it needs, systemd and
# man-db (systemd-analyze verify runs man for the unit's Documentation= pages).
DEPENDENCIES = (
    "python3-prometheus-client",
    "logrotate",
    "cron",
    "systemd",
    "man-db",
)
ROLLBACK = ("heartbeat",)  # the package hbnode replaces, to go back to
HASH_LABEL = "org.hblab.pkg-inputs"


def image_names(prefix: str | None = None) -> dict[str, str]:
    chosen = prefix or REFERENCE.prefix  # HBLAB_PREFIX
    return {"base": f"{chosen}-pkg-base:latest", "node": f"{chosen}-pkg-node:latest"}


def _rootfs_status(api: Any, rootfs: str) -> bytes:
    """/var/lib/dpkg/status of the rootfs image: what apt must not fetch again."""
    container = api.containers.create(rootfs, command=["true"], network_mode="none")
    try:
        stream, _ = container.get_archive("/var/lib/dpkg/status")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile("status")
            assert member is not None
            return member.read()
    finally:
        container.remove(force=True)


def fetch_debs(status: bytes, work: Path) -> tuple[list[Path], list[Path]]:
    """(dependencies, roll-back packages) as .deb files under ``work``."""
    (work / "debs" / "partial").mkdir(parents=True, exist_ok=True)
    (work / "rollback").mkdir(parents=True, exist_ok=True)
    (work / "status").write_bytes(status)
    apt = [
        "apt-get",
        "-q",
        "-y",
        "-o",
        f"Dir::State::status={work / 'status'}",
        "-o",
        "Debug::NoLocking=1",  # our own archive directory; never the machine's dpkg lock
    ]
    archives = f"Dir::Cache::archives={work / 'debs'}"
    subprocess.run(
        [
            *apt,
            "-o",
            archives,
            "--no-install-recommends",
            "--download-only",
            "install",
            *DEPENDENCIES,
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["apt-get", "-q", "download", *ROLLBACK],
        check=True,
        cwd=work / "rollback",
        capture_output=True,
    )
    return sorted((work / "debs").glob("*.deb")), sorted((work / "rollback").glob("*.deb"))


def _inputs_hash(rootfs: str) -> str:
    digest = hashlib.sha256(rootfs.encode())
    for path in [*_image_files("pkgnode"), *_image_files("base"), RSYSLOG_CONF]:
        digest.update(path.read_bytes())
    digest.update(",".join(DEPENDENCIES + ROLLBACK).encode())
    return digest.hexdigest()[:16]


def _image_files(kind: str) -> list[Path]:
    """The files of an image's directory: not a ``__pycache__`` that a test's import of
    one of its scripts (``hblab-ifnames``) leaves beside them."""
    return sorted(path for path in (IMAGES_DIR / kind).iterdir() if path.is_file())


def _current(api: Any, name: str, inputs: str) -> bool:
    import docker.errors

    try:
        labels = api.images.get(name).labels or {}
    except docker.errors.ImageNotFound:
        return False
    return bool(labels.get(HASH_LABEL) == inputs)


def build(prefix: str | None = None) -> dict[str, str]:
    """Build (or reuse) the package-test images; returns kind → image name."""
    names = image_names(prefix)
    with docker_engine.session("package image build failed") as api:
        rootfs = ensure_rootfs(api, BuildReport("", {}))
        inputs = _inputs_hash(rootfs)
        if _current(api, names["node"], inputs):
            return names
        try:
            _build(api, names, rootfs, inputs)
        except subprocess.CalledProcessError as exc:
            raise LabError(f"apt could not fetch the packages: {exc.stderr!r}") from exc
    return names


def _build(api: Any, names: dict[str, str], rootfs: str, inputs: str) -> None:
    with scratch_dir() as scratch:
        api.images.build(
            # images/base with the syslog rules it copies
            path=str(image_context("base", [], scratch)),
            tag=names["base"],
            buildargs={"ROOTFS": rootfs},
            rm=True,
            network_mode="none",
        )
        ctx = scratch / "pkgnode"
        shutil.copytree(IMAGES_DIR / "pkgnode", ctx)
        fetch_debs(_rootfs_status(api, rootfs), ctx)
        api.images.build(
            path=str(ctx),
            tag=names["node"],
            buildargs={"BASE": names["base"]},
            labels={HASH_LABEL: inputs, LABEL: "pkgnode"},
            rm=True,
            forcerm=True,
            network_mode="none",
        )
    # The image this one replaced, if any: only ours (the inputs label).
    api.images.prune(filters={"dangling": True, "label": HASH_LABEL})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.pkg_images", description=__doc__)
    parser.add_argument("--prefix", default=os.environ.get("HBLAB_PREFIX"))
    args = parser.parse_args(argv)
    try:
        for kind, name in build(args.prefix).items():
            print(f"pkg images: {kind} {name}")
    except LabError as exc:
        print(f"hblab: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
