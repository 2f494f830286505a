"""ha.cf's ``watchdog /dev/watchdog``: the lab's device resets a node whose daemon stalls.

Each node's device is served by the lab (lab.watchdog_fuse): the daemon sets its
timeout (deadtime + 10 ms rounded up: 2 s in the fast profile) and feeds it every
keepalive. A ``kill -STOP`` of the holder's daemon stops the feeds: the device runs
out and the lab power-cycles the node; the peer holds the VIP, and once the node has
booted (heartbeat starts at boot) auto_failback gives the VIP back. An orderly stop
closes the device with 'V' and does not reset the node.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from hbnode.core.timers import STARTUP_DT_EXTRA_MS, STARTUP_DT_PERIOD
from lab.errors import LabError
from lab.probes import AddrWatch
from lab.proc import start_ticks
from lab.watchdogs import LOG_NAME

from .helpers import Cluster, holds_for, wait_until

WATCHDOG = {"watchdog": "/dev/watchdog"}
STARTUP_TIMEOUT = 60.0
RESET_MARGIN = 5.0  # a feed is a keepalive late at most; the reset itself is under a second
FAILBACK_TIMEOUT = 60.0


def _timeout(cluster: Cluster) -> int:
    """The device's timeout as both daemons set it (hb_init_watchdog_interval)."""
    return math.ceil(cluster.deadtime + 0.010)


def _watchdog_log(cluster: Cluster, node: str) -> str:
    path = cluster.lab.log_dir(node).parent / LOG_NAME
    return path.read_text() if path.exists() else ""


def _armed(cluster: Cluster, node: str, times: int = 1) -> Callable[[], bool]:
    want = f"timeout set to {_timeout(cluster)} s"
    return lambda: _watchdog_log(cluster, node).count(want) >= times


def _logged_at(log: str, text: str) -> datetime:
    """When the watchdog logged ``text`` (its lines start with a millisecond stamp)."""
    line = next(line for line in log.splitlines() if text in line)
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")


def _daemon_age(cluster: Cluster, node: str) -> float:
    """Seconds since the node's daemon started (its /proc start time)."""
    pid = cluster.lab.daemon_pid(node)
    ticks = start_ticks(pid) if pid is not None else None
    if ticks is None:
        return 0.0
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


def _past_startup_deadtime(cluster: Cluster, node: str) -> None:
    """For its first seconds a node announces deadtime + 2 s (Heartbeat's start-up
    allowance, which the watchdog would beat): stall it only once its peer counts
    its plain deadtime again."""
    settled = STARTUP_DT_PERIOD + 2 * cluster.timers["keepalive"]
    wait_until(
        lambda: _daemon_age(cluster, node) >= settled,
        settled + STARTUP_DT_EXTRA_MS / 1000 + 10.0,
        f"{node}'s daemon past its start-up deadtime",
    )


def _safe_holders(cluster: Cluster) -> Callable[[], list[str]]:
    def holders() -> list[str]:
        try:
            return cluster.holders()
        except (LabError, OSError):  # a node going off under the sampler
            return ["?"]

    return holders


