"""ha.cf ``realtime`` and ``rtprio``: the daemon's loop runs under SCHED_RR, as
Heartbeat's processes do.

Heartbeat calls glue's ``cl_make_realtime(-1, rtprio, ...)`` in every process it
runs: SCHED_RR at ``rtprio``, or at the policy's lowest priority (1) when ha.cf has
none. A node whose CPUs are busy (a backup, a build, a flood of datagrams at port
694) still reads and sends its heartbeats on time, and its peer declares no false
death. hbnode asks the same for the thread that runs its loop, once the daemon is
set up (its resource worker thread, started before, stays at normal priority), with
SCHED_RESET_ON_FORK: every process it starts (resource scripts, nginx, respawned
clients) runs at normal priority, as Heartbeat's children do after
``cl_make_normaltime()``.

Where the kernel refuses (no CAP_SYS_NICE, or a cpu cgroup without a real-time
budget), the line is glue's, and the node runs on at normal priority.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

POLICY = os.SCHED_RR
RESET_ON_FORK = getattr(os, "SCHED_RESET_ON_FORK", 0x40000000)  # linux/sched.h


@dataclass(frozen=True)
class Outcome:
    """What was asked and what came of it, for the log."""

    level: str  # "debug", "info" or "error": glue is silent when it works
    line: str
    priority: int | None  # the SCHED_RR priority now held; None at normal priority


def priority_for(rtprio: int | None) -> int:
    """glue's choice: ha.cf's rtprio, clamped to the policy's range; its minimum if unset."""
    low, high = os.sched_get_priority_min(POLICY), os.sched_get_priority_max(POLICY)
    if rtprio is None or rtprio <= 0:
        return low
    return min(rtprio, high)


def make_realtime(
    enabled: bool,
    rtprio: int | None,
    setscheduler: Callable[[int, int, os.sched_param], None] = os.sched_setscheduler,
) -> Outcome:
    """Put the calling thread under SCHED_RR (``realtime on``), or say it was not asked."""
    pid = os.getpid()
    if not enabled:
        return Outcome("info", f"Request to set pid {pid} to realtime ignored.", None)
    priority = priority_for(rtprio)
    try:
        setscheduler(0, POLICY | RESET_ON_FORK, os.sched_param(priority))
    except OSError as exc:
        return Outcome("error", f"Unable to set scheduler parameters.: {exc.strerror}", None)
    return Outcome("debug", f"pid {pid} runs under SCHED_RR at priority {priority}.", priority)
