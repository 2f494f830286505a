"""Resource faults (hbnode on both nodes): each is reported, the group is handled as
Heartbeat handles it (or as docs/differences.md says), and nothing is left half-started.

* a start that fails during a takeover: the scenario file
  tests/scenarios/failed-start.yaml (the group is released and given back);
* the VIP already on the interface of the node taking over: start succeeds, the
  address is not added twice, gratuitous ARP still goes out, release removes it;
* the interface named in haresources is missing: IPaddr's start fails ("Interface
  eth2 does not exist"), the whole group is released right to left (a VIP that did
  go up comes off again, nginx never starts), as ResourceManager does;
* a stop that hangs: the script is killed after ``hbnode_resource_timeout``, the
  failure is CRIT-logged, and the group does not move to the peer while the service
  still runs here (Heartbeat would reboot the node; see docs/differences.md). Once
  the stop works again, the hand-over completes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lab.topology import REFERENCE

from .badnews import ExpectedLog
from .helpers import Cluster, holds_for, wait_until

SPEC = "hbnode"
VIP = str(REFERENCE.vip.ip)
HANDOVER_TIMEOUT = 20.0
HANG_TIMEOUT_S = 2  # ha.cf hbnode_resource_timeout for the hanging stop
HANG_MARKER = "sleep 4242"  # the hanging stop's process, to find (and miss) it in ps
HANGING_NGINX = f"""#!/bin/sh
# hblab test: nginx whose stop hangs for ever (tests/integration/test_resource_faults.py)
case "$1" in
  stop) exec {HANG_MARKER}0000 ;;
  *) exec /etc/init.d/nginx "$@" ;;
