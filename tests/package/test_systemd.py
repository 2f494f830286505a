"""hbnode.service under a real systemd (PID 1 of a systemd-nspawn machine).

The machine is the package-test node image (the lab's Debian rootfs, systemd
installed), booted with its own network namespace; a veth pair inside it gives the
node an eth0 whose peer never answers, so the node is alone, takes its group after
initdead and keeps it. In order: the package installs under systemd (enabled, not
started), the unit verifies, ``systemctl start`` returns on READY=1, STATUS= shows
the cluster, the journal has every line once with its priority, reload is SIGHUP,
the watchdog restarts a stalled loop, a crash is restarted, an upgrade restarts the
running daemon, the example hardening drop-in runs, and stop is the handover.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import docker_engine
from tests.integration.helpers import wait_until

from .conftest import PREFIX, STATE_DIR, Debs
from .machine import Machine

NAME = f"{PREFIX}-sd"
VIP = "10.0.0.38"
HACF = f"""\
keepalive 250ms
deadtime 1500ms
warntime 750ms
initdead 3
ucast eth0 10.0.0.2
auto_failback on
node {NAME}
node ghost
hbnode_metrics 127.0.0.1:9694
"""
START_LIMIT = 15.0  # systemctl start returns on READY=1, long before the cluster settles


@pytest.fixture(scope="module")
def machine(pkg_images: dict[str, str]) -> Iterator[Machine]:
    work = STATE_DIR / "machine"
    made = [d for d in (STATE_DIR.parent, STATE_DIR) if not d.exists()]  # ours to remove
    shutil.rmtree(work, ignore_errors=True)
    (work / "root").mkdir(parents=True)
    _export(pkg_images["node"], work / "root")
    box = Machine(work / "root", NAME, work / "console.log")
    try:
        box.boot()
        yield box
    finally:
        box.poweroff()
        shutil.rmtree(work, ignore_errors=True)
        for directory in reversed(made):  # only if empty: a lab's own record stays
            with contextlib.suppress(OSError):
                directory.rmdir()
        assert box.leftovers() == []


def _export(image: str, root: Path) -> None:
    """The image's filesystem as a directory (docker export, untarred)."""
    api = docker_engine.client()
    container = api.containers.create(image, command=["true"], network_mode="none")
    try:
        untar = subprocess.Popen(
            ["tar", "-x", "--numeric-owner", "-C", str(root)], stdin=subprocess.PIPE
        )
        assert untar.stdin is not None
        for chunk in container.export():
            untar.stdin.write(chunk)
        untar.stdin.close()
        assert untar.wait(120) == 0
    finally:
        container.remove(force=True)
        api.close()


