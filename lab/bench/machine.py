"""The machine a bench ran on: CPU model, cores, kernel (for BENCHMARKS.md)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from lab.bench.model import Machine


def cpu_model(cpuinfo: str) -> str:
    """The first ``model name`` of /proc/cpuinfo (pure, for the tests)."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("model name", "Model", "cpu model"):
            return value.strip()
    return "unknown CPU"


def this_machine() -> Machine:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    return Machine(
        cpu_model=cpu_model(info),
        cores=os.cpu_count() or 0,
        kernel=platform.release(),
        python=platform.python_version(),
    )


def revision(repo: Path) -> str:
    """The commit the bench ran (``git describe --always --dirty``), or "" outside git."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
