"""ha.cf hbnode_resource_timeout: how long a resource script's start or stop may run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbnode.config import ConfigError, load_config, parse_hacf_text
from hbnode.resource_runner import script_timeouts

BASE = "logfile /dev/null\nnode master\nnode slave\nucast eth1 10.0.0.2\n"


def test_default_is_two_minutes() -> None:
    assert parse_hacf_text(BASE, "ha.cf", "master").resource_timeout_ms == 120000


@pytest.mark.parametrize(("value", "ms"), [("5", 5000), ("1500ms", 1500)])
def test_time_units(value: str, ms: int) -> None:
    text = BASE + f"hbnode_resource_timeout {value}\n"
    assert parse_hacf_text(text, "ha.cf", "master").resource_timeout_ms == ms


def test_bad_value_points_at_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_hacf_text(BASE + "hbnode_resource_timeout soon\n", "ha.cf", "master")
    assert str(caught.value).startswith("ha.cf:5: hbnode_resource_timeout: invalid time 'soon'")


def test_runner_bounds_start_and_stop_and_caps_status(tmp_path: Path) -> None:
    (tmp_path / "ha.cf").write_text(BASE + "hbnode_resource_timeout 45\n")
    (tmp_path / "authkeys").write_text("auth 1\n1 sha1 key\n")
    os.chmod(tmp_path / "authkeys", 0o600)
    (tmp_path / "haresources").write_text("")
    timeouts = script_timeouts(load_config(tmp_path, "master"))
    assert (timeouts.start, timeouts.stop, timeouts.status) == (45.0, 45.0, 30.0)
