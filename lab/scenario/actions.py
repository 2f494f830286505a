"""Doing a scenario's steps on a lab, through the lab's public interface only.

Forgers (lab.forge.StatusForger, the scapy layer) are made before the first step
and listen from then on, so that a ``forge`` step after the victim's poweroff
still knows the victim's last status and sequence number to continue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hbnode.core.timers import Timers
from lab.backends import Lab
from lab.errors import LabError
from lab.forge import StatusForger
from lab.hbcodec import Keyring, parse_authkeys
from lab.scenario.model import Step, StepKind
from lab.scenario.record import lab_keys

LEARN_TIMEOUT = 10.0  # a forge step waits this long for a status to continue
FORGE_MAX = 600.0
# Where the real Heartbeat keeps hb_standby/hb_takeover (hbnode's are on PATH).
HEARTBEAT_TOOLS = "/usr/share/heartbeat"
# A cable plugged back into a node that is off, or in the middle of a reset, is plugged
# when the node is on again: a fenced node's reboot and its daemon's start fit in this.
REPLUG_TIMEOUT = 90.0


class StepError(LabError):
    """A step that could not be done: the run stops there."""


def keyring(key: str | None, lab: Lab) -> Keyring:
    """``3 md5 Hello!`` as an authkeys keyring; None: the cluster's own authkeys."""
    if key is None:
        return lab_keys(lab)
    index = key.split()[0]
    return parse_authkeys(f"auth {index}\n{key}\n", "the forge step's key")


@dataclass
class Forgers:
    """One StatusForger per forge step, learning from the run's start."""

    lab: Lab
    by_line: dict[int, StatusForger] = field(default_factory=dict)

    def prepare(self, steps: tuple[Step, ...]) -> None:
        on = {
            h.name: self.lab.netns_of(h.name) for h in self.lab.topo.hosts if self.lab.is_on(h.name)
        }
        for step in steps:
            if step.kind is not StepKind.FORGE:
                continue
            a = step.args
            missing = [a[r] for r in ("from", "as", "to") if a[r] not in on]
            if missing:
                raise StepError(f"forge: {missing[0]} is powered off at the start of the run")
            forger = StatusForger(
                self.lab.topo, on, a["as"], a["to"], a["from"], keyring(a["key"], self.lab)
            )
            forger.start_learning(FORGE_MAX)
            self.by_line[step.line] = forger
        # Before the first step: the victim may be powered off by it.
        deadline = time.monotonic() + LEARN_TIMEOUT
        for forger in self.by_line.values():
            while forger.learned.last is None:  # bounded by LEARN_TIMEOUT
                if time.monotonic() > deadline:
                    raise StepError(
                        f"forge: no status from {forger.victim} on {forger.target}'s eth1 "
                        f"within {LEARN_TIMEOUT:g} s of the start"
                    )
                time.sleep(0.05)

    def stop(self) -> None:
        for forger in self.by_line.values():
            forger.stop()

    def sent(self) -> int:
        return sum(f.sent for f in self.by_line.values())


def do(step: Step, lab: Lab, timers: Timers, forgers: Forgers) -> str:
    """Do one step; what it did in a few words. StepError (or LabError) if it failed."""
    a, kind = step.args, step.kind
    if kind is StepKind.POWEROFF:
        lab.poweroff(a["node"])
    elif kind is StepKind.POWERON:
        lab.poweron(a["node"], start_daemon=a["start"])
    elif kind is StepKind.CRASH:
        return f"killed pids {lab.crash(a['node'])}"
    elif kind is StepKind.LINK:
        return _link(a["node"], a["iface"], a["state"] == "up", lab)
    elif kind is StepKind.NETEM:
        lab.netem(a["node"], a["iface"], dict(a["params"]))
    elif kind is StepKind.CLEAR:
        lab.netem(a["node"], a["iface"], None)
    elif kind is StepKind.EXEC:
        return _exec(step, lab, timers)
    elif kind is StepKind.SERVICE:
        lab.service(a["node"], a["name"], a["verb"])
    elif kind in (StepKind.HB_STANDBY, StepKind.HB_TAKEOVER):
        _standby_tool(step, lab)
    elif kind is StepKind.FORGE:
        return _forge(step, timers, forgers)
    elif kind is StepKind.WAIT:
        time.sleep(a["for"].resolve(timers))  # the file asked for this pause
    return ""


def _link(node: str, iface: str, up: bool, lab: Lab) -> str:
    """Pull a cable, or plug it back. Plugging waits for a node that is off, as the
    operator's hand does: under the real Heartbeat's fence race a node may be in the
    middle of its reset when the file says "plug it back" (CI of 274caa9)."""
    if not up:
        lab.link(node, iface, up=False)
        return ""
    was_on = lab.is_on(node)
    started = time.monotonic()
    lab.replug(node, iface, REPLUG_TIMEOUT)
    waited = time.monotonic() - started
    return "" if was_on and waited < 1.0 else f"plugged once {node} was on ({waited:.1f} s)"


def _exec(step: Step, lab: Lab, timers: Timers) -> str:
    a = step.args
    argv = ["sh", "-c", a["cmd"]] if isinstance(a["cmd"], str) else list(a["cmd"])
    done = lab.run(a["node"], argv, timeout=a["timeout"].resolve(timers))
    if a["rc"] is not None and done.returncode != a["rc"]:
        output = (done.stderr.strip() or done.stdout.strip())[-300:]
        raise StepError(f"exit {done.returncode} (wanted {a['rc']}): {output}")
    return f"exit {done.returncode}"


def _standby_tool(step: Step, lab: Lab) -> None:
    """hb_standby/hb_takeover as the tutorial types them on that node's implementation."""
    a = step.args
    impl = lab.record(a["node"]).impl
    program = str(step.kind) if impl == "hbnode" else f"{HEARTBEAT_TOOLS}/{step.kind}"
    done = lab.run(a["node"], [program, a["scope"]], timeout=30)
    if done.returncode != 0:
        raise StepError(
            f"{program} {a['scope']}: exit {done.returncode}: {done.stdout}{done.stderr}"
        )


def _forge(step: Step, timers: Timers, forgers: Forgers) -> str:
    a = step.args
    forger = forgers.by_line[step.line]
    deadline = time.monotonic() + LEARN_TIMEOUT
    while forger.learned.last is None:  # bounded by LEARN_TIMEOUT
        if time.monotonic() > deadline:
            raise StepError(f"never heard a status from {a['as']} on {a['to']}'s eth1 to continue")
        time.sleep(0.05)
    every = a["every"].resolve(timers) if a["every"] is not None else timers.keepalive
    forger.start_forging(every, min(a["for"].resolve(timers), FORGE_MAX))
    return f"continuing {a['as']}'s seq {forger.learned.max_seq} every {every:g} s"


def sleep_until_offset(t0: float, offset: float, limit: float) -> None:
    """A step's ``at:``: not before ``t0 + offset`` (wall clock), never past ``limit``."""
    left = min(t0 + offset, t0 + limit) - time.time()
    if left > 0:
        time.sleep(left)
