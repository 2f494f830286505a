"""Two distributions from one tree: the daemon (hbnode) installs without the lab.

pyproject.toml is the daemon: only the hbnode package, the standard library alone
(its netlink is hbnode.resources.rtnl; prometheus_client is the opt-in ``metrics``
extra). packaging/hblab is the lab, hbnode-lab: its ``lab`` is a symlink to the
tree's lab/, and it depends on the daemon at the same version. The wheels are built
for real and opened; the daemon's entry points are imported in a fresh interpreter
that must not load the lab's libraries.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import hbnode
from lab.wheels import build as build_wheels

ROOT = Path(__file__).resolve().parents[2]
LAB_DIST = ROOT / "packaging" / "hblab"
# Distribution names of the lab's libraries, and the modules they install.
LAB_ONLY = {"scapy": "scapy", "docker": "docker", "matplotlib": "matplotlib"}
LAB_ONLY |= {"pyyaml": "yaml", "jsonschema": "jsonschema", "pyroute2": "pyroute2"}


def _project(path: Path) -> dict[str, object]:
    with (path / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    assert isinstance(project, dict)
    return project


def _requirement_names(requirements: object) -> set[str]:
    assert isinstance(requirements, list)
    return {re.split(r"[<>=!~ \[]", str(r), maxsplit=1)[0].lower() for r in requirements}


def test_the_daemon_depends_on_the_standard_library_alone() -> None:
    project = _project(ROOT)
    assert project["name"] == "hbnode"
    assert project["version"] == hbnode.__version__
    assert _requirement_names(project["dependencies"]) == set()
    extras = project["optional-dependencies"]
    assert isinstance(extras, dict)
    assert _requirement_names(extras["metrics"]) == {"prometheus_client"}
    scripts = project["scripts"]
    assert isinstance(scripts, dict)
    assert set(scripts) == {"hbnode", "cl_status", "hb_standby", "hb_takeover", "hbnode-ipfail"}


def test_the_lab_depends_on_the_daemon_at_the_same_version() -> None:
    project = _project(LAB_DIST)
    assert project["name"] == "hbnode-lab"
    assert project["version"] == hbnode.__version__
    dependencies = project["dependencies"]
    assert isinstance(dependencies, list)
    assert f"hbnode=={hbnode.__version__}" in dependencies
    assert set(LAB_ONLY) <= _requirement_names(dependencies)
    assert (LAB_DIST / "lab").is_symlink()
    assert (LAB_DIST / "lab").resolve() == ROOT / "lab"


# One build for both wheel tests, on a copy of the sources (lab.wheels): the xdist
# group keeps them on one worker (it took 36 s on each worker that ran one of them).
@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_wheels(tmp_path_factory.mktemp("wheels"))


def _tops(wheel: Path) -> set[str]:
    return {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}


@pytest.mark.xdist_group("wheels")
def test_the_daemon_wheel_holds_the_daemon_only(wheels: dict[str, Path]) -> None:
    tops = _tops(wheels["hbnode"])
    assert tops == {"hbnode", f"hbnode-{hbnode.__version__}.dist-info"}
    entry_points = zipfile.ZipFile(wheels["hbnode"]).read(
        f"hbnode-{hbnode.__version__}.dist-info/entry_points.txt"
    )
    assert b"hblab" not in entry_points


@pytest.mark.xdist_group("wheels")
def test_the_lab_wheel_holds_the_lab_and_its_data(wheels: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(wheels["hbnode_lab"]).namelist())
    assert {n.split("/")[0] for n in names} == {"lab", f"hbnode_lab-{hbnode.__version__}.dist-info"}
    for data in ("lab/wireshark/heartbeat.lua", "lab/topologies/reference.yaml"):
        assert data in names
    assert not any(n.startswith("hbnode/") for n in names)


def test_the_daemon_runs_without_the_lab_libraries() -> None:
    """Every program of the daemon distribution imports with nothing of the lab."""
    forbidden = set(LAB_ONLY.values()) | {"lab"}
    code = (
        "import sys\n"
        "import hbnode.cli, hbnode.daemon, hbnode.tools.cl_status, hbnode.tools.standby\n"
        "import hbnode.tools.ipfail, hbnode.config.load\n"
        f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & {forbidden!r})\n"
        "bad += [m for m in sys.modules if m.startswith('prometheus_client')]\n"
        "print(' '.join(bad))\n"
    )
    done = subprocess.run(
        # -s -P, not -I: -I would drop PYTHONPATH and import whichever clone the
        # machine's editable install points at (or none), not this tree.
        [sys.executable, "-s", "-P", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert done.stdout.strip() == ""