esac
"""
WORKING_NGINX = """#!/bin/sh
# hblab test: the same wrapper, repaired
exec /etc/init.d/nginx "$@"
"""
MISSING_NIC_GROUP = "master 192.168.0.38/24/eth0:0 192.168.0.40/24/eth2 nginx\n"
GIVING_UP = "Giving up resources due to failure of 192.168.0.40/24/eth2"


def _nginx_running(c: Cluster, node: str) -> bool:
    return "nginx: master process" in _ps(c, node)


def _ps(c: Cluster, node: str) -> str:
    return c.lab.run(node, ["ps", "-eo", "args"], timeout=10).stdout


def _vip_count(c: Cluster, node: str) -> int:
    """How many times the VIP is on eth0 of ``node`` (``ip -4 -o addr show``)."""
    shown = c.lab.run(node, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"], timeout=10)
    return sum(f" {VIP}/" in line for line in shown.stdout.splitlines())


def _events(c: Cluster, node: str) -> list[dict[str, Any]]:
    text = c.log(node, "ha-events.jsonl")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _install(c: Cluster, node: str, path: str, text: str, mode: int = 0o755) -> None:
    target = c.lab.node_file(node, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)


def _start(c: Cluster) -> None:
    for node in ("master", "slave"):
        done = c.lab.service(node, "heartbeat", "start")
        assert done.returncode == 0, done.stdout + done.stderr


def test_vip_already_on_the_taking_node(
    lab_factory: Callable[..., Cluster], measure: Callable[..., None]
) -> None:
    c = lab_factory(SPEC, {"auto_failback": "off"})
    c.startup("master")
    # An admin (or a daemon killed earlier) left the VIP on slave's eth0.
    added = c.lab.run("slave", ["ip", "addr", "add", f"{VIP}/24", "dev", "eth0"], timeout=10)
    assert added.returncode == 0, added.stderr
    offset = len(_events(c, "slave"))
    done = c.tool("master", "hb_standby", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    took = c.wait_holder("slave", HANDOVER_TIMEOUT)
    c.wait_page("slave", 10.0)
    # nginx answers as soon as it has started; the acquire's last steps reach the event
    # log through the daemon's loop a moment later: wait for the end of the acquire.
    wait_until(
        lambda: any(e["step"] == "group acquire done" for e in _events(c, "slave")[offset:]),
        10.0,
        "slave's event log records the end of its acquire",
    )
    steps = [e for e in _events(c, "slave")[offset:] if e.get("group")]
    names = [e["step"] for e in steps]
    assert "VIP already present" in names, names
    assert "VIP added" not in names, names
    garp = [e for e in steps if e["step"] == "GARP sent"]
    assert garp and garp[0]["ifname"] == "eth0", steps
    assert _vip_count(c, "slave") == 1
    measure("takeover_with_vip_present_s", round(took, 3))
    # Release removes it, although hbnode did not add it (IPaddr's stop does the same).
    done = c.tool("master", "hb_takeover", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    c.wait_holder("master", HANDOVER_TIMEOUT)
    assert _vip_count(c, "slave") == 0
    assert not _nginx_running(c, "slave")


def test_missing_interface_releases_the_whole_group(
    lab_factory: Callable[..., Cluster], measure: Callable[..., None], expect_log: ExpectedLog
) -> None:
    why = "haresources names eth2, which no node has: every start fails"
    expect_log(r"ERROR: (Interface eth2 does not exist|acquire of .* failed)", why)
    expect_log(r"CRIT: Giving up resources due to failure of", why)
    # The daemons start one after the other: a busy machine can fail master's start
    # before slave is up, and master then says so (slave gets the group on joining).
    expect_log(r"ERROR: Resource group .* failed and nobody can take it over", why, ["master"])
    c = lab_factory(SPEC, {"auto_failback": "on"}, start=False)
    for node in ("master", "slave"):  # haresources is the same file on every node
        _install(c, node, "/etc/ha.d/haresources", MISSING_NIC_GROUP, 0o644)
    _start(c)
    wait_until(
        lambda: "Interface eth2 does not exist (for 192.168.0.40)" in c.log("master"),
        30.0,
        "master reports the missing interface",
    )
    # As Heartbeat: the group is given to the peer, which fails the same way and gives
    # it back; after that each node waits 30 s before it tries again.
    wait_until(
        lambda: c.log("master").count(GIVING_UP) >= 2 and GIVING_UP in c.log("slave"),
        20.0,
        "both nodes tried, failed and gave the group up",
    )
    # Nothing half-started: the first VIP came off again and nginx never ran.
    wait_until(lambda: c.holders() == [], 10.0, "no node holds the VIP")
    holds_for(
        lambda: c.holders() == [] and not any(_nginx_running(c, n) for n in ("master", "slave")),
        3.0,
        "no VIP and no nginx anywhere",
    )
    steps = [e["step"] for e in _events(c, "master")]
    assert "VIP added" in steps and "VIP removed" in steps, steps
    measure("missing_nic_failed_start_logged", 1)


def test_hung_stop_is_killed_and_the_group_waits_for_it(
    lab_factory: Callable[..., Cluster], measure: Callable[..., None], expect_log: ExpectedLog
) -> None:
    why = "master's nginx stop hangs until the script is repaired"
    expect_log(r"ERROR: .*(stop timed out|release of .* failed|Stop of resource group)", why)
    expect_log(r"CRIT: Resource STOP failure\. Reboot required!", why, ["master"])
    c = lab_factory(
        SPEC, {"auto_failback": "off", "hbnode_resource_timeout": str(HANG_TIMEOUT_S)}, start=False
    )
    _install(c, "master", "/etc/ha.d/resource.d/nginx", HANGING_NGINX)
    _start(c)
    c.startup("master")
    done = c.tool("master", "hb_standby", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    killed = wait_until(
        lambda: f"timed out after {HANG_TIMEOUT_S} s (killed)" in c.log("master"),
        HANG_TIMEOUT_S + 10.0,
        "master reports the hung stop",
    )
    wait_until(
        lambda: "Resource STOP failure" in c.log("master"), 10.0, "master CRIT-logs the failure"
    )
    # nginx still runs on master: the peer must not start a second copy meanwhile,
    # and heartbeats go on (the stop runs off the heartbeat loop).
    holds_for(
        lambda: "slave" not in c.holders() and _nginx_running(c, "master"),
        2 * HANG_TIMEOUT_S + 2.0,
        "the group stays off slave while master's nginx cannot be stopped",
    )
    assert not _nginx_running(c, "slave")
    assert c.nodestatus("slave", "master") == "active"
    # The admin repairs the script: the next retry stops nginx and slave takes over.
    _install(c, "master", "/etc/ha.d/resource.d/nginx", WORKING_NGINX)
    took = c.wait_holder("slave", 3 * HANG_TIMEOUT_S + HANDOVER_TIMEOUT)
    c.wait_page("slave", 10.0)
    wait_until(lambda: not _nginx_running(c, "master"), 10.0, "master's nginx stopped")
    assert HANG_MARKER not in _ps(c, "master"), "a hung stop was left running"
    measure("hung_stop_reported_after_s", round(killed, 3))
    measure("handover_after_repair_s", round(took, 3))
