"""`hblab --prefix NAME` for the commands that bring up labs of their own (bench,
nemesis, cts, soak, fuzz, flood): they run again as a child whose environment names
that prefix, since their labs take their names from the process's prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cli import OWN_LAB_COMMANDS, _under_prefix, make_parser
from lab.errors import LabError
from lab.state import lab_prefix, prefix_env, state_dirs


def test_a_prefix_gets_the_state_dirs_hblab_prefix_gives_it() -> None:
    env = prefix_env("cls07")
    assert env["HBLAB_PREFIX"] == "cls07"
    assert env["HBLAB_STATE_DIR"] == "/var/lib/hblab-cls07"
    assert env["HBLAB_D_STATE_DIR"] == "/var/lib/hblab-d/cls07"


def test_one_state_dir_set_leaves_the_other_to_the_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HBLAB_STATE_DIR alone, for a lab of another prefix: its docker state must not be
    the default lab's, or its `hblab down` takes the default lab's containers down."""
    monkeypatch.setenv("HBLAB_PREFIX", "hbme")
    monkeypatch.setenv("HBLAB_STATE_DIR", "/var/lib/hbme")
    monkeypatch.delenv("HBLAB_D_STATE_DIR", raising=False)
    assert state_dirs() == (Path("/var/lib/hbme"), Path("/var/lib/hblab-d/hbme"))
    monkeypatch.delenv("HBLAB_STATE_DIR")
    monkeypatch.setenv("HBLAB_D_STATE_DIR", "/var/lib/hbme-d")
    assert state_dirs() == (Path("/var/lib/hblab-hbme"), Path("/var/lib/hbme-d"))
    monkeypatch.setenv("HBLAB_PREFIX", "hblab")
    monkeypatch.delenv("HBLAB_D_STATE_DIR")
    assert state_dirs() == (Path("/var/lib/hblab"), Path("/var/lib/hblab-d/lab"))


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--quick"],  # no --prefix: this process's own lab
        ["bench", "--prefix", lab_prefix()],  # the prefix this process already has
        ["status", "--prefix", "cls07"],  # make_lab takes the prefix itself
    ],
)
def test_nothing_runs_again_when_this_process_can_serve_the_prefix(argv: list[str]) -> None:
    assert _under_prefix(make_parser().parse_args(argv), argv) is None


def test_a_bad_prefix_is_refused_before_any_child_runs() -> None:
    argv = ["nemesis", "--prefix", "Bad-Name"]
    with pytest.raises(LabError, match="bad prefix"):
        _under_prefix(make_parser().parse_args(argv), argv)


def test_every_command_that_brings_up_its_own_lab_is_covered() -> None:
    parser = make_parser()
    for command in OWN_LAB_COMMANDS:
        assert parser.parse_args([command, "--prefix", "cls07"]).prefix == "cls07"
