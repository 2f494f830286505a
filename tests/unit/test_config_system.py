"""check_system: the start-up checks that look at this machine (scripts, clients, NICs)."""

from __future__ import annotations

import os
from pathlib import Path

from hbnode.config import load_config
from hbnode.config.system import check_system, script_dirs

HACF = (
    "logfile /dev/null\n"
    "ucast lo 127.0.0.2\n"  # 2
    "ucast hbcnone0 127.0.0.3\n"  # 3
    "respawn root /nonexistent/ipfail\n"  # 4
    "node master\n"
    "node slave\n"
)


def write(d: Path, haresources: str) -> Path:
    (d / "ha.cf").write_text(HACF)
    (d / "authkeys").write_text("auth 1\n1 sha1 key\n")
    os.chmod(d / "authkeys", 0o600)
    (d / "haresources").write_text(haresources)
    (d / "resource.d").mkdir()
    script = d / "resource.d" / "websvc"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    return d


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, "master 10.0.0.9 websvc\nslave 10.0.0.10 \\\n  nosuchsvc\n")
    problems = [str(problem) for problem in check_system(load_config(tmp_path, "master"))]
    assert problems == [
        f"{tmp_path}/ha.cf:3: ucast: no such interface 'hbcnone0' on this node",
        f"{tmp_path}/ha.cf:4: respawn: Client child command [/nonexistent/ipfail]"
        " is not executable",
        f"{tmp_path}/haresources:3: Cannot locate resource script nosuchsvc"
        f" (looked in {tmp_path}/resource.d, /etc/init.d)",
    ]


def test_scripts_are_looked_up_beside_the_configuration() -> None:
    assert script_dirs(Path("/etc/ha.d")) == ("/etc/ha.d/resource.d", "/etc/init.d")
