"""sd_notify over a real datagram socket: what systemd would read, byte for byte.

The tests bind the socket systemd would (a path, or an abstract name for ``@``)
and read what hbnode.sdnotify sends; the watchdog is stepped in virtual time.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hbnode.sdnotify import Notifier


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A service manager's notification socket, as systemd binds it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(2.0)
    yield path, sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_status_and_stopping_reach_the_socket(manager: tuple[str, socket.socket]) -> None:
    path, sock = manager
    notifier = Notifier(path)
    notifier.ready("active, holding all")
    assert received(sock) == ["READY=1", "STATUS=active, holding all"]
    notifier.status("active, holding none")
    assert received(sock) == ["STATUS=active, holding none"]
    notifier.stopping("stopping: handing resources over")
    assert received(sock) == ["STOPPING=1", "STATUS=stopping: handing resources over"]
    assert notifier.sent == 3 and notifier.errors == 0
    notifier.close()


def test_an_unchanged_status_is_not_sent_again(manager: tuple[str, socket.socket]) -> None:
    path, sock = manager
    notifier = Notifier(path)
    notifier.status("a")
    notifier.status("a")
    notifier.status("b")
    assert received(sock) == ["STATUS=a"]
    assert received(sock) == ["STATUS=b"]
    assert notifier.sent == 2


def test_an_abstract_socket_is_written_with_a_leading_at() -> None:
    name = f"hbnode-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2.0)
        Notifier(f"@{name}").notify("READY=1")
        assert sock.recv(64) == b"READY=1"


def test_from_environ_takes_the_variables_out(manager: tuple[str, socket.socket]) -> None:
    path, _ = manager
    environ = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "42", "X": "1"}
    notifier = Notifier.from_environ(environ, pid=42)
    assert notifier.active and notifier.watchdog_interval == 5.0  # half of WatchdogSec=10
    assert environ == {"X": "1"}  # resource scripts must not notify in our name


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "43"}, None),  # another process's
        ({"WATCHDOG_USEC": "10000000"}, 5.0),  # no pid: ours (sd_watchdog_enabled)
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "ten"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_is_ours_only_when_systemd_says_so(
    manager: tuple[str, socket.socket], environ: dict[str, str], interval: float | None
) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": manager[0], **environ}, pid=42)
    assert notifier.watchdog_interval == interval


def test_the_watchdog_pings_at_half_the_timeout(manager: tuple[str, socket.socket]) -> None:
    path, sock = manager
    notifier = Notifier(path, watchdog_interval=5.0)
    assert notifier.get_timer() is None  # nothing before the daemon is ready
    notifier.start_watchdog(100.0)
    pings = []
    now = 100.0
    for _ in range(50):  # 12.25 s of loop turns, every 0.25 s
        if (timer := notifier.get_timer()) is not None and now >= timer:
            notifier.handle_timer(now)
            pings.append(now)
        now += 0.25
    assert pings == [100.0, 105.0, 110.0]
    assert [sock.recv(64) for _ in pings] == [b"WATCHDOG=1"] * 3


def test_a_stalled_loop_pings_once_when_it_turns_again(
    manager: tuple[str, socket.socket],
) -> None:
    path, sock = manager
    notifier = Notifier(path, watchdog_interval=5.0)
    notifier.start_watchdog(0.0)
    notifier.handle_timer(0.0)
    notifier.handle_timer(30.0)  # a stall of 30 s: one ping, not six
    assert notifier.get_timer() == 35.0
    assert [sock.recv(64), sock.recv(64)] == [b"WATCHDOG=1"] * 2
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(64)


def test_without_a_manager_every_call_is_a_quiet_no_op(tmp_path: Path) -> None:
    for notifier in (Notifier(None), Notifier(str(tmp_path / "gone")), Notifier("vsock:2:1")):
        notifier.ready("x")
        notifier.status("y")
        notifier.stopping("z")
        notifier.close()
    assert Notifier(None).notify("READY=1") is False
    gone = Notifier(str(tmp_path / "gone"))
    assert gone.notify("READY=1") is False and gone.errors == 1  # counted, never raised
