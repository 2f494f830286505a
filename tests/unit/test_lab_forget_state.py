"""A lab that goes leaves no empty directory of its own behind (lab.labcore)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from lab import labcore
from lab.labcore import LabBase


def _forget(state_dir: Path) -> None:
    lab = SimpleNamespace(
        state_dir=state_dir, state_file=state_dir / "state.json", _stamp=None, state=object()
    )
    LabBase._forget_state(lab)  # type: ignore[arg-type]


def test_the_last_docker_lab_removes_the_shared_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = tmp_path / "hblab-d"
    monkeypatch.setattr(labcore, "DOCKER_PARENT", parent)
    first, second = parent / "lab", parent / "hbd4"
    for state_dir in (first, second):
        (state_dir / "nodes").mkdir(parents=True)
        (state_dir / "state.json").write_text("{}")
    _forget(first)
    assert not first.exists() and parent.is_dir()  # another lab's state is still there
    _forget(second)
    assert not parent.exists()


def test_a_parent_with_anything_else_in_it_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = tmp_path / "hblab-d"
    monkeypatch.setattr(labcore, "DOCKER_PARENT", parent)
    (parent / "engine").mkdir(parents=True)  # the private engine's data root
    (parent / "lab").mkdir()
    _forget(parent / "lab")
    assert (parent / "engine").is_dir()


def test_a_netns_lab_leaves_its_parent_alone(tmp_path: Path) -> None:
    state_dir = tmp_path / "hblab"
    state_dir.mkdir()
    _forget(state_dir)
    assert not state_dir.exists() and tmp_path.is_dir()
