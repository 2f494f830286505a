"""The raw record of one scenario run: everything the timeline and the figures need.

Times are seconds relative to the fault (t = 0 is the instant hblab pulled the
plug, killed the daemon, …), so runs line up. Sources and their clocks:
  http, arp, neigh, log_lines, actions  time.monotonic() of the bench process;
  packets                               the kernel's pcap timestamp (wall clock);
  events                                hbnode's ``ts`` (wall clock, ms).
Both clocks are the same machine's, and the offset between them is taken once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TRACE_FORMAT = "hblab-trace/1"


@dataclass
class Trace:
    impl: str
    scenario: str
    run: int
    fault: str  # what was done at t = 0, e.g. "poweroff master"
    observer: str  # the node that stays up and declares its peer dead
    peer: str  # the node that fails
    expected_holder: str  # who should hold the VIP once the scenario settles
    deadtime: float
    macs: dict[str, str]  # eth0 MAC → node name
    start: float = 0.0  # observation window, relative to the fault
    end: float = 0.0
    http: list[tuple[float, bool, str | None]] = field(default_factory=list)
    arp: list[tuple[float, list[str]]] = field(default_factory=list)  # MACs that answered
    neigh: list[tuple[float, str | None]] = field(default_factory=list)  # client's entry
    packets: list[tuple[float, str, str]] = field(default_factory=list)  # t, sender, link
    log_lines: list[tuple[float, str, str]] = field(default_factory=list)  # t seen, node, line
    events: list[dict[str, Any]] = field(default_factory=list)  # hbnode steps, "t" added
    actions: list[tuple[float, str]] = field(default_factory=list)  # what hblab did

    def to_json(self) -> dict[str, Any]:
        return {"format": TRACE_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trace:
        if data.get("format") != TRACE_FORMAT:
            raise ValueError(f"not a scenario trace (format {data.get('format')!r})")
        body = {k: v for k, v in data.items() if k != "format"}
        trace = cls(**body)
        # JSON has no tuples: restore them so a loaded trace equals the one written.
        trace.http = [(float(t), bool(ok), s) for t, ok, s in trace.http]
        trace.arp = [(float(t), list(m)) for t, m in trace.arp]
        trace.neigh = [(float(t), m) for t, m in trace.neigh]
        trace.packets = [(float(t), s, link) for t, s, link in trace.packets]
        trace.log_lines = [(float(t), n, line) for t, n, line in trace.log_lines]
        trace.actions = [(float(t), what) for t, what in trace.actions]
        return trace


def save_trace(trace: Trace, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(trace.to_json()) + "\n")


def load_trace(path: Path) -> Trace:
    return Trace.from_json(json.loads(path.read_text()))
