"""ha.cf ``watchdog``: fed once per keepalive, magic close on an orderly stop, never on a crash.

The schedule is stepped in virtual time. The device is a regular file or a FIFO
in tmp_path, so every byte the daemon writes can be read back; nothing sleeps.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from hbnode import daemon as daemon_module
from hbnode.hblog import HbLogger
from hbnode.watchdog import FEED, MAGIC_CLOSE, FeedSchedule, timeout_seconds
from hbnode.watchdog_io import WDIOC_SETTIMEOUT, Watchdog, WatchdogDevice


@pytest.mark.parametrize(
    ("deadtime_ms", "seconds"), [(30000, 31), (1500, 2), (1000, 2), (990, 1), (10, 1)]
)
def test_timeout_is_deadtime_plus_10ms_rounded_up(deadtime_ms: int, seconds: int) -> None:
    # heartbeat.c hb_init_watchdog_interval: (deadtime_ms + 10 + 999) / 1000
    assert timeout_seconds(deadtime_ms) == seconds


def test_wdioc_settimeout_is_linuxs() -> None:
    assert WDIOC_SETTIMEOUT == 0xC0045706  # _IOWR('W', 6, int)


def test_one_feed_per_keepalive_and_none_after_a_stall_burst() -> None:
    schedule = FeedSchedule(keepalive=1.0)
    assert schedule.get_timer() is None and not schedule.due(0.0)
    schedule.start(10.0)
    fed = [now for now in [10.0 + step * 0.25 for step in range(17)] if schedule.due(now)]
    assert fed == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert schedule.get_timer() == 15.0
    # The loop stalls for 4.3 s: one feed when it turns again, not five.
    assert schedule.due(19.3) and not schedule.due(19.3)
    assert schedule.get_timer() == pytest.approx(20.3)
    schedule.stop()
    assert schedule.get_timer() is None and not schedule.due(100.0)
    assert schedule.feeds == 6


def logger() -> tuple[HbLogger, io.StringIO]:
    out = io.StringIO()
    return HbLogger(echo=out), out


def test_open_feed_and_magic_close_on_a_plain_file(tmp_path: Path) -> None:
    path = tmp_path / "watchdog"
    path.write_bytes(b"")
    log, out = logger()
    device = WatchdogDevice(str(path), log)
    assert device.open(timeout_s=31) and device.is_open
    device.feed()
    device.magic_close()
    assert not device.is_open
    assert path.read_bytes() == FEED + FEED + MAGIC_CLOSE
    lines = out.getvalue()
    assert f"notice: Using watchdog device: {path}" in lines
    # A plain file has no timer to set: logged as Heartbeat's cl_perror does, and run on.
    assert (
        "ERROR: WDIOC_SETTIMEOUT: Failed to set watchdog timer to 31 seconds.:"
        " Inappropriate ioctl for device" in lines
    )


def test_the_timeout_is_set_with_the_ioctl(tmp_path: Path) -> None:
    path = tmp_path / "watchdog"
    path.write_bytes(b"")
    calls: list[tuple[int, bytes]] = []

    def ioctl(fd: int, request: int, arg: bytes) -> bytes:
        calls.append((request, arg))
        return arg

    log, out = logger()
    WatchdogDevice(str(path), log, ioctl=ioctl).open(timeout_s=2)
    assert calls == [(WDIOC_SETTIMEOUT, (2).to_bytes(4, "little"))]
    assert "WDIOC_SETTIMEOUT" not in out.getvalue()


def test_a_device_that_cannot_be_opened_is_logged_and_the_node_runs_on(tmp_path: Path) -> None:
    log, out = logger()
    watchdog = Watchdog(WatchdogDevice(str(tmp_path / "missing"), log), 1.0, 30000)
    watchdog.open(0.0)
    assert watchdog.get_timer() is None  # nothing to feed, nothing to wake up for
    watchdog.poll(5.0)
    watchdog.close(orderly=True)
    assert (
        f"ERROR: Cannot open watchdog device: {tmp_path}/missing (No such file or directory)"
        in out.getvalue()
    )


def fifo_with_reader(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "watchdog"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # the lab's side of the device
    return path, reader


def drain(reader: int) -> bytes:
    try:
        return os.read(reader, 65536)
    except BlockingIOError:
        return b""


def test_per_keepalive_writes_then_magic_close_on_a_fifo(tmp_path: Path) -> None:
    path, reader = fifo_with_reader(tmp_path)
    try:
        log, _ = logger()
        watchdog = Watchdog(WatchdogDevice(str(path), log), keepalive=0.25, deadtime_ms=1500)
        assert watchdog.timeout_s == 2
        watchdog.open(100.0)
        assert drain(reader) == FEED  # hb_init_watchdog feeds at once
        for step in range(1, 41):  # 10 s of daemon loop turns, 4 a keepalive
            now = 100.0 + step * 0.0625
            watchdog.poll(now)
            if step % 4 == 0:
                assert drain(reader) == FEED, now
            else:
                assert drain(reader) == b"", now
        watchdog.close(orderly=True)
        assert drain(reader) == MAGIC_CLOSE
        assert watchdog.get_timer() is None
    finally:
        os.close(reader)


def test_a_crash_closes_without_the_magic_character(tmp_path: Path) -> None:
    path, reader = fifo_with_reader(tmp_path)
    try:
        log, _ = logger()
        watchdog = Watchdog(WatchdogDevice(str(path), log), keepalive=1.0, deadtime_ms=30000)
        watchdog.open(0.0)
        watchdog.poll(1.0)
        watchdog.close(orderly=False)
        assert drain(reader) == FEED + FEED  # and no 'V': the device keeps counting
        assert not watchdog.device.is_open
    finally:
        os.close(reader)


def test_a_fifo_nobody_reads_fails_at_once_instead_of_hanging(tmp_path: Path) -> None:
    path = tmp_path / "watchdog"
    os.mkfifo(path)
    log, out = logger()
    assert not WatchdogDevice(str(path), log).open(timeout_s=31)
    assert f"Cannot open watchdog device: {path} (No such device or address)" in out.getvalue()


def test_a_failed_write_closes_the_device_as_heartbeat_does(tmp_path: Path) -> None:
    path, reader = fifo_with_reader(tmp_path)
    log, out = logger()
    watchdog = Watchdog(WatchdogDevice(str(path), log), keepalive=1.0, deadtime_ms=30000)
    watchdog.open(0.0)
    os.close(reader)  # the other end goes away: the next write fails (EPIPE)
    watchdog.poll(1.0)
    assert not watchdog.device.is_open and watchdog.get_timer() is None
    lines = out.getvalue()
    assert f"ERROR: Watchdog write failure: closing {path}!: Broken pipe" in lines
    assert "ERROR: Watchdog write magic character failure" in lines


def test_the_device_is_not_inherited_by_children(tmp_path: Path) -> None:
    path = tmp_path / "watchdog"
    path.write_bytes(b"")
    log, _ = logger()
    device = WatchdogDevice(str(path), log, ioctl=lambda fd, request, arg: arg)
    device.open(timeout_s=31)
    fd = device._fd
    assert fd is not None and not os.get_inheritable(fd)
    assert stat.S_ISREG(os.fstat(fd).st_mode)
    device.magic_close()


class FakeDaemon:
    """Stands in for hbnode.daemon.Daemon: records how _serve closes it."""

    closes: ClassVar[list[bool]] = []
    run_raises: ClassVar[BaseException | None] = None
    open_raises: ClassVar[OSError | None] = None

    def __init__(self, config: Any, logger: HbLogger, notifier: Any = None) -> None:
        pass

    def open(self) -> None:
        if FakeDaemon.open_raises is not None:
            raise FakeDaemon.open_raises

    def run(self) -> int:
        if FakeDaemon.run_raises is not None:
            raise FakeDaemon.run_raises
        return 0

    def close(self, orderly: bool = True) -> None:
        FakeDaemon.closes.append(orderly)


class FakeConfig:
    warnings: ClassVar[list[str]] = []
    # realtime off: _serve must not put the test runner's thread under SCHED_RR.
    hacf = SimpleNamespace(env={"HA_WATCHDOG_TEST": "1"}, realtime=False, rtprio=None)


@pytest.fixture
def fake_daemon(monkeypatch: pytest.MonkeyPatch) -> type[FakeDaemon]:
    FakeDaemon.closes = []
    FakeDaemon.run_raises = None
    FakeDaemon.open_raises = None
    monkeypatch.delenv("HA_WATCHDOG_TEST", raising=False)  # _serve sets it: undone after
    monkeypatch.setattr(daemon_module, "Daemon", FakeDaemon)
    monkeypatch.setattr(daemon_module, "make_logger", lambda config, foreground, **_: logger()[0])
    return FakeDaemon


def test_an_orderly_stop_is_an_orderly_close(fake_daemon: type[FakeDaemon]) -> None:
    assert daemon_module._serve(FakeConfig(), foreground=True) == 0  # type: ignore[arg-type]
    assert fake_daemon.closes == [True]
    assert os.environ["HA_WATCHDOG_TEST"] == "1"  # ha.cf env, for respawned clients


def test_a_crash_in_the_loop_is_not_an_orderly_close(
    fake_daemon: type[FakeDaemon], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, out = logger()
    monkeypatch.setattr(daemon_module, "make_logger", lambda config, foreground, **_: log)
    fake_daemon.run_raises = RuntimeError("bug")
    with pytest.raises(RuntimeError):
        daemon_module._serve(FakeConfig(), foreground=True)  # type: ignore[arg-type]
    assert fake_daemon.closes == [False]
    # Said in the log, with where it happened: a detached daemon has no stderr.
    lines = out.getvalue().splitlines()
    assert any("CRIT: hbnode crashed: RuntimeError: bug" in line for line in lines), lines
    assert any("ERROR: crash: Traceback (most recent call last):" in line for line in lines)
    assert any("ERROR: crash:" in line and "in run" in line for line in lines), lines


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_ctrl_c_or_an_exit_is_no_crash_but_no_orderly_close(
    fake_daemon: type[FakeDaemon], monkeypatch: pytest.MonkeyPatch, stop: type[BaseException]
) -> None:
    log, out = logger()
    monkeypatch.setattr(daemon_module, "make_logger", lambda config, foreground, **_: log)
    fake_daemon.run_raises = stop()
    with pytest.raises(stop):
        daemon_module._serve(FakeConfig(), foreground=True)  # type: ignore[arg-type]
    assert fake_daemon.closes == [False]  # the loop did not hand over: the watchdog stays
    text = out.getvalue()
    assert f"WARN: hbnode stopped without an orderly shutdown: {stop.__name__}" in text
    assert "crash" not in text


def test_a_failed_start_is_heartbeats_cleanexit(fake_daemon: type[FakeDaemon]) -> None:
    fake_daemon.open_raises = OSError("port in use")
    assert daemon_module._serve(FakeConfig(), foreground=True) == 1  # type: ignore[arg-type]
    assert fake_daemon.closes == [True]
