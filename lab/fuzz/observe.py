"""What a fuzz or flood run looks at: counters, memory, CPU, kernel drops, logs, holders.

Counters come from ``hbnode status --json`` run inside the node. Memory (PSS) and
CPU come from /proc of the daemon's host PID; the kernel's UDP counters from
/proc/PID/net/snmp, which shows the network namespace of that process (the node's).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.labcore import LabBase

CORE_DROPS = (
    "malformed",
    "unknown_node",
    "ping_over_udp",
    "replayed",
    "early_generation",
    "impostor",
    "own_echo",
    "duplicate",
    "out_of_window",
    "not_for_us",
)
# Log lines written for a rejected packet (link_io) or a dropped message (the core).
REJECTION_LOG_MARKS = (
    "authentication failed",  # link_io: bad or missing signature
    "bad packet from",  # link_io: malformed
    "bad node [",  # the core: a name not in ha.cf
    "attempted replay attack",  # the core: an older generation
    "were not logged",  # the count of lines a limiter held back
)
DEATH_LOG_MARKS = ("is dead", "No local resources", "Taking over", "takeover", "STONITH")
BAD_EVENTS = ("peer_dead", "peer_restart", "partition_healed", "isolation_suspected")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def status(lab: LabBase, node: str) -> dict[str, Any]:
    """``hbnode status --json`` on ``node``."""
    done = lab.run(node, ["hbnode", "status", "--json"], timeout=20)
    if done.returncode != 0:
        raise RuntimeError(f"hbnode status on {node}: {done.stderr.strip() or done.stdout}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def daemon_pid(lab: LabBase, node: str) -> int | None:

    return lab.daemon_pid(node)


def udp_snmp(pid: int) -> dict[str, int]:
    """The ``Udp:`` line of /proc/PID/net/snmp (InDatagrams, RcvbufErrors, InErrors…)."""
    lines = [line.split() for line in Path(f"/proc/{pid}/net/snmp").read_text().splitlines()]
    udp = [line for line in lines if line and line[0] == "Udp:"]
    return {name: int(value) for name, value in zip(udp[0][1:], udp[1][1:], strict=True)}


def pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def log_size(lab: LabBase, node: str, name: str) -> int:
    path = lab.log_dir(node) / name
    return path.stat().st_size if path.exists() else 0


def log_since(lab: LabBase, node: str, name: str, offset: int) -> str:
    path = lab.log_dir(node) / name
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(offset)
        return str(handle.read().decode(errors="replace"))


@dataclass
class Snapshot:
    """One node's counters and the kernel's UDP counters, at one moment."""

    node: str
    pid: int | None
    io: dict[str, Any]
    core: dict[str, int]
    udp: dict[str, int]
    nodes: dict[str, Any]
    taken: float

    @classmethod
    def take(cls, lab: LabBase, node: str, hbnode: bool = True) -> Snapshot:
        """``hbnode=False`` (the real Heartbeat): no counters, the peers from cl_status."""
        pid = daemon_pid(lab, node)
        reply = status(lab, node) if hbnode else {"nodes": _cl_status_nodes(lab, node)}
        udp = udp_snmp(pid) if pid else {}
        return cls(
            node,
            pid,
            reply.get("io", {}),
            reply.get("counters", {}),
            udp,
            _by_name(reply.get("nodes", {})),
            time.monotonic(),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _by_name(nodes: list[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
    """status --json lists the nodes; keyed by name here."""
    if isinstance(nodes, dict):
        return nodes
    return {str(entry.get("name")): entry for entry in nodes}


def _cl_status_nodes(lab: LabBase, node: str) -> dict[str, Any]:
    from lab.topology import REFERENCE

    found = {}
    for host in REFERENCE.cluster_nodes:
        done = lab.run(node, ["cl_status", "nodestatus", host.name], timeout=20)
        found[host.name] = {"status": done.stdout.strip()}
    return found


def daemon_pids(lab: LabBase, node: str) -> list[int]:
    """The daemon's process tree (Heartbeat forks a reader and a writer per medium)."""

    return lab.daemon_tree(node)


@dataclass
class Sample:
    at: float
    pss_kib: int
    cpu_s: float
    holders: list[str]


@dataclass
class Sampler:
    """PSS and CPU of the daemon, and the VIP holders, every ``interval`` seconds."""

    lab: LabBase
    pids: list[int]
    interval: float = 0.5
    max_seconds: float = 3600.0
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._sample()
        self._thread = threading.Thread(target=self._run, name="fuzz-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.wait(self.interval) and time.monotonic() < deadline:
            self._sample()

    def _sample(self) -> None:
        try:
            self.samples.append(
                Sample(
                    time.monotonic(),
                    sum(pss_kib(pid) for pid in self.pids),
                    sum(cpu_seconds(pid) for pid in self.pids),
                    self.lab.vip_holders(),
                )
            )
        except (OSError, ValueError, IndexError) as exc:  # the daemon is gone: say so
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        """Stop sampling and take a last sample (once: a second call does nothing)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10.0)
        self._sample()

    def summary(self) -> dict[str, Any]:
        if len(self.samples) < 2:
            return {"samples": len(self.samples), "errors": self.errors}
        first, last = self.samples[0], self.samples[-1]
        pss = [s.pss_kib for s in self.samples]
        rates = [
            (b.cpu_s - a.cpu_s) / (b.at - a.at)
            for a, b in zip(self.samples, self.samples[1:], strict=False)
            if b.at > a.at
        ]
        return {
            "samples": len(self.samples),
            "seconds": round(last.at - first.at, 2),
            "pss_kib_start": first.pss_kib,
            "pss_kib_max": max(pss),
            "pss_kib_end": last.pss_kib,
            "pss_growth_kib": max(pss) - first.pss_kib,
            "cpu_percent_mean": round(100 * (last.cpu_s - first.cpu_s) / (last.at - first.at), 1),
            "cpu_percent_max": round(100 * max(rates), 1) if rates else None,
            "holder_sets": sorted({",".join(s.holders) or "-" for s in self.samples}),
            "errors": self.errors,
        }
