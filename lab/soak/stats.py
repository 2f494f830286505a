"""The distribution of a per-cycle figure: min, median, p90, p99, max (pure)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Distribution:
    n: int
    minimum: float
    median: float
    p90: float
    p99: float
    maximum: float
    total: float

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list: a value that was measured.

    With 200 cycles p99 is the second largest value; interpolation would invent
    figures no cycle had.
    """
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def distribution(values: Iterable[float | None]) -> Distribution | None:
    """The spread of the values that exist; None when no cycle produced one."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    return Distribution(
        n=len(present),
        minimum=present[0],
        median=statistics.median(present),
        p90=percentile(present, 90),
        p99=percentile(present, 99),
        maximum=present[-1],
        total=sum(present),
    )


def failure_runs(samples: list[tuple[float, bool]], end: float) -> list[float]:
    """Each run of failed probes, in seconds: first failure → next success.

    A run still failing at ``end`` (the observation stops) counts up to ``end``.
    """
    runs: list[float] = []
    started: float | None = None
    for at, ok in samples:
        if not ok and started is None:
            started = at
        elif ok and started is not None:
            runs.append(at - started)
            started = None
    if started is not None:
        runs.append(max(0.0, end - started))
    return runs
