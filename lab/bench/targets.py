"""The issue's targets, checked on one bench run where both implementations ran (pure).

Each target compares hbnode with the real Heartbeat in the same run, on the same
timers, or states an absolute bound for hbnode; it is "not measured" when a figure
is missing (an implementation not run, or every run failed).
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.bench.metrics import Metric
from lab.bench.model import BenchResult
from lab.bench.table import OURS, THEIRS


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    measured: str  # what the run showed, or "not measured"
    met: bool | None  # None: not measured


def _median(result: BenchResult, impl: str, scenario: str, metric: Metric) -> float | None:
    summary = result.summary(impl, scenario, metric)
    return summary.median if summary else None


def check(result: BenchResult) -> list[Verdict]:
    deadtime = result.timers.get("deadtime", 0.0)
    verdicts = [_poweroff_ratio(result, deadtime)]
    for scenario in ("stop", "failback"):
        outage = _median(result, OURS, scenario, Metric.OUTAGE)
        two = _median(result, OURS, scenario, Metric.TWO_HOLDERS)
        target = f"{scenario}: hbnode outage ≤ 0.5 s and no time with two holders"
        if outage is None or two is None:
            verdicts.append(Verdict(target, "not measured", None))
        else:
            shown = f"outage {outage:.3f} s, two holders {two:.3f} s"
            verdicts.append(Verdict(target, shown, outage <= 0.5 and two == 0))
    heal = _median(result, OURS, "heal", Metric.NO_HOLDER)
    verdicts.append(
        _bound(
            "heal: hbnode no-holder time ≤ 1 s",
            heal,
            1.0,
            _median(result, THEIRS, "heal", Metric.NO_HOLDER),
        )
    )
    cut = _median(result, OURS, "cut-ping", Metric.TWO_HOLDERS)
    verdicts.append(
        _bound(
            "cut-ping: hbnode has no time with two holders",
            cut,
            0.0,
            _median(result, THEIRS, "cut-ping", Metric.TWO_HOLDERS),
        )
    )
    return verdicts


def _bound(target: str, ours: float | None, limit: float, theirs: float | None) -> Verdict:
    if ours is None:
        return Verdict(target, "not measured", None)
    shown = f"hbnode {ours:.3f} s" + (f", heartbeat {theirs:.3f} s" if theirs is not None else "")
    return Verdict(target, shown, ours <= limit)


def _poweroff_ratio(result: BenchResult, deadtime: float) -> Verdict:
    target = "poweroff: (outage − deadtime) of hbnode ≤ 0.3 × that of heartbeat"
    ours = _median(result, OURS, "poweroff", Metric.OUTAGE)
    theirs = _median(result, THEIRS, "poweroff", Metric.OUTAGE)
    if ours is None or theirs is None or theirs - deadtime <= 0:
        return Verdict(target, "not measured", None)
    value = (ours - deadtime) / (theirs - deadtime)
    shown = f"{ours - deadtime:.3f} s vs {theirs - deadtime:.3f} s: ratio {value:.2f}"
    return Verdict(target, shown, value <= 0.3)


def render(verdicts: list[Verdict]) -> list[str]:
    marks = {True: "met", False: "NOT met", None: "not measured"}
    return [
        f"- {v.target}: {marks[v.met]}" + (f" ({v.measured})" if v.met is not None else "")
        for v in verdicts
    ]
