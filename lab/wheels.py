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
NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
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
