"""The wheels' source digest: CI's engines reuse one build of the two wheels while the
sources they are built from stay as they are, and rebuild when any of them changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import wheels


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tree shaped like ours: the daemon's project, lab/, and packaging/hblab."""
    for name, text in {
        "pyproject.toml": "[project]\n",
        "README.md": "hbnode\n",
        "hbnode/__init__.py": "",
        "lab/__init__.py": "",
        "lab/assets/rsyslog.conf": "*.* /var/log/messages\n",
        "packaging/hblab/pyproject.toml": "[project]\n",
        "packaging/hblab/README.md": "lab\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "packaging/hblab/lab").symlink_to("../../lab")
    monkeypatch.setattr(wheels, "REPO", tmp_path)
    monkeypatch.setattr(wheels, "LAB_DIST", tmp_path / "packaging" / "hblab")
    return tmp_path


def test_what_the_copy_leaves_out_leaves_the_digest_alone(tree: Path) -> None:
    first = wheels.sources_digest()
    (tree / "lab/__pycache__").mkdir()
    (tree / "lab/__pycache__/x.cpython-311.pyc").write_bytes(b"\0")
    (tree / "hbnode/stale.pyc").write_bytes(b"\0")
    (tree / "build").mkdir()
    (tree / "build/x").write_text("")
    assert wheels.sources_digest() == first


@pytest.mark.parametrize(
    "change",
    ["edit a module", "add a module", "edit an asset", "make a file executable", "README"],
)
def test_any_change_to_a_source_changes_the_digest(tree: Path, change: str) -> None:
    first = wheels.sources_digest()
    if change == "edit a module":
        (tree / "hbnode/__init__.py").write_text("VERSION = 2\n")
    elif change == "add a module":
        (tree / "lab/new.py").write_text("")
    elif change == "edit an asset":
        (tree / "lab/assets/rsyslog.conf").write_text("*.* /var/log/syslog\n")
    elif change == "make a file executable":
        (tree / "lab/__init__.py").chmod(0o755)
    else:
        (tree / "packaging/hblab/README.md").write_text("the lab\n")
    assert wheels.sources_digest() != first
