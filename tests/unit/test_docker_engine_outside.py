"""What a private engine leaves outside its own roots, and what stop removes of it."""

from __future__ import annotations

from pathlib import Path

from lab import docker_engine, rtsched


def test_the_cgroup_parent_of_every_hierarchy_is_outside_the_engine(tmp_path: Path) -> None:
    for hierarchy in ("cpu,cpuacct", "memory", "pids"):
        (tmp_path / hierarchy).mkdir()
    (tmp_path / "cpu").symlink_to(tmp_path / "cpu,cpuacct")  # as systemd mounts it
    (tmp_path / "cgroup.controllers").write_text("")  # a file, not a hierarchy

    found = docker_engine.outside_dirs(tmp_path)

    parents = [p for p in found if p.is_relative_to(tmp_path)]
    assert parents == [
        tmp_path / "cpu,cpuacct" / rtsched.ENGINE_PARENT,
        tmp_path / "memory" / rtsched.ENGINE_PARENT,
        tmp_path / "pids" / rtsched.ENGINE_PARENT,
        tmp_path / rtsched.ENGINE_PARENT,  # cgroup v2: one tree
    ]
    assert found[: len(docker_engine.OUTSIDE_DIRS)] == list(docker_engine.OUTSIDE_DIRS)


def test_no_cgroup_tree_leaves_only_the_fixed_directories(tmp_path: Path) -> None:
    assert docker_engine.outside_dirs(tmp_path / "absent") == [
        *docker_engine.OUTSIDE_DIRS,
        tmp_path / "absent" / rtsched.ENGINE_PARENT,
    ]


def test_the_shared_budget_holds_three_labs_of_two_nodes() -> None:
    # CI's docker stage runs three labs at once, each on its own engine, all under the
    # one ``docker`` parent: the kernel refuses a node's budget past the parent's.
    assert 3 * 2 * rtsched.NODE_RT_RUNTIME_US <= rtsched.ENGINE_RT_RUNTIME_US
