"""A watcher thread that dies says so when it is stopped, instead of leaving a test
to judge the samples it took before it died (seen: AddrWatch during a BMC reset)."""

from __future__ import annotations

import threading

import pytest

from lab.errors import LabError
from lab.probes import AddrWatch


def test_a_watcher_that_died_raises_at_stop_and_keeps_what_it_saw() -> None:
    calls, died = [0], threading.Event()

    def holders() -> list[str]:
        calls[0] += 1
        if calls[0] == 3:
            died.set()
            raise FileNotFoundError(2, "No such file or directory")
        return ["master"]

    watch = AddrWatch(holders, interval=0.001, max_seconds=5.0)
    watch.start()
    assert died.wait(5.0)
    with pytest.raises(LabError, match="AddrWatch stopped early: FileNotFoundError"):
        watch.stop()
    assert [nodes for _, nodes in watch.samples] == [frozenset({"master"})] * 2
    watch.stop()  # said once; a second stop is quiet


def test_a_watcher_stopped_on_purpose_is_quiet() -> None:
    seen = threading.Event()

    def holders() -> list[str]:
        seen.set()
        return []

    watch = AddrWatch(holders, interval=0.001, max_seconds=5.0)
    watch.start()
    assert seen.wait(5.0)
    watch.stop()
    assert watch.samples
