"""Daemon faults (hbnode on both nodes): kill -9 of the holder's daemon, then restart;
and a respawned client that exits at once.

After a kill -9 the VIP and nginx stay on the machine. The restarted daemon probes
its groups at start-up: restarted before the peer's deadtime it adopts them (nginx
keeps running, nobody else ever holds the VIP); restarted after the peer took over,
it stops its copy (or gets the group back by failback), so two holders never outlast
the restart by more than deadtime.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from .badnews import ExpectedLog
from .helpers import Cluster, holds_for, wait_until

SPEC = "hbnode"
KEY = "192.168.0.38/24/eth0:0"


def _status(c: Cluster, node: str) -> dict[str, Any]:
    done = c.lab.run(node, ["hbnode", "status", "--json"], timeout=10)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _nginx_pid(c: Cluster, node: str) -> str | None:
    path = c.lab.node_file(node, "/run/nginx.pid")
    return path.read_text().strip() if path.exists() else None


def _log_since(c: Cluster, node: str, offset: int) -> str:
    return c.log(node)[offset:]


def test_kill9_then_restart_before_deadtime_adopts_the_vip_and_nginx(
    lab_factory: Callable[..., Cluster], measure: Callable[..., None]
) -> None:
    # A deadtime long enough that the restart surely beats it on a loaded CI machine.
    c = lab_factory(SPEC, {"deadtime": "4", "initdead": "8"})
    c.startup("master")
    nginx = _nginx_pid(c, "master")
    assert nginx
    offsets = {n: len(c.log(n)) for n in ("master", "slave")}
    arp, addrs = c.arp_watch(), c.addr_watch()
    arp.start()
    addrs.start()
    try:
        killed = time.monotonic()
        c.lab.crash("master")
        assert c.holders() == ["master"]  # the VIP stays behind
        c.lab.service("master", "heartbeat", "start")
        restarted = time.monotonic() - killed
        wait_until(
            lambda: _status(c, "master")["resources"][KEY]["state"] == "held",
            15,
            "master holds its group again",
        )
        wait_until(
            lambda: "status active" in _log_since(c, "slave", offsets["slave"]),
            15,
            "slave sees the restarted master active",
        )
        c.wait_page("master", 5)
    finally:
        arp.stop()
        addrs.stop()
    master_log = _log_since(c, "master", offsets["master"])
    assert f"Resource group {KEY} is running at start-up" in master_log
    assert "Releasing resource group" not in master_log
    assert "Taking over resource group" not in _log_since(c, "slave", offsets["slave"])
    assert "Heartbeat restart on node master" in _log_since(c, "slave", offsets["slave"])
    assert _nginx_pid(c, "master") == nginx, "nginx was restarted instead of adopted"
    # Never released: master alone has the VIP at every netlink sample, and no ARP gap
    # longer than a few samples (a reply late on a loaded machine is not a release).
    assert all(holders == {"master"} for _, holders in addrs.samples), addrs.samples
    assert arp.windows().two_holders == 0.0
    assert arp.windows().longest_no_holder <= 0.25
    measure("kill -9 → daemon restarted (s)", restarted)


@pytest.mark.parametrize("auto_failback", ["on", "off"])
def test_kill9_then_restart_after_takeover_reconciles_within_deadtime(
    lab_factory: Callable[..., Cluster], measure: Callable[..., None], auto_failback: str
) -> None:
    c = lab_factory(SPEC, {"auto_failback": auto_failback})
    c.startup("master")
    deadtime = c.deadtime
    offset = len(c.log("master"))
    c.lab.crash("master")
    # The slave takes over after deadtime; the VIP left on master makes two holders.
    wait_until(c.held_by("master", "slave"), deadtime + 10, "slave takes over beside the copy")
    arp = c.arp_watch()
    arp.start()
    try:
        asked = time.monotonic()
        c.lab.service("master", "heartbeat", "start")
        # The bound: no second holder for longer than deadtime after the
        # restart, counted from when the init script returns with the daemon running,
        # as the wait below always was. Counted from the call, the bound also took in
        # the script's own start-up, which a loaded machine stretched past deadtime
        # (CI of 7864607, 10 workers); that time is recorded, not hidden.
        started = time.monotonic()
        wait_until(lambda: len(c.holders()) == 1, deadtime, "one holder again")
        one = time.monotonic() - started
        expected = "master" if auto_failback == "on" else "slave"
        waiting_from = time.monotonic() - started
        settled = waiting_from + c.settles_on(expected, 15)
    finally:
        arp.stop()
    log = _log_since(c, "master", offset)
    assert f"Resource group {KEY} is running at start-up" in log
    assert f"Releasing resource group {KEY}: running here but not ours to hold" in log
    if auto_failback == "off":
        assert _nginx_pid(c, "master") is None, "nginx left running on master"
        assert _status(c, "master")["resources"][KEY]["state"] == "released"
    # Two MACs answer only until the restarted master has let its copy go.
    after = [s for s in arp.samples if s.sent_at > started + deadtime]
    two = [round(s.sent_at - started, 3) for s in after if len(s.macs) > 1]
    assert not two, (
        f"two MACs {two} s after the daemon started (its init script took "
        f"{started - asked:.3f} s; deadtime {deadtime} s)"
    )
    measure(f"service heartbeat start, auto_failback {auto_failback} (s)", started - asked)
    measure(f"service start → one holder, auto_failback {auto_failback} (s)", one)
    measure(f"service start → {expected} alone (s)", settled)
    measure(f"two MACs after restart, auto_failback {auto_failback} (s)", arp.windows().two_holders)


def test_respawn_of_a_client_that_exits_at_once_is_rate_limited(
    lab_factory: Callable[..., Cluster], measure: Callable[..., None], expect_log: ExpectedLog
) -> None:
    expect_log(r"ERROR: .*respawning too fast", "the respawned client exits at once: rate-limited")
    c = lab_factory(SPEC, {"respawn": "hacluster /bin/false"})
    too_fast = "respawning too fast: waiting 30 s"
    waited = wait_until(lambda: too_fast in c.log("master"), 20, "the rate limit is reported")
    started = re.findall(r"Starting /bin/false as uid", c.log("master"))
    assert len(started) == 5, c.log("master")  # MAX_SHORT_RUNS, then the back-off
    exits = re.findall(r"Managed /bin/false process exited with return code 1", c.log("master"))
    assert len(exits) == 5
    assert re.search(r"ERROR: Managed /bin/false process .*" + too_fast, c.log("master"))
    # No further spawn during the back-off (polled, not slept: any spawn fails it).
    holds_for(
        lambda: len(re.findall("Starting /bin/false", c.log("master"))) == 5,
        3.0,
        "no spawn while backing off",
    )
    [client] = _status(c, "master")["respawn"]
    assert client["program"] == "/bin/false" and client["restarts"] == 5
    assert client["pid"] is None and client["given_up"] is False
    assert client["backoff_s"] == 30.0
    # The cluster itself is unaffected by the dying client.
    c.startup("master")
    measure("respawn: 5 spawns, then back-off reported after (s)", waited)


# Slow enough that a 2 s stall kills no one: what is under test is what the stalled
# daemon says about itself, not what its peer makes of the silence.
STALL_TIMERS = {"keepalive": "250ms", "warntime": "3", "deadtime": "6", "initdead": "6"}
STALL_S = 2.0


def test_a_daemon_that_stood_still_says_how_late_it_ran(
    lab_factory: Callable[..., Cluster], measure: Callable[..., None]
) -> None:
    c = lab_factory(SPEC, STALL_TIMERS)
    c.startup("master")
    daemon = c.lab.daemon_pid("slave")
    assert daemon is not None
    assert _status(c, "slave")["loop"] == {"late": 0, "worst_late_s": 0.0}
    os.kill(daemon, signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        wait_until(lambda: time.monotonic() - stopped >= STALL_S, STALL_S + 1, "the stall")
    finally:
        os.kill(daemon, signal.SIGCONT)
    wait_until(lambda: "Main loop ran" in c.log("slave"), 10.0, "slave says it ran late")
    line = next(x for x in c.log("slave").splitlines() if "Main loop ran" in x)
    late = float(re.search(r"ran ([0-9.]+) s late", line).group(1))  # type: ignore[union-attr]
    # At least the stall, less the keepalive it may have begun into; a busy machine
    # may add its own delay before the daemon runs again.
    assert "WARN:" in line and late >= STALL_S - 0.3, line
    loop = _status(c, "slave")["loop"]
    # The line rounds to 0.01 s, the counter to 0.001 s.
    assert loop["late"] >= 1 and loop["worst_late_s"] >= late - 0.01
    measure("stalled daemon: lateness said (s)", late)
    # Nobody died of it, and master kept the group.
    assert "is dead" not in c.log("master") + c.log("slave")
    assert c.holders() == ["master"]
