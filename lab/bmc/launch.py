"""Start the lab's BMCs: the power agent, then one ``ipmi_sim`` inside each BMC host.

Both run on this machine, recorded in the lab's state (``extra_pids``) before
anything can need them, so ``hblab down`` kills them. Each ``ipmi_sim`` enters
only its BMC host's network namespace (``nsenter --net``): it listens on the
BMC's own address on the management segment, so IPMI traffic never leaves the
lab, and it keeps answering while its node is powered off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab import netsock
from lab.bmc import IPMI_INTERFACE, IPMI_PASSWORD, IPMI_USER, node_of
from lab.bmc.agent import EVENTS, POWER
from lab.bmc.simconf import lan_conf, startup_commands
from lab.errors import LabError
from lab.labcore import LabBase
from lab.proc import ProcessId
from lab.source import source_root
from lab.topology import Host, Role

READY_TIMEOUT = 15.0
AGENT_LOG = "agent.log"


def bmc_dir(lab: LabBase) -> Path:
    return lab.state_dir / "bmc"


def bmc_hosts(lab: LabBase) -> list[Host]:
    return [h for h in lab.topo.hosts if h.role is Role.BMC]


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> ProcessId:
    with log.open("a") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            cwd=str(source_root()),
            start_new_session=True,  # not in hblab's process group: a ^C does not fence
        )
    pid = ProcessId.of(proc.pid)
    if pid is None:
        raise LabError(f"{argv[0]} died at once (see {log})")
    return pid


def _wait(predicate: Any, what: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise LabError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.05)


def start(lab: LabBase) -> None:
    """Start the agent and every BMC; return once each answers IPMI."""
    root = bmc_dir(lab)
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(source_root())}
    agent = [sys.executable, "-m", "lab.bmc.agent", "--backend", lab.backend]
    agent += ["--prefix", lab.topo.prefix, "--dir", str(root)]
    lab.track(_spawn(agent, root / AGENT_LOG, env))
    hosts = bmc_hosts(lab)
    _wait(lambda: all((root / h.name / POWER).exists() for h in hosts), "the BMC power agent")
    for host in hosts:
        lab.track(_start_sim(lab, host, root / host.name))
    for host in hosts:
        _wait(lambda host=host: ipmi_power(lab, host) is not None, f"{host.name} (ipmi_sim)")


def _start_sim(lab: LabBase, host: Host, directory: Path) -> ProcessId:
    address = str(host.interfaces[0].address.ip)
    (directory / "lan.conf").write_text(lan_conf(host.name, address, directory))
    (directory / "bmc.emu").write_text(startup_commands())
    (directory / "sim").mkdir(exist_ok=True)
    netns = netsock.netns_path(lab.netns_of(host.name))
    argv = ["nsenter", f"--net={netns}", "ipmi_sim", "-n"]
    argv += ["-c", str(directory / "lan.conf"), "-f", str(directory / "bmc.emu")]
    argv += ["-s", str(directory / "sim")]
    return _spawn(argv, directory / "ipmi_sim.log")


def ipmi_power(lab: LabBase, host: Host, timeout: float = 5.0) -> str | None:
    """``chassis power status`` asked over IPMI-over-LAN from inside the BMC's own
    namespace: "on", "off", or None if it does not answer."""
    netns = netsock.netns_path(lab.netns_of(host.name))
    argv = ["nsenter", f"--net={netns}", "ipmitool", "-I", IPMI_INTERFACE, "-N", "1", "-R", "1"]
    argv += ["-H", str(host.interfaces[0].address.ip), "-U", IPMI_USER, "-P", IPMI_PASSWORD]
    try:
        done = subprocess.run(
            [*argv, "chassis", "power", "status"], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None
    words = done.stdout.split()
    return words[-1] if done.returncode == 0 and words else None


def bmc_status(lab: LabBase, host: Host) -> dict[str, Any]:
    """What ``hblab status`` says of a BMC: its address, the node it powers, and the
    state it answers (from the agent's file: no IPMI session per status)."""
    node = node_of(lab.topo, host.name)
    power = bmc_dir(lab) / host.name / POWER
    try:
        answers = power.read_text().strip()
    except OSError:
        answers = "?"
    return {
        "bmc_for": node.name if node else None,
        "ipmi": f"{host.interfaces[0].address.ip}:623",
        "answers": answers,
    }


def events(lab: LabBase) -> list[dict[str, Any]]:
    """The BMCs' event log (lab.bmc.agent): requests and power changes, wall clock."""
    try:
        lines = (bmc_dir(lab) / EVENTS).read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found
