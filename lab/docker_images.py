"""Build the containerized lab's images with no registry: ``python -m lab.docker_images``.

1. ``hblab-d-rootfs:<hash>``: a Debian rootfs made by ``images/base/mkrootfs.sh``
   (debootstrap from the machine's apt mirror) and ``docker import``-ed. ``<hash>``
   is the content hash of everything that decides the rootfs (the script, suite,
   mirror, packages): the image, or failing that the tarball
   ``build/docker/rootfs-<hash>.tar``, is the stamp, and a second build reuses it.
2. ``hblab-d-base``, ``hblab-d-node``, ``hblab-d-gateway``, ``hblab-d-client``: the
   Dockerfiles in ``images/``; the node's build context gets the wheels of hbnode
   and of the lab (built here with ``pip wheel``, reproducibly, so Docker's layer
   cache holds when the code did not change) and pyroute2's.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import docker_engine
from lab.errors import LabError
from lab.source import source_info
from lab.wheels import build as build_dist_wheels
from lab.wheels import sources_digest

REPO = Path(__file__).resolve().parent.parent
IMAGES_DIR = REPO / "images"
BUILD_DIR = Path(os.environ.get("HBLAB_D_BUILD", REPO / "build" / "docker"))
WHEELS_DIR = REPO / "build" / "wheels"
RSYSLOG_CONF = Path(__file__).parent / "assets" / "rsyslog.conf"
SUITE = "bookworm"
# Everything a lab host runs. iputils-ping is left out: heartbeat's dependency
# resolves to inetutils-ping under debootstrap, and the two conflict.
PACKAGES = (
    "heartbeat",
    "ipmitool",  # external/ipmi fences through it (hblab up --fencing)
    "nginx-light",
    "python3",
    "python3-venv",
    "iproute2",
    "iputils-arping",
    "procps",
    "net-tools",
    "tcpdump",
    "tini",
    "curl",
    "init-system-helpers",
    "sysvinit-utils",
    "psmisc",
    "less",
    "rsyslog",  # each host's syslog (/var/log/messages), as on CentOS
    # What blank nodes (hblab up --blank) run for the tutorial's steps (lab.centos).
    "iptables",
    "openssh-server",
    "vim",
    "selinux-utils",
    # hblab-boot makes what the packages put in /run (lab.pkgfiles), as a booting host
    # does; the image has no systemd, and this one provides just that program.
    "systemd-standalone-tmpfiles",
)
ROOTFS_REPO = "hblab-d-rootfs"
LABEL = "org.hblab.image"
SOURCE_LABEL = "org.hblab.source"  # on the node image: lab.source.SourceInfo as JSON
# (name, directory under images/): built in this order, each FROM the one before.
STACK = ("base", "node", "gateway", "client")


def image_name(kind: str) -> str:
    return f"hblab-d-{kind}:latest"


def apt_mirror(sources: Path = Path("/etc/apt/sources.list.d/debian.sources")) -> str:
    """The Debian mirror this machine installs from (deb822 or one-line format)."""
    override = os.environ.get("HBLAB_D_MIRROR")
    if override:
        return override
    candidates = [sources, Path("/etc/apt/sources.list")]
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        match = re.search(r"^URIs:\s*(\S+)", text, re.M) or re.search(
            r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\b", text, re.M
        )
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


def rootfs_hash(mirror: str) -> str:
    """The content hash that names the rootfs: change any input and it is rebuilt."""
    digest = hashlib.sha256()
    digest.update((IMAGES_DIR / "base" / "mkrootfs.sh").read_bytes())
    digest.update(f"{SUITE}\n{mirror}\n{','.join(PACKAGES)}\n".encode())
    return digest.hexdigest()[:16]


@dataclass
class BuildReport:
    rootfs: str  # "image cached", "tarball cached" or "debootstrap"
    seconds: dict[str, float]

    def lines(self) -> list[str]:
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return [f"rootfs: {self.rootfs}", f"times: {steps}"]


def _has_image(api: Any, name: str) -> bool:
    import docker.errors

    try:
        api.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def ensure_rootfs(api: Any, report: BuildReport) -> str:
    """The rootfs image's tag, made only if neither it nor its tarball exists."""
    mirror = apt_mirror()
    tag = rootfs_hash(mirror)
    name = f"{ROOTFS_REPO}:{tag}"
    if _has_image(api, name):
        report.rootfs = "image cached"
    else:
        with _tree_build_lock():  # another build may be making the tarball: wait for it
            tarball = rootfs_tarball(report, mirror)
        started = time.monotonic()
        api.api.import_image_from_file(
            str(tarball), repository=ROOTFS_REPO, tag=tag, changes=[f"LABEL {LABEL}=rootfs"]
        )
        report.seconds["import"] = time.monotonic() - started
    api.images.get(name).tag(ROOTFS_REPO, "latest")
    return name


def rootfs_tarball(report: BuildReport, mirror: str) -> Path:
    """The rootfs tarball, debootstrapped only if it is not there yet. No engine is
    needed: ``--prepare`` makes it ahead of the engine (CI, during its lint)."""
    tarball = BUILD_DIR / f"rootfs-{rootfs_hash(mirror)}.tar"
    if tarball.exists():
        report.rootfs = "tarball cached"
        return tarball
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap is not installed (make deps-docker installs it)")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run(
        [str(IMAGES_DIR / "base" / "mkrootfs.sh"), str(tarball), SUITE, mirror, ",".join(PACKAGES)],
        check=True,
    )
    report.seconds["debootstrap"] = time.monotonic() - started
    report.rootfs = "debootstrap"
    for stale in BUILD_DIR.glob("rootfs-*.tar"):
        if stale != tarball:
            stale.unlink()  # one rootfs tarball is enough cache
    return tarball


