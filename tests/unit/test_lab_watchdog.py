"""The lab's watchdog timer (lab.watchdog_timer) behaves as Linux's watchdog core does.

Virtual time: every call is given ``now``; the full state is checked after each step.
"""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import pytest

from hbnode.watchdog_io import WDIOC_SETTIMEOUT as HBNODE_SETTIMEOUT
from lab.proc import ProcessId
from lab.state import LabState, NodeRecord
from lab.watchdog_timer import (
    DEFAULT_TIMEOUT,
    WDIOC_GETBOOTSTATUS,
    WDIOC_GETSTATUS,
    WDIOC_GETSUPPORT,
    WDIOC_GETTIMELEFT,
    WDIOC_GETTIMEOUT,
    WDIOC_KEEPALIVE,
    WDIOC_SETTIMEOUT,
    IoctlReply,
    WatchdogTimer,
)
from lab.watchdogs import device_path

INT = struct.Struct("i")


def test_ioctl_numbers_are_linuxs() -> None:
    # linux/watchdog.h, as `python3 -c 'import fcntl'` users write them by hand
    assert WDIOC_SETTIMEOUT == 0xC0045706 == HBNODE_SETTIMEOUT
    assert WDIOC_KEEPALIVE == 0x80045705
    assert WDIOC_GETTIMEOUT == 0x80045707
    assert WDIOC_GETSUPPORT == 0x80285700


def test_open_arms_with_the_default_timeout() -> None:
    timer = WatchdogTimer()
    assert not timer.running and timer.get_timer() is None
    assert timer.open(1, now=10.0) == 0
    assert timer.holder == 1 and timer.get_timer() == 10.0 + DEFAULT_TIMEOUT


def test_one_holder_at_a_time() -> None:
    timer = WatchdogTimer()
    timer.open(1, 0.0)
    assert timer.open(2, 1.0) == errno.EBUSY
    assert timer.holder == 1 and timer.get_timer() == DEFAULT_TIMEOUT  # not fed by the refusal


def test_settimeout_sets_feeds_and_answers_the_timeout() -> None:
    timer = WatchdogTimer()
    timer.open(1, 0.0)
    assert timer.ioctl(1, WDIOC_SETTIMEOUT, INT.pack(2), 5.0) == IoctlReply(0, INT.pack(2))
    assert timer.timeout == 2 and timer.get_timer() == 7.0
    assert timer.ioctl(1, WDIOC_GETTIMEOUT, b"", 6.0) == IoctlReply(0, INT.pack(2))
    assert timer.ioctl(1, WDIOC_GETTIMELEFT, b"", 6.0) == IoctlReply(0, INT.pack(1))


@pytest.mark.parametrize("seconds", [0, -1, 65536])
def test_settimeout_out_of_range_is_einval_and_changes_nothing(seconds: int) -> None:
    timer = WatchdogTimer()
    timer.open(1, 0.0)
    assert timer.ioctl(1, WDIOC_SETTIMEOUT, INT.pack(seconds), 3.0).error == errno.EINVAL
    assert timer.timeout == DEFAULT_TIMEOUT and timer.get_timer() == DEFAULT_TIMEOUT


def test_writes_and_keepalive_feed() -> None:
    timer = WatchdogTimer(timeout=2)
    timer.open(1, 0.0)
    timer.write(1, b"\0", 1.5)
    assert timer.get_timer() == 3.5 and timer.feeds == 2
    assert timer.ioctl(1, WDIOC_KEEPALIVE, b"", 3.0) == IoctlReply(0, INT.pack(0))
    assert timer.get_timer() == 5.0


@pytest.mark.parametrize(
    ("cmd", "answer"),
    [
        (WDIOC_GETSTATUS, INT.pack(0)),
        (WDIOC_GETBOOTSTATUS, INT.pack(0)),
        (WDIOC_GETSUPPORT, struct.pack("II32s", 0x8180, 0, b"hblab watchdog")),
    ],
)
def test_the_questions_a_daemon_may_ask(cmd: int, answer: bytes) -> None:
    timer = WatchdogTimer()
    timer.open(1, 0.0)
    assert timer.ioctl(1, cmd, b"", 0.0) == IoctlReply(0, answer)


def test_an_unknown_ioctl_is_enotty() -> None:
    timer = WatchdogTimer()
    timer.open(1, 0.0)
    assert timer.ioctl(1, 0x5401, b"", 0.0).error == errno.ENOTTY  # TCGETS


def test_the_magic_close_stops_the_timer() -> None:
    timer = WatchdogTimer(timeout=2)
    timer.open(1, 0.0)
    timer.write(1, b"V", 1.0)
    assert timer.release(1) is True
    assert not timer.running and timer.holder is None and not timer.expire(100.0)


