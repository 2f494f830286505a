"""What a bench produced: one record per run, the machine, and their JSON form.

The JSON written by ``hblab bench --json FILE`` reads back with :func:`load` into
the same objects (round-trip tested), so tables and BENCHMARKS.md can be rendered
again from a recorded run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.bench.metrics import Metric
from lab.bench.stats import Summary, summarize

FORMAT = "hblab-bench/1"


@dataclass
class RunResult:
    impl: str  # "heartbeat", "hbnode" or a mixed spec "master=heartbeat,slave=hbnode"
    scenario: str  # a ScenarioName value, or "idle"
    run: int  # 1-based
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None  # the run did not reach its end state: not in the stats
    seconds: float = 0.0  # wall time the run took, lab up to down
    notes: dict[str, Any] = field(default_factory=dict)  # holders at the end, trace file…

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Machine:
    cpu_model: str
    cores: int
    kernel: str
    python: str

    def describe(self) -> str:
        return f"{self.cpu_model}, {self.cores} cores, Linux {self.kernel}, Python {self.python}"


@dataclass
class BenchResult:
    machine: Machine
    started: str  # ISO 8601, UTC
    profile: str
    runs: int
    impls: list[str]
    scenarios: list[str]
    timers: dict[str, float]  # keepalive/deadtime/warntime/initdead in seconds
    results: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0  # the whole bench, wall time
    revision: str = ""  # git describe of the tree that ran (hbnode changes under it)
    jobs: int = 1  # labs side by side (hblab bench --jobs)

    def values(self, impl: str, scenario: str, metric: Metric) -> list[float | None]:
        return [
            r.metrics.get(metric.value)
            for r in self.results
            if r.impl == impl and r.scenario == scenario and r.ok
        ]

    def summary(self, impl: str, scenario: str, metric: Metric) -> Summary | None:
        return summarize(self.values(impl, scenario, metric))

    def failures(self, impl: str, scenario: str) -> list[RunResult]:
        return [r for r in self.results if r.impl == impl and r.scenario == scenario and not r.ok]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = FORMAT
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchResult:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a bench result (format {data.get('format')!r}, want {FORMAT})")
        return cls(
            machine=Machine(**data["machine"]),
            started=data["started"],
            profile=data["profile"],
            runs=int(data["runs"]),
            impls=list(data["impls"]),
            scenarios=list(data["scenarios"]),
            timers={k: float(v) for k, v in data["timers"].items()},
            results=[RunResult(**r) for r in data["results"]],
            seconds=float(data.get("seconds", 0.0)),
            revision=str(data.get("revision", "")),
            jobs=int(data.get("jobs", 1)),
        )


def dump(result: BenchResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=2) + "\n")


def load(path: Path) -> BenchResult:
    return BenchResult.from_json(json.loads(path.read_text()))