def build_wheels() -> list[Path]:
    """The wheels of this checkout's two distributions, the daemon (hbnode) and the
    lab (hbnode-lab, for ``lab.docker_nodefiles`` at image build), and pyroute2's at
    the version the host runs."""
    WHEELS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = WHEELS_DIR / "sources.sha256"  # the sources the two wheels were built from
    digest = sources_digest()
    ours = [*WHEELS_DIR.glob("hbnode-*.whl"), *WHEELS_DIR.glob("hbnode_lab-*.whl")]
    if len(ours) != 2 or not stamp.exists() or stamp.read_text() != digest:
        stamp.unlink(missing_ok=True)
        for old in ours:
            old.unlink()
        build_dist_wheels(WHEELS_DIR)  # built on a copy: never into the tree
        stamp.write_text(digest)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # pyroute2 for the daemon; PyYAML for lab.docker_nodefiles (the topology file).
    for dist, wheel in (("pyroute2", "pyroute2-*.whl"), ("PyYAML", "[Pp]y[Yy][Aa][Mm][Ll]-*.whl")):
        if not list(WHEELS_DIR.glob(wheel)):
            from importlib.metadata import version

            pin = f"{dist}=={version(dist)}"
            subprocess.run([*pip, "download", pin, "--no-deps", "-d", str(WHEELS_DIR)], check=True)
    return sorted(WHEELS_DIR.glob("*.whl"))


def image_context(kind: str, wheels: list[Path], scratch: Path) -> Path:
    """images/KIND copied to ``scratch``/KIND (plus the wheels for the node). Each
    build has a scratch directory of its own: builds on several engines at once
    (CI's docker and package stages) must not rewrite each other's contexts."""
    ctx = scratch / kind
    shutil.rmtree(ctx, ignore_errors=True)
    shutil.copytree(
        IMAGES_DIR / kind, ctx, ignore=shutil.ignore_patterns("mkrootfs.sh", "__pycache__")
    )
    if kind == "base":  # the same syslog rules as the netns hosts (lab.rootfs)
        shutil.copy2(RSYSLOG_CONF, ctx / "rsyslog.conf")
    if kind == "node":
        (ctx / "wheels").mkdir()
        for wheel in wheels:
            shutil.copy2(wheel, ctx / "wheels" / wheel.name)
            os.utime(ctx / "wheels" / wheel.name, (0, 0))
    return ctx


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A directory of this build's own under build/docker, removed after it."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR, prefix="ctx-") as scratch:
        yield Path(scratch)


@contextmanager
def _tree_build_lock() -> Iterator[None]:
    """One maker of the shared files at a time per checkout: the rootfs tarball and
    build/wheels. Two engines' builds at once (CI's docker stage) would replace each
    other's files mid-build; each copies what it needs before it lets go, and builds
    its images unlocked. The lock is released when the process ends, however."""
    WHEELS_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(WHEELS_DIR.parent / "docker-images.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def prepare() -> BuildReport:
    """Make the rootfs tarball and the wheels, which need no engine."""
    report = BuildReport("", {})
    with _tree_build_lock():  # a build started meanwhile waits, then finds them made
        total = time.monotonic()
        rootfs_tarball(report, apt_mirror())
        started = time.monotonic()
        build_wheels()
        report.seconds["wheels"] = time.monotonic() - started
        report.seconds["total"] = time.monotonic() - total
    return report


def build_all(force_rootfs: bool = False) -> BuildReport:
    with scratch_dir() as scratch:
        return _build_all(force_rootfs, scratch)


def _build_all(force_rootfs: bool, scratch: Path) -> BuildReport:
    report = BuildReport("", {})
    total = time.monotonic()
    with docker_engine.session("image build failed") as api:
        if force_rootfs:
            for image in api.images.list(ROOTFS_REPO):
                api.images.remove(image.id, force=True)
            with _tree_build_lock():
                for tarball in BUILD_DIR.glob("rootfs-*.tar"):
                    tarball.unlink()  # or the "again" would only import the cached tarball
        rootfs = ensure_rootfs(api, report)
        started = time.monotonic()
        with _tree_build_lock():
            (scratch / "wheels").mkdir()
            wheels = [Path(shutil.copy2(w, scratch / "wheels")) for w in build_wheels()]
        report.seconds["wheels"] = time.monotonic() - started
        for kind in STACK:
            started = time.monotonic()
            api.images.build(
                path=str(image_context(kind, wheels, scratch)),
                tag=image_name(kind),
                buildargs={"ROOTFS": rootfs} if kind == "base" else None,
                # Which tree the image's hbnode came from (hblab status shows it).
                labels={SOURCE_LABEL: json.dumps(source_info().to_json())}
                if kind == "node"
                else None,
                rm=True,
                forcerm=True,
                network_mode="none",  # nothing to fetch: builds are offline by design
            )
            report.seconds[kind] = time.monotonic() - started
        # Rebuilt images leave their predecessors untagged: remove only ours.
        api.images.prune(filters={"dangling": True, "label": LABEL})
    report.seconds["total"] = time.monotonic() - total
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.docker_images", description=__doc__)
    parser.add_argument("--force-rootfs", action="store_true", help="debootstrap again")
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="only what needs no engine, the rootfs tarball and the wheels: "
        "a later build uses them (CI makes them during its lint)",
    )
    args = parser.parse_args(argv)
    try:
        if args.prepare:
            for line in prepare().lines():
                print(f"images: {line}")
            return 0
        if not docker_engine.reachable():
            raise LabError(
                f"no Docker engine at {docker_engine.engine_url()} "
                "(make engine-start starts a private one)"
            )
        for line in build_all(args.force_rootfs).lines():
            print(f"images: {line}")
    except (LabError, subprocess.CalledProcessError) as exc:
        print(f"hblab: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