@pytest.mark.parametrize("writes", [[], [b"\0"], [b"V", b"\0"]])
def test_any_other_close_leaves_it_running(writes: list[bytes]) -> None:
    """A crash closes without 'V' (or a feed came after the 'V'): the machine resets."""
    timer = WatchdogTimer(timeout=2)
    timer.open(1, 0.0)
    for data in writes:
        timer.write(1, data, 0.5)
    assert timer.release(1) is False
    deadline = timer.get_timer()
    assert timer.running and timer.holder is None and deadline == (2.5 if writes else 2.0)
    assert not timer.expire(deadline - 0.001) and timer.expire(deadline)


def test_it_fires_once_when_not_fed() -> None:
    timer = WatchdogTimer(timeout=2)
    timer.open(1, 0.0)
    timer.write(1, b"\0", 1.0)
    assert not timer.expire(2.999)
    assert timer.expire(3.0) and timer.fired
    assert not timer.expire(10.0) and not timer.running


def test_a_reopen_after_a_magic_close_arms_again() -> None:
    timer = WatchdogTimer(timeout=2)
    timer.open(1, 0.0)
    timer.ioctl(1, WDIOC_SETTIMEOUT, INT.pack(5), 0.0)
    timer.write(1, b"V", 1.0)
    timer.release(1)
    assert timer.open(2, 20.0) == 0 and timer.get_timer() == 25.0  # the timeout stays set


def test_calls_on_a_handle_that_does_not_hold_it_are_ignored() -> None:
    timer = WatchdogTimer(timeout=2)
    timer.open(1, 0.0)
    timer.write(7, b"\0", 1.0)
    assert timer.get_timer() == 2.0
    assert timer.ioctl(7, WDIOC_KEEPALIVE, b"", 1.0).error == errno.EBADF
    assert timer.release(7) is False and timer.holder == 1


@pytest.mark.parametrize(
    ("hacf", "path"),
    [
        ("keepalive 2\nwatchdog /dev/watchdog\n", "/dev/watchdog"),
        ("watchdog /dev/watchdog0 # the second one\nwatchdog /dev/other\n", "/dev/watchdog0"),
        ("  watchdog\t/dev/wd\n", "/dev/wd"),
        ("# watchdog /dev/watchdog\nkeepalive 2\n", None),
        ("watchdog\n", None),
        ("", None),
    ],
)
def test_the_device_ha_cf_names(hacf: str, path: str | None) -> None:
    assert device_path(hacf) == path


def test_the_record_keeps_a_nodes_watchdog(tmp_path: Path) -> None:
    state = LabState("netns", "fast")
    rec = NodeRecord("master", str(tmp_path / "master"), "hbnode", netns="x-master")
    rec.watchdog = ProcessId(1234, 5678)
    state.nodes["master"] = rec
    state.save(tmp_path / "state.json")
    loaded = LabState.load(tmp_path / "state.json")
    assert loaded is not None and loaded.nodes["master"].watchdog == ProcessId(1234, 5678)


def test_the_lab_reads_its_record_again_when_another_process_rewrote_it(tmp_path: Path) -> None:
    """A watchdog resets a node from a process of its own: the lab that drives the test
    must then see the node's new init, not the one it loaded first."""
    from lab.netns_backend import NetnsLab
    from lab.topology import REFERENCE

    state = LabState("netns", "fast")
    state.nodes["master"] = NodeRecord("master", str(tmp_path / "master"), "hbnode")
    state.save(tmp_path / "state.json")
    lab = NetnsLab(REFERENCE, tmp_path)
    assert lab.require_up().nodes["master"].init is None
    with lab.exclusive(), lab.exclusive():  # re-entrant: poweron inside reset
        other = LabState.load(tmp_path / "state.json")
        assert other is not None
        other.nodes["master"].init = ProcessId(4321, 99)
        other.save(tmp_path / "state.json")
    assert lab.require_up().nodes["master"].init == ProcessId(4321, 99)


def test_down_with_nothing_up_leaves_nothing(tmp_path: Path) -> None:
    """The lock lives beside the record: no lab, no lock file, no directory."""
    from lab.netns_backend import NetnsLab
    from lab.topology import REFERENCE

    absent = tmp_path / "never"
    assert NetnsLab(REFERENCE, absent).down() == [] and not absent.exists()
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "lock").touch()
    assert NetnsLab(REFERENCE, stale).down() == [] and not stale.exists()


def test_a_capture_that_stops_after_down_does_not_bring_the_record_back(tmp_path: Path) -> None:
    """The bench's capture untracks its tcpdump when it stops: if another process took
    the lab down meanwhile, the record it loaded earlier must not be written back (the
    next test would find a lab up)."""
    from lab.netns_backend import NetnsLab
    from lab.topology import REFERENCE

    LabState("netns", "fast").save(tmp_path / "state.json")
    lab = NetnsLab(REFERENCE, tmp_path)
    capture = ProcessId(4321, 99)
    lab.track(capture)
    assert NetnsLab(REFERENCE, tmp_path).down() == []
    lab.untrack(capture)
    assert not (tmp_path / "state.json").exists()
