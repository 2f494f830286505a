"""What a run found: one row per step and per check, and the scenario's verdict."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class Status(enum.StrEnum):
    PASS = "ok"
    FAIL = "FAIL"
    SKIP = "skip"  # does not apply to this cluster, or was never reached
    ERROR = "ERROR"  # could not be judged (the lab failed under it)


class Section(enum.StrEnum):
    LAB = "lab"
    STEP = "step"
    EXPECT = "expect"
    CHECK = "check"
    LOG = "log"  # the BadNews scan after a run (lab.scenario.logscan)


@dataclass
class Row:
    status: Status
    section: Section
    line: int
    what: str  # the step, or the check in words, with its limits resolved
    measured: str = ""  # what was seen: "after 1.62 s", "held by master"
    detail: str = ""  # why it failed
    hint: str | None = None  # the file's advice for a failure (check my lab)
    seconds: float = 0.0  # time spent doing or judging it

    @property
    def failed(self) -> bool:
        return self.status in (Status.FAIL, Status.ERROR)


@dataclass
class ScenarioResult:
    path: Path
    name: str
    cluster: str = ""  # the implementations, as `hblab up --impl` spells them
    backend: str = ""
    profile: str = ""
    observe: bool = False
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None  # why the whole scenario did not run

    @property
    def failed(self) -> bool:
        return any(row.failed for row in self.rows)

    def count(self, status: Status) -> int:
        return sum(1 for row in self.rows if row.status is status)