def show(box: Machine, *props: str) -> dict[str, str]:
    out = box.sh(f"systemctl show hbnode.service -p {','.join(props)}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def journal(box: Machine) -> list[dict[str, str]]:
    out = box.sh("journalctl -u hbnode.service -o json --no-pager")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def messages(box: Machine) -> list[str]:
    return [str(e.get("MESSAGE", "")) for e in journal(box)]


def holds_vip(box: Machine) -> bool:
    return f"inet {VIP}/24" in box.sh("ip -4 addr show dev eth0")


def test_the_package_installs_enabled_not_started(machine: Machine, debs: Debs) -> None:
    shutil.copy2(debs.current, machine.root / "root" / debs.current.name)
    out = machine.sh(
        f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q /root/{debs.current.name}"
    )
    assert "REMOVED:\n  heartbeat" in out
    assert machine.sh("systemctl is-enabled hbnode.service").strip() == "enabled"
    assert machine.run(["systemctl", "is-active", "hbnode.service"]).stdout.strip() == "inactive"
    assert machine.sh("stat -c '%U:%G %a' /run/heartbeat").strip() == "root:haclient 750"


def test_the_unit_passes_systemd_analyze_verify(machine: Machine) -> None:
    done = machine.run(["systemd-analyze", "verify", "hbnode.service"])
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


def test_start_returns_on_ready_and_status_follows_the_cluster(machine: Machine) -> None:
    machine.sh(
        "ip link add eth0 type veth peer name eth0p && ip addr add 10.0.0.1/24 dev eth0"
        " && ip link set eth0 up && ip link set eth0p up"
    )
    ha_d = machine.root / "etc" / "ha.d"
    (ha_d / "ha.cf").write_text(HACF)
    (ha_d / "haresources").write_text(f"{NAME} {VIP}/24/eth0:0\n")
    (ha_d / "authkeys").write_text("auth 1\n1 sha1 systemd-test\n")
    (ha_d / "authkeys").chmod(0o600)
    started = time.monotonic()
    machine.sh("systemctl start hbnode.service")
    assert time.monotonic() - started < START_LIMIT
    props = show(machine, "Type", "ActiveState", "SubState", "WatchdogUSec", "StatusText")
    assert (props["Type"], props["ActiveState"], props["SubState"]) == (
        "notify",
        "active",
        "running",
    )
    assert props["WatchdogUSec"] == "10s"
    assert props["StatusText"].startswith(("starting: waiting for the cluster", "active"))
    wait_until(
        lambda: show(machine, "StatusText")["StatusText"].startswith("active, holding all"),
        20,
        "STATUS= says the node holds its group",
    )
    assert "ghost dead" in show(machine, "StatusText")["StatusText"]
    assert holds_vip(machine)


def test_the_journal_has_each_line_once_with_its_priority(machine: Machine) -> None:
    entries = journal(machine)
    said = [e["MESSAGE"] for e in entries]
    assert said.count("Configuration validated. Starting heartbeat 0.1.0 (hbnode)") == 1
    dead = [e for e in entries if e.get("MESSAGE") == "node ghost: is dead"]
    assert len(dead) == 1 and dead[0]["PRIORITY"] == "4"  # warning
    ours = [e for e in entries if e.get("_PID") != "1"]  # not systemd's "Starting …" lines
    assert {e["SYSLOG_IDENTIFIER"] for e in ours} == {"heartbeat"}
    assert {e["PRIORITY"] for e in ours} >= {"4", "6"}
    stamped = re.compile(r"^(\w{3} [ \d]\d \d\d:\d\d:\d\d |heartbeat\[\d+\]|\[\d+\]: )")
    assert [m for m in said if stamped.match(str(m))] == []  # journald stamps, not us


def test_reload_is_sighup_and_keeps_the_daemon(machine: Machine) -> None:
    pid = show(machine, "MainPID")["MainPID"]
    machine.sh("systemctl reload hbnode.service")
    wait_until(lambda: any("SIGHUP received" in m for m in messages(machine)), 10, "the HUP line")
    assert show(machine, "MainPID", "ActiveState") == {"MainPID": pid, "ActiveState": "active"}


def test_metrics_under_systemd(machine: Machine) -> None:
    text = machine.sh("python3 -c \"import urllib.request as u; print(u.urlopen("
                      "'http://127.0.0.1:9694/metrics', timeout=5).read().decode())\"")  # fmt: skip
    assert 'hbnode_node_state{node="ghost",state="dead",type="normal"} 1.0' in text


def test_the_watchdog_restarts_a_stalled_loop(machine: Machine) -> None:
    pid = show(machine, "MainPID")["MainPID"]
    machine.sh(f"kill -STOP {pid}")
    try:
        wait_until(lambda: any("Watchdog timeout" in m for m in messages(machine)), 25, "watchdog")
    finally:
        # systemd follows its SIGABRT with SIGCONT itself; this is for a failed wait.
        machine.run(["kill", "-CONT", pid])
    wait_until(
        lambda: (
            show(machine, "NRestarts", "ActiveState") == {"NRestarts": "1", "ActiveState": "active"}
        ),
        30,
        "restarted once (Restart=on-failure)",
    )
    assert show(machine, "MainPID")["MainPID"] != pid
    wait_until(lambda: holds_vip(machine), 20, "the VIP held again")


def test_a_crash_is_restarted(machine: Machine) -> None:
    pid = show(machine, "MainPID")["MainPID"]
    machine.sh(f"kill -9 {pid}")
    wait_until(
        lambda: (
            show(machine, "NRestarts", "ActiveState") == {"NRestarts": "2", "ActiveState": "active"}
        ),
        30,
        "restarted after kill -9",
    )
    assert holds_vip(machine)  # KillMode=process: the VIP stayed, the new daemon adopts it


def test_an_upgrade_restarts_the_running_daemon(machine: Machine, debs: Debs) -> None:
    pid = show(machine, "MainPID")["MainPID"]
    shutil.copy2(debs.newer, machine.root / "root" / debs.newer.name)
    machine.sh(f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q /root/{debs.newer.name}")
    props = show(machine, "MainPID", "ActiveState")
    assert props["ActiveState"] == "active" and props["MainPID"] != pid
    version = machine.sh("dpkg-query -W -f '${Version}' hbnode")
    assert version == debs.newer.name.split("_")[1]
    wait_until(lambda: holds_vip(machine), 20, "the VIP held after the upgrade")


def test_the_example_hardening_drop_in_runs(machine: Machine) -> None:
    before = _exposure(machine)
    drop_in = machine.root / "etc" / "systemd" / "system" / "hbnode.service.d"
    drop_in.mkdir(parents=True)
    shutil.copy2(
        machine.root / "usr/share/doc/hbnode/examples/hardening.conf", drop_in / "hardening.conf"
    )
    try:
        machine.sh("systemctl daemon-reload")
        restarted = machine.run(["systemctl", "restart", "hbnode.service"])
        tail = machine.run(["journalctl", "-u", "hbnode.service", "-n", "15", "--no-pager"])
        assert restarted.returncode == 0, tail.stdout
        wait_until(
            lambda: show(machine, "StatusText")["StatusText"].startswith("active, holding all"),
            30,
            "the confined daemon holds its group",
        )
        assert holds_vip(machine)
        after = _exposure(machine)
        print(f"systemd-analyze security: hbnode.service {before}, with the drop-in {after}")
        assert after < before
    finally:
        shutil.rmtree(drop_in)
        machine.sh("systemctl daemon-reload")


def _exposure(machine: Machine) -> float:
    out = machine.run(["systemd-analyze", "security", "hbnode.service"]).stdout
    match = re.search(r"Overall exposure level for hbnode.service: ([\d.]+)", out)
    assert match, out[-500:]
    return float(match.group(1))


def test_stop_is_the_orderly_handover(machine: Machine) -> None:
    machine.sh("systemctl stop hbnode.service")
    assert machine.run(["systemctl", "is-active", "hbnode.service"]).stdout.strip() == "inactive"
    assert not holds_vip(machine)
    assert any("Heartbeat shutdown complete." in m for m in messages(machine))
