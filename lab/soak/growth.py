"""Does a daemon's memory level off? Per-cycle samples and a slope over the last half.

After every cycle the soak records, for each node's heartbeat daemon, its PID,
RSS (VmRSS), open file descriptors and threads. A daemon that lived through the
whole soak (the node that is never powered off: the survivor of every cycle)
is the one that can grow. Its RSS is fitted with a least-squares line over the
second half of the cycles, after start-up and the first takeovers have filled
the allocator's pools; the slope and its standard error say whether it still
grows. "Levels off" means the fitted growth over that half is within two
standard errors of zero, or under LEVEL_KIB in all.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

LEVEL_KIB = 256.0  # growth over the fitted half below this is noise of the allocator


@dataclass(frozen=True, slots=True)
class DaemonSample:
    pid: int | None
    rss_kib: int
    fds: int
    threads: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Fit:
    n: int
    slope: float  # per cycle
    stderr: float
    first: float  # the fitted line at the first and last cycle of the half
    last: float

    @property
    def growth(self) -> float:
        return self.last - self.first

    def levels_off(self, tolerance: float = LEVEL_KIB) -> bool:
        spread = 2 * self.stderr * max(self.n - 1, 1)
        return abs(self.growth) <= max(tolerance, spread)

    def to_json(self) -> dict[str, float]:
        return {
            "n": self.n,
            "slope_per_cycle": round(self.slope, 4),
            "stderr": round(self.stderr, 4),
            "fitted_growth": round(self.growth, 1),
        }


def linear_fit(xs: list[float], ys: list[float]) -> Fit | None:
    """Ordinary least squares y = a + b x, with b's standard error (pure)."""
    n = len(xs)
    if n < 3 or n != len(ys):
        return None
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = mean_y - slope * mean_x
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    stderr = math.sqrt(residual / (n - 2) / sxx)
    return Fit(n, slope, stderr, intercept + slope * xs[0], intercept + slope * xs[-1])


def long_lived(samples: list[dict[str, DaemonSample]], node: str) -> list[tuple[int, DaemonSample]]:
    """(cycle, sample) of ``node`` for the cycles its daemon kept the PID it ended with."""
    found = [(i + 1, s[node]) for i, s in enumerate(samples) if node in s]
    if not found:
        return []
    last_pid = found[-1][1].pid
    tail: list[tuple[int, DaemonSample]] = []
    for cycle, sample in reversed(found):
        if sample.pid != last_pid:
            break
        tail.append((cycle, sample))
    return list(reversed(tail))


def growth_report(samples: list[dict[str, DaemonSample]]) -> dict[str, Any]:
    """For each node: its daemon's samples' range and, for a long-lived one, the fit
    of RSS, fds and threads over the second half of its life."""
    report: dict[str, Any] = {}
    nodes = sorted({n for s in samples for n in s})
    for node in nodes:
        life = long_lived(samples, node)
        entry: dict[str, Any] = {"cycles_same_pid": len(life)}
        if len(life) >= 6:
            half = life[len(life) // 2 :]
            xs = [float(c) for c, _ in half]
            for key in ("rss_kib", "fds", "threads"):
                fit = linear_fit(xs, [float(getattr(s, key)) for _, s in half])
                entry[key] = {
                    "first": getattr(life[0][1], key),
                    "at_half": getattr(half[0][1], key),
                    "last": getattr(life[-1][1], key),
                    "max": max(getattr(s, key) for _, s in life),
                    "fit": fit.to_json() if fit else None,
                    "levels_off": fit.levels_off(LEVEL_KIB if key == "rss_kib" else 0.5)
                    if fit
                    else None,
                }
        report[node] = entry
    return report
