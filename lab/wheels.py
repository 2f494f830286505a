"""The wheels of this checkout's two distributions, built outside the tree.

pyproject.toml is the daemon (hbnode); packaging/hblab is the lab (hbnode-lab), whose
``lab`` is a symlink to the tree's lab/. setuptools writes build/ and *.egg-info into
the project it builds, so two builds of one tree at once (two engines' image builds,
a unit test beside `make deb`, two pytest workers) broke each other in CI ("could not
create build/bdist…", "Failed building wheel for hbnode-lab"). Each build here works
on a copy of what the two builds read, in a directory of its own, and leaves the tree
untouched.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAB_DIST = REPO / "packaging" / "hblab"  # the lab's distribution (hbnode-lab)
# What the two builds read: the daemon's project and package, the lab's project and
# (through its symlink) the tree's lab/.
DAEMON_SOURCES = ("pyproject.toml", "README.md", "hbnode", "lab")
LAB_SOURCES = ("pyproject.toml", "README.md", "lab")
NOT_SOURCE_NAMES = ("__pycache__", "*.pyc", "build", "*.egg-info")
NOT_SOURCES = shutil.ignore_patterns(*NOT_SOURCE_NAMES)
# 1980-01-01, zip's earliest date: the same sources give the same wheel bytes, so
# Docker's layer cache holds across builds.
REPRODUCIBLE_EPOCH = "315532800"


def source_copy(dest: Path) -> tuple[Path, Path]:
    """The two projects copied into ``dest``: (the daemon's, the lab's)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in DAEMON_SOURCES:
        source, target = REPO / name, dest / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=NOT_SOURCES)
        else:
            shutil.copy2(source, target)
    lab_dist = dest / LAB_DIST.relative_to(REPO)
    lab_dist.mkdir(parents=True)
    for name in LAB_SOURCES:
        source = LAB_DIST / name
        if source.is_symlink():
            (lab_dist / name).symlink_to(source.readlink())
        else:
            shutil.copy2(source, lab_dist / name)
    return dest, lab_dist


def sources_digest() -> str:
    """A content hash of what :func:`source_copy` copies (names, modes, bytes, link
    targets) and of the interpreter that builds: equal digests build equal wheels, so a
    build can be skipped (each CI engine's image build needed the same two wheels)."""
    digest = hashlib.sha256(f"{sys.version}\n{REPRODUCIBLE_EPOCH}\n".encode())
    roots = [(REPO, name) for name in DAEMON_SOURCES] + [(LAB_DIST, n) for n in LAB_SOURCES]
    for base, name in roots:
        for path in _source_files(base / name):
            digest.update(f"{path.relative_to(REPO)}\0{path.lstat().st_mode:o}\0".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            else:
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _source_files(path: Path) -> list[Path]:
    """``path`` and, for a directory (not a symlink to one), the files under it, in
    sorted order, without what :data:`NOT_SOURCES` leaves out of the copy."""
    if path.is_symlink() or not path.is_dir():
        return [path]
    found: list[Path] = []
    for top, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not _left_out(d))
        found += [Path(top) / f for f in sorted(files) if not _left_out(f)]
    return found


def _left_out(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in NOT_SOURCE_NAMES)


def build(out: Path) -> dict[str, Path]:
    """Build both wheels into ``out``; returns them by distribution (hbnode, hbnode_lab)."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": REPRODUCIBLE_EPOCH}
    with tempfile.TemporaryDirectory(prefix="hbnode-wheels-") as scratch:
        daemon, lab = source_copy(Path(scratch) / "src")
        pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "-q")
        subprocess.run(
            [*pip, "wheel", "--no-deps", "-w", str(out), str(daemon), str(lab)],
            check=True,
            env=env,
            cwd=scratch,  # not the tree: the build must not depend on the current directory
        )
    found = {path.name.split("-")[0]: path for path in out.glob("hbnode*.whl")}
    if set(found) != {"hbnode", "hbnode_lab"}:
        raise RuntimeError(f"pip wheel built {sorted(p.name for p in found.values())}")
    return found
