"""`hblab watch` in a real tmux, read with capture-pane: the terminal view follows a
poweroff of the VIP holder. The tmux server is a private one (-L), killed by its
own socket name at the end: nothing else of tmux is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .helpers import wait_until
from .livetools import REPO

STARTUP = 60.0
ENV_KEYS = ("HBLAB_PREFIX", "HBLAB_STATE_DIR", "HBLAB_D_STATE_DIR", "LAB", "PYTHONPATH")


# Without a client attached, tmux sizes a window by default-size (80x24), not by -x/-y.
TMUX_CONF = "set -g default-size 150x45\n"


def tmux(sock: str, *argv: str, conf: Path | None = None) -> str:
    config = ["-f", str(conf)] if conf is not None else []
    done = subprocess.run(
        ["tmux", "-L", sock, *config, *argv],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return done.stdout


def test_watch_follows_a_poweroff(lab_factory: Any, measure: Any, tmp_path: Path) -> None:
    cluster = lab_factory("hbnode")
    cluster.startup("master", STARTUP)
    sock = f"hblab-watch-test-{os.getpid()}"
    conf = tmp_path / "tmux.conf"
    conf.write_text(TMUX_CONF)
    env = [f"-e{k}={os.environ[k]}" for k in ENV_KEYS if k in os.environ]
    env += ["-eCOLUMNS=150", "-eLINES=45"]  # rich reads these before asking the terminal
    command = f"cd {REPO} && {sys.executable} -m lab watch"
    size = ["-x", "150", "-y", "45"]
    tmux(sock, "new-session", "-d", "-s", "watch", *size, *env, command, conf=conf)
    try:

        def screen() -> str:
            return tmux(sock, "capture-pane", "-p", "-t", "watch")

        wait_until(
            lambda: all(w in screen() for w in ("held by master", "ARP answers: master", "active")),
            15,
            "the watch view shows the VIP on master, by netlink and by ARP",
        )
        print(screen())
        cluster.lab.poweroff("master")
        took = wait_until(
            lambda: "held by slave" in screen(), cluster.deadtime + 5, "the VIP on slave"
        )
        measure("watch shows the VIP on slave after poweroff", took)
        wait_until(lambda: "master powered off" in screen(), 5, "the poweroff as an event")
        print(screen())
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, timeout=10)
