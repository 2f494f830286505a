"""The power agent: the chassis commands of the lab's BMCs become the lab's power cuts.

One process per lab (``python -m lab.bmc.agent``), started by ``hblab up
--fencing`` and recorded in the lab's state so ``down`` kills it. Each BMC's
``ipmi_sim`` runs lab/assets/bmc-chassis, which writes ``power 0``, ``power 1`` or
``reset 1`` into the BMC's FIFO; the agent carries each out with the lab's own
``poweroff``/``poweron`` (so a fenced node dies exactly as ``hblab poweroff``
kills it, and boots and starts heartbeat as ``hblab poweron`` does), one at a
time, in arrival order. It also keeps each BMC's ``power`` file (what ``chassis
power status`` answers) in step with the node, whoever switched it: a node
switched off by ``hblab poweroff`` answers "off" within a poll.

Every request and power change goes to ``events.jsonl`` (wall clock), which the
tests, the bench and ``hblab report`` read to place the fence on a timeline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lab.backends import make_lab
from lab.bmc import node_of
from lab.labcore import LabBase
from lab.topology import Role

POLL = 0.1  # seconds between looks at the nodes' power (a user's hblab poweroff)
EVENTS = "events.jsonl"
REQUESTS = "requests"
POWER = "power"


@dataclass
class Bmc:
    name: str
    node: str
    directory: Path
    fd: int
    buffer: bytes = b""
    answered: str = ""  # what the power file says now


def record(root: Path, **fields: object) -> None:
    """One line of the BMCs' event log."""
    line = json.dumps({"t": round(time.time(), 3), **fields})
    with (root / EVENTS).open("a") as out:
        out.write(line + "\n")


def open_bmcs(lab: LabBase, root: Path) -> list[Bmc]:
    bmcs = []
    for host in lab.topo.hosts:
        node = node_of(lab.topo, host.name)
        if host.role is not Role.BMC or node is None:
            continue
        directory = root / host.name
        directory.mkdir(parents=True, exist_ok=True)
        fifo = directory / REQUESTS
        if not fifo.exists():
            os.mkfifo(fifo, 0o600)
        # Read-write: the FIFO never reports end-of-file and a writer never blocks.
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        bmcs.append(Bmc(host.name, node.name, directory, fd))
    return bmcs


def publish_power(lab: LabBase, bmc: Bmc) -> None:
    """Write the node's power state where bmc-chassis reads it, if it changed."""
    state = "on" if lab.is_on(bmc.node) else "off"
    if state == bmc.answered:
        return
    tmp = bmc.directory / (POWER + ".tmp")
    tmp.write_text(state + "\n")
    os.replace(tmp, bmc.directory / POWER)
    bmc.answered = state


def carry_out(lab: LabBase, root: Path, bmc: Bmc, verb: str, value: str) -> None:
    """One chassis command: ``power 0`` (off), ``power 1`` (on), ``reset 1``."""
    on = lab.is_on(bmc.node)
    record(root, bmc=bmc.name, node=bmc.node, event="request", request=f"{verb} {value}", on=on)
    if verb == "power" and value == "0" and on:
        lab.poweroff(bmc.node)
        record(root, bmc=bmc.name, node=bmc.node, event="power_off", cause="power off")
    elif verb == "power" and value == "1" and not on:
        record(root, bmc=bmc.name, node=bmc.node, event="power_on", cause="power on")
        lab.poweron(bmc.node)
        record(root, bmc=bmc.name, node=bmc.node, event="booted", cause="power on")
    elif verb == "reset" and on:
        # A hard reset: the power drops and the machine boots again at once.
        lab.poweroff(bmc.node)
        record(root, bmc=bmc.name, node=bmc.node, event="power_off", cause="reset")
        publish_power(lab, bmc)
        lab.poweron(bmc.node)
        record(root, bmc=bmc.name, node=bmc.node, event="booted", cause="reset")
    # Anything else changes nothing (power on when on; a reset while off is ignored
    # by the chassis, as on real hardware).
    publish_power(lab, bmc)


def requests_of(bmc: Bmc) -> list[tuple[str, str]]:
    with contextlib.suppress(BlockingIOError):
        bmc.buffer += os.read(bmc.fd, 4096)
    *lines, bmc.buffer = bmc.buffer.split(b"\n")
    found = []
    for line in lines:
        words = line.decode(errors="replace").split()
        if len(words) == 2 and words[0] in ("power", "reset") and words[1] in ("0", "1"):
            found.append((words[0], words[1]))
    return found


def serve(lab: LabBase, root: Path) -> int:
    bmcs = open_bmcs(lab, root)
    by_fd = {b.fd: b for b in bmcs}
    for bmc in bmcs:
        publish_power(lab, bmc)
    record(root, event="agent_ready", bmcs=[b.name for b in bmcs])
    # Until the lab is taken down (its record goes) or we are killed: each turn is
    # bounded by POLL.
    while lab.state_file.exists():
        readable, _, _ = select.select(list(by_fd), [], [], POLL)
        for fd in readable:
            bmc = by_fd[fd]
            for verb, value in requests_of(bmc):
                try:
                    carry_out(lab, root, bmc, verb, value)
                except Exception as exc:  # one failed power change must not stop the BMCs
                    record(root, bmc=bmc.name, node=bmc.node, event="error", error=str(exc))
        for bmc in bmcs:
            with contextlib.suppress(Exception):  # the lab going down under us
                publish_power(lab, bmc)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.bmc.agent")
    parser.add_argument("--backend", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--dir", type=Path, required=True, help="the lab's BMC directory")
    args = parser.parse_args(argv)
    lab = make_lab(args.backend, None, args.prefix)
    return serve(lab, args.dir)


if __name__ == "__main__":
    sys.exit(main())
