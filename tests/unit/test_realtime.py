"""ha.cf realtime/rtprio: SCHED_RR for the loop's thread, normal priority for all it starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hbnode.realtime import POLICY, RESET_ON_FORK, make_realtime, priority_for


def test_priority_is_rtprio_clamped_or_the_policys_lowest() -> None:
    low, high = os.sched_get_priority_min(POLICY), os.sched_get_priority_max(POLICY)
    assert priority_for(None) == low
    assert priority_for(5) == 5
    assert priority_for(high + 10) == high


def test_realtime_off_asks_nothing_and_says_so_as_glue_does() -> None:
    def never(*_args: object) -> None:
        raise AssertionError("realtime off must not touch the scheduler")

    got = make_realtime(False, None, never)
    assert (got.level, got.priority) == ("info", None)
    assert got.line == f"Request to set pid {os.getpid()} to realtime ignored."


def test_a_refusal_is_glues_error_line_and_the_node_runs_on() -> None:
    def refuse(*_args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    got = make_realtime(True, None, refuse)
    assert got.level == "error"
    assert got.line == "Unable to set scheduler parameters.: Operation not permitted"
    assert got.priority is None


def test_asks_for_sched_rr_with_reset_on_fork_at_rtprio() -> None:
    asked: list[tuple[int, int, int]] = []

    def record(pid: int, policy: int, param: os.sched_param) -> None:
        asked.append((pid, policy, param.sched_priority))

    got = make_realtime(True, 7, record)
    assert asked == [(0, POLICY | RESET_ON_FORK, 7)]
    assert (got.level, got.priority) == ("debug", 7)


CHILD = """
import os, subprocess, threading
from hbnode.realtime import make_realtime
got = make_realtime(True, 3)
seen = {}
t = threading.Thread(target=lambda: seen.update(thread=os.sched_getscheduler(0)))
t.start(); t.join()
child = subprocess.run(["python3", "-c", "import os; print(os.sched_getscheduler(0))"],
                       capture_output=True, text=True, check=True).stdout.strip()
print(got.priority, os.sched_getscheduler(0), os.sched_getparam(0).sched_priority,
      seen["thread"], child)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_RR needs CAP_SYS_NICE")
def test_the_kernel_grants_it_and_threads_and_children_run_at_normal_priority() -> None:
    # In a child interpreter: the test runner itself must stay at normal priority.
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    assert out == ["3", str(os.SCHED_RR | RESET_ON_FORK), "3", str(os.SCHED_OTHER), "0"]
