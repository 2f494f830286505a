"""What a scenario file says, as typed data (built by lab.scenario.load)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.scenario.duration import Duration


class StepKind(enum.StrEnum):
    POWEROFF = "poweroff"
    POWERON = "poweron"
    CRASH = "crash"
    LINK = "link"
    NETEM = "netem"
    CLEAR = "clear"
    EXEC = "exec"
    SERVICE = "service"
    HB_STANDBY = "hb_standby"
    HB_TAKEOVER = "hb_takeover"
    FORGE = "forge"
    WAIT = "wait"


class CheckKind(enum.StrEnum):
    HOLDER = "holder"  # who has the VIP configured (ip addr), lasting
    PAGE = "page"  # whose page the client gets through the VIP, lasting
    TWO_HOLDERS = "two_holders"  # time with two MACs answering ARP (or two ip addr holders)
    NO_HOLDER = "no_holder"  # time with none
    OUTAGE = "outage"  # the client's longest run of failed HTTP probes
    LOG = "log"  # a line of a node's /var/log/ha-log
    EVENT = "event"  # a step of hbnode's /var/log/ha-events.jsonl
    CL_STATUS = "cl_status"  # a node, link or resource state as cl_status prints it
    PACKET = "packet"  # a heartbeat datagram on an interface (lab.wiretrace)
    GARP = "garp"  # a gratuitous ARP on an interface
    ORDER = "order"  # events in this order
    NODE = "node"  # power and daemon of a node
    EXEC = "exec"  # a command's exit code and output in a node
    FENCED = "fenced"  # the nodes a BMC powered off (a reset): hblab up --fencing


# Checks that wait for something to become true (and, for states, stay true).
STATE_KINDS = frozenset(
    {CheckKind.HOLDER, CheckKind.PAGE, CheckKind.CL_STATUS, CheckKind.NODE, CheckKind.FENCED}
)
# Checks that measure over a window of time, from their step to when they are judged.
WINDOW_KINDS = frozenset({CheckKind.TWO_HOLDERS, CheckKind.NO_HOLDER, CheckKind.OUTAGE})


@dataclass(frozen=True)
class Expectation:
    kind: CheckKind
    spec: dict[str, Any]  # normalised: see lab.scenario.load
    line: int
    within: Duration | None = None
    hold: Duration | None = None
    for_: Duration | None = None
    impls: tuple[str, ...] | None = None  # the clusters it applies to (None: all)
    hint: str | None = None
    label: str | None = None

    @property
    def negative(self) -> bool:
        """ "Must not happen": judged over a window, not by waiting for it."""
        return bool(self.spec.get("absent")) or self.spec.get("seen") is False


@dataclass(frozen=True)
class Step:
    kind: StepKind
    args: dict[str, Any]  # normalised: a node name becomes {"node": …}
    line: int
    name: str | None = None
    at: Duration | None = None
    expect: tuple[Expectation, ...] = ()

    def describe(self) -> str:
        a = self.args
        match self.kind:
            case StepKind.LINK:
                return f"link {a['node']} {a['iface']} {a['state']}"
            case StepKind.NETEM:
                params = " ".join(f"{k} {v}" for k, v in a["params"].items())
                return f"netem {a['node']} {a['iface']} {params}"
            case StepKind.CLEAR:
                return f"clear {a['node']} {a['iface']}"
            case StepKind.EXEC:
                cmd = a["cmd"] if isinstance(a["cmd"], str) else " ".join(a["cmd"])
                lines = cmd.strip().splitlines()
                return f"exec {a['node']}: {lines[0]}{' …' if len(lines) > 1 else ''}"
            case StepKind.SERVICE:
                return f"service {a['name']} {a['verb']} on {a['node']}"
            case StepKind.HB_STANDBY | StepKind.HB_TAKEOVER:
                return f"{self.kind} {a['scope']} on {a['node']}"
            case StepKind.FORGE:
                return f"forge status as {a['as']} from {a['from']} to {a['to']}, key {a['key']!r}"
            case StepKind.WAIT:
                return f"wait {a['for'].text}"
        return f"{self.kind} {a['node']}"


@dataclass(frozen=True)
class LabSpec:
    impl: str | None = None  # canonical cluster text (lab.impls.spec_text); None: default
    impls: tuple[str, ...] | None = None  # the clusters the scenario is written for
    profile: str = "fast"
    overrides: dict[str, str] = field(default_factory=dict)
    config: Path | None = None
    backend: str | None = None
    topology: Path | None = None
    start: bool = True
    line: int = 1
    fencing: bool = False  # a BMC per node and stonith_host lines (hblab up --fencing)


@dataclass(frozen=True)
class LogAllowance:
    """A bad-news line (lab.badnews) the scenario causes, and why: ``expect_log:``."""

    pattern: str  # a regular expression, searched in each ha-log line
    why: str
    nodes: tuple[str, ...] | None  # None: any cluster node
    line: int


@dataclass(frozen=True)
class Scenario:
    path: Path
    name: str
    description: str
    lab: LabSpec
    steps: tuple[Step, ...]
    expect: tuple[Expectation, ...]  # tied to the end of the steps
    check: tuple[Expectation, ...]  # the end state, for --observe (and after a run)
    check_at: str | None = None  # a run judges check: after this step's expect (default: the end)
    tags: tuple[str, ...] = ()  # words to select scenarios by (the tests' pytest markers)
    expect_log: tuple[LogAllowance, ...] = ()  # bad news the steps cause (lab.badnews)

    def step_named(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)