def test_a_stalled_daemon_is_reset_by_its_watchdog(
    lab_factory: Callable[..., Cluster], impl_spec: str, measure: Callable[..., None]
) -> None:
    cluster = lab_factory(impl_spec, WATCHDOG)
    cluster.startup("master", STARTUP_TIMEOUT)
    wait_until(_armed(cluster, "master"), 10.0, "master's daemon opened and set its watchdog")
    _past_startup_deadtime(cluster, "master")
    lab, first_boot = cluster.lab, cluster.lab.init_pid("master")
    daemon = lab.daemon_pid("master")
    assert first_boot is not None and daemon is not None
    with AddrWatch(_safe_holders(cluster)) as watch:
        stopped, stopped_wall = time.monotonic(), datetime.now()
        os.kill(daemon, signal.SIGSTOP)  # the daemon stalls: no more feeds
        reset = wait_until(
            lambda: lab.init_pid("master") not in (None, first_boot),
            _timeout(cluster) + RESET_MARGIN,
            "master reset by its watchdog (a new boot)",
        )
        failback = wait_until(
            cluster.held_by("master"), FAILBACK_TIMEOUT, "master holds the VIP again"
        )
        holds_for(cluster.held_by("master"), cluster.deadtime, "master keeps the VIP")
    cluster.wait_page("master", 10.0)
    slave_alone = [at - stopped for at, nodes in watch.samples if nodes == {"slave"}]
    assert slave_alone, f"slave never held the VIP alone: {watch.samples}"
    assert reset >= _timeout(cluster) - 0.1, "reset before the device's timeout"
    log = _watchdog_log(cluster, "master")
    assert "after its deadline): resetting the node" in log
    wait_until(_armed(cluster, "master", 2), 10.0, "the new boot's daemon opened the watchdog")
    fired = _logged_at(log, "not fed in time") - stopped_wall
    assert fired.total_seconds() >= _timeout(cluster) - cluster.timers["keepalive"] - 0.1
    measure("watchdog_fired_s", fired.total_seconds(), impl=impl_spec, timeout=_timeout(cluster))
    measure("watchdog_reset_s", reset, impl=impl_spec)
    measure("watchdog_slave_alone_s", slave_alone[0], impl=impl_spec)
    measure("watchdog_failback_s", failback + reset, impl=impl_spec)


def test_an_orderly_stop_does_not_reset_the_node(
    lab_factory: Callable[..., Cluster], impl_spec: str
) -> None:
    cluster = lab_factory(impl_spec, WATCHDOG)
    cluster.startup("master", STARTUP_TIMEOUT)
    wait_until(_armed(cluster, "master"), 10.0, "master's daemon opened and set its watchdog")
    boot = cluster.lab.init_pid("master")
    cluster.lab.service("master", "heartbeat", "stop")
    wait_until(
        lambda: "closed with 'V': stopped" in _watchdog_log(cluster, "master"),
        5.0,
        "the magic close stopped the device",
    )
    holds_for(
        lambda: cluster.lab.init_pid("master") == boot,
        _timeout(cluster) + 1.0,
        "master is not reset after an orderly stop",
    )
    assert "resetting" not in _watchdog_log(cluster, "master")


# Answers of the device itself, asked from inside a node as a daemon would ask.
PROBE = r"""
import errno, fcntl, os, struct
def ioc(d, nr, size): return (d << 30) | (size << 16) | (ord("W") << 8) | nr
fd = os.open("/dev/watchdog", os.O_WRONLY)
try:
    os.open("/dev/watchdog", os.O_WRONLY)
    print("second-open ok")
except OSError as exc:
    print("second-open", errno.errorcode[exc.errno])
info = fcntl.ioctl(fd, ioc(2, 0, 40), bytes(40))
options, _, identity = struct.unpack("II32s", info)
print("support", hex(options), identity.rstrip(b"\0").decode())
print("settimeout", struct.unpack("i", fcntl.ioctl(fd, ioc(3, 6, 4), struct.pack("i", 7)))[0])
print("gettimeout", struct.unpack("i", fcntl.ioctl(fd, ioc(2, 7, 4), bytes(4)))[0])
try:
    fcntl.ioctl(fd, ioc(3, 6, 4), struct.pack("i", 0))
except OSError as exc:
    print("settimeout0", errno.errorcode[exc.errno])
os.write(fd, b"V")
os.close(fd)
print("closed")
"""


def test_the_device_answers_as_a_watchdog_does(lab_factory: Callable[..., Cluster]) -> None:
    cluster = lab_factory("hbnode", WATCHDOG, start=False)
    done = cluster.lab.run("master", ["python3", "-c", PROBE], timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "second-open EBUSY",
        "support 0x8180 hblab watchdog",
        "settimeout 7",
        "gettimeout 7",
        "settimeout0 EINVAL",
        "closed",
    ]
    wait_until(
        lambda: "closed with 'V': stopped" in _watchdog_log(cluster, "master"),
        5.0,
        "the magic close stopped the device",
    )
    mode = cluster.lab.run("master", ["stat", "-c", "%a %U", "/dev/watchdog"], check=True)
    assert mode.stdout.split() == ["600", "root"]
