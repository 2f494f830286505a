"""One timeline of a nemesis run: every sample, relative to the schedule's start.

Plain data, written to and read from JSON, so a run can be checked again later
(``hblab nemesis --check FILE``) and the checker unit-tested without a lab.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ProcSample:
    t: float
    node: str
    power: bool
    daemon: int | None  # this machine's PID of the node's heartbeat daemon
    service: bool  # the group's service (nginx) runs on the node


@dataclass(frozen=True, slots=True)
class StepRecord:
    action: str
    node: str
    episode: int
    at: float  # planned
    started: float
    ended: float
    iface: str | None = None
    percent: int | None = None
    error: str | None = None


@dataclass
class Timeline:
    impls: dict[str, str]
    deadtime: float
    duration: float  # when the faults were planned to stop
    holders: list[tuple[float, list[str]]] = field(default_factory=list)  # netlink
    arp: list[tuple[float, list[str]]] = field(default_factory=list)  # nodes answering ARP
    http: list[tuple[float, bool, str | None]] = field(default_factory=list)
    procs: list[ProcSample] = field(default_factory=list)
    views: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    logs: list[tuple[float, str, str]] = field(default_factory=list)
    events: list[tuple[float, str, str]] = field(default_factory=list)  # hbnode's, ms
    steps: list[StepRecord] = field(default_factory=list)
    end: float = 0.0  # when recording stopped
    leaks: list[str] = field(default_factory=list)  # what the end snapshot found
    owner: str = "master"  # the group's owner in haresources

    @property
    def faults_end(self) -> float:
        """When the last step ended: from here on nothing is done to the cluster."""
        return max((s.ended for s in self.steps), default=0.0)

    @property
    def hbnode_only(self) -> bool:
        return all(impl == "hbnode" for impl in self.impls.values())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timeline:
        return cls(
            impls=dict(data["impls"]),
            deadtime=float(data["deadtime"]),
            duration=float(data["duration"]),
            holders=[(float(t), list(h)) for t, h in data["holders"]],
            arp=[(float(t), list(h)) for t, h in data["arp"]],
            http=[(float(t), bool(ok), server) for t, ok, server in data["http"]],
            procs=[ProcSample(**p) for p in data["procs"]],
            views=[(float(t), str(n), dict(v)) for t, n, v in data["views"]],
            logs=[(float(t), str(n), str(line)) for t, n, line in data["logs"]],
            events=[(float(t), str(n), str(e)) for t, n, e in data.get("events", [])],
            steps=[StepRecord(**s) for s in data["steps"]],
            end=float(data["end"]),
            leaks=list(data.get("leaks", [])),
            owner=str(data.get("owner", "master")),
        )
