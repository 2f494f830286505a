"""Can a lab node's root lock memory, as root on a real host can?

Heartbeat's master control process calls glue's ``cl_make_realtime(-1, prio, 32,
memreserve)``: it tries to lift RLIMIT_MEMLOCK to unlimited and, when the limit
stays finite and the memory it means to lock ((32 + memreserve) KiB, memreserve
6500 by default) reaches half of it, logs ``ERROR: Cannot lock ourselves into
memory:  System limits on locked-in memory are too small.`` and runs unlocked.
Root on a real host holds CAP_SYS_RESOURCE, so the lift works and mlockall follows.

A node's processes get the limits and capabilities of the node's init:

* netns: this machine's root as hblab was started; the namespaces take nothing
  away, and Heartbeat lifts the limit itself. A machine whose root lacks
  CAP_SYS_RESOURCE under a finite hard limit (a sandbox, a container running hblab)
  cannot give it to any process: the line stays, and is the machine's, not the lab's.
* docker: the container's. Docker drops CAP_SYS_RESOURCE and CAP_IPC_LOCK and
  passes on the engine's limit, so the backend asks for what Docker documents for
  programs that lock memory (``--ulimit memlock=-1 --cap-add IPC_LOCK``) when the
  engine can grant it (:func:`grantable`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CAP_SYS_RESOURCE = 24  # linux/capability.h
HEARTBEAT_LOCK_KIB = 32 + 6500  # heartbeat.c's 32 KiB of stack + ha.cf's default memreserve


@dataclass(frozen=True, slots=True)
class MemlockLimits:
    """RLIMIT_MEMLOCK of one process (None: unlimited) and whether it may raise it."""

    soft: int | None
    hard: int | None
    may_raise: bool  # CAP_SYS_RESOURCE in its effective set

    def describe(self) -> str:
        hard = "unlimited" if self.hard is None else f"{self.hard // 1024} KiB"
        raise_ = "may raise it" if self.may_raise else "may not raise it (no CAP_SYS_RESOURCE)"
        return f"locked-memory limit {hard}, {raise_}"


def _limit(text: str) -> int | None:
    return None if text == "unlimited" else int(text)


def parse(limits_text: str, status_text: str) -> MemlockLimits:
    """From the texts of /proc/PID/limits and /proc/PID/status."""
    soft = hard = None
    for line in limits_text.splitlines():
        if line.startswith("Max locked memory"):
            soft_text, hard_text = line.split()[3:5]
            soft, hard = _limit(soft_text), _limit(hard_text)
    effective = 0
    for line in status_text.splitlines():
        if line.startswith("CapEff:"):
            effective = int(line.split()[1], 16)
    return MemlockLimits(soft, hard, bool(effective >> CAP_SYS_RESOURCE & 1))


def of_process(pid: int | str = "self") -> MemlockLimits:
    proc = Path("/proc") / str(pid)
    return parse((proc / "limits").read_text(), (proc / "status").read_text())


def grantable(limits: MemlockLimits) -> bool:
    """Can this process give a child an unlimited RLIMIT_MEMLOCK?"""
    return limits.hard is None or limits.may_raise


def heartbeat_can_lock(limits: MemlockLimits, lock_kib: int = HEARTBEAT_LOCK_KIB) -> bool:
    """Would Heartbeat, started with these limits, lock itself without the ERROR line?"""
    if grantable(limits):
        return True  # it lifts the limit to unlimited first
    assert limits.hard is not None
    return lock_kib * 1024 < limits.hard // 2
