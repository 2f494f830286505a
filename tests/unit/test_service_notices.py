"""What systemctl status shows for a node, stepped through a failover in virtual time."""

from __future__ import annotations

import socket
from pathlib import Path

from hbnode.sdnotify import Notifier
from hbnode.service import ServiceNotices, status_line
from tests.harness.stepped_pair import SteppedPair


def test_the_status_line_follows_the_cluster(tmp_path: Path) -> None:
    pair = SteppedPair(tmp_path)
    pair.start("master")
    pair.start("slave")
    master, slave = pair.nodes["master"], pair.nodes["slave"]
    assert (
        status_line(slave)
        == "starting: waiting for the cluster (initdead); master init (eth1 dead)"
    )
    pair.step(15.0)
    assert status_line(master) == "active, holding local; slave active (eth1 up)"
    assert status_line(slave) == "active, holding local; master active (eth1 up)"
    pair.up["master"] = False  # pull the plug: slave takes over
    pair.step(3.0)
    assert status_line(slave) == "active, holding all; master dead (eth1 dead)"
    slave.shutdown(pair.clock.now)
    assert status_line(slave).startswith("stopping: handing resources over; ")


def test_notices_reach_the_manager_on_the_loop_s_timer(tmp_path: Path) -> None:
    pair = SteppedPair(tmp_path)
    pair.start("master")
    pair.start("slave")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(2.0)
        notices = ServiceNotices(Notifier(str(tmp_path / "notify"), 5.0), pair.nodes["master"])
        notices.ready(pair.clock.now)
        assert sock.recv(512).decode().split("\n") == [
            "READY=1",
            "STATUS=starting: waiting for the cluster (initdead); slave init (eth1 dead)",
        ]
        notices.handle_timer(pair.clock.now)  # the first watchdog ping is due at once
        assert sock.recv(64) == b"WATCHDOG=1"
        pair.step(15.0)
        timer = notices.get_timer()
        assert timer is not None and timer <= pair.clock.now
        notices.handle_timer(pair.clock.now)
        seen = {sock.recv(512).decode() for _ in range(2)}
        assert seen == {"WATCHDOG=1", "STATUS=active, holding local; slave active (eth1 up)"}
        notices.stopping()
        assert sock.recv(512).decode().startswith("STOPPING=1\nSTATUS=")
        notices.close()


def test_a_reload_is_bracketed_for_systemctl(tmp_path: Path) -> None:
    pair = SteppedPair(tmp_path)
    pair.start("master")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(2.0)
        notices = ServiceNotices(Notifier(str(tmp_path / "notify")), pair.nodes["master"])
        notices.reloading()
        notices.reloaded()
        assert sock.recv(64) == b"RELOADING=1"
        assert sock.recv(512).decode().split("\n")[0] == "READY=1"
