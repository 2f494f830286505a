"""The bench table: one row per scenario and figure, one column per implementation.

Each cell is ``median (min–max)`` over the runs that reached their end state, and
the last column is the hbnode/heartbeat ratio of the medians when both ran.
Rendered for the terminal (aligned text) and for BENCHMARKS.md (Markdown).
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.bench.metrics import FAILOVER_METRICS, IDLE_METRICS, INFO, Metric
from lab.bench.model import BenchResult
from lab.bench.stats import Summary, ratio

IDLE = "idle"
OURS, THEIRS = "hbnode", "heartbeat"


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    metric: Metric
    cells: dict[str, Summary | None]  # impl → summary
    ratio: float | None


def figures_for(scenario: str) -> tuple[Metric, ...]:
    return IDLE_METRICS if scenario == IDLE else FAILOVER_METRICS


def rows(result: BenchResult) -> list[Row]:
    """Every (scenario, figure) that some implementation produced."""
    found: list[Row] = []
    scenarios = [*result.scenarios, IDLE] if _has_idle(result) else result.scenarios
    for scenario in scenarios:
        for metric in figures_for(scenario):
            cells = {impl: result.summary(impl, scenario, metric) for impl in result.impls}
            if all(c is None for c in cells.values()):
                continue
            both = OURS in cells and THEIRS in cells
            found.append(
                Row(scenario, metric, cells, ratio(cells[OURS], cells[THEIRS]) if both else None)
            )
    return found


def _has_idle(result: BenchResult) -> bool:
    return any(r.scenario == IDLE for r in result.results)


def format_value(metric: Metric, value: float) -> str:
    info = INFO[metric]
    shown = value * info.scale
    if info.unit == "s":
        return f"{shown:.3f}"
    if info.unit == "%":
        return f"{shown:.2f}"
    if info.unit == "count":
        return f"{shown:g}"
    return f"{shown:.1f}"


def format_cell(metric: Metric, summary: Summary | None, runs: int) -> str:
    if summary is None:
        return "—"
    text = format_value(metric, summary.median)
    if summary.minimum != summary.maximum:
        low, high = format_value(metric, summary.minimum), format_value(metric, summary.maximum)
        text += f" ({low}–{high})"
    if summary.n != runs:
        text += f" n={summary.n}"
    return text


def _figure(metric: Metric) -> str:
    info = INFO[metric]
    return f"{info.label} ({info.unit})"


def _runs_for(result: BenchResult, scenario: str, impl: str) -> int:
    return sum(1 for r in result.results if r.scenario == scenario and r.impl == impl)


def grid(result: BenchResult) -> list[list[str]]:
    """The table as strings: a header row, then one row per figure."""
    header = ["scenario", "figure", *result.impls]
    with_ratio = OURS in result.impls and THEIRS in result.impls
    if with_ratio:
        header.append(f"{OURS}/{THEIRS}")
    lines = [header]
    for row in rows(result):
        cells = [
            format_cell(row.metric, row.cells[impl], _runs_for(result, row.scenario, impl))
            for impl in result.impls
        ]
        line = [row.scenario, _figure(row.metric), *cells]
        if with_ratio:
            line.append("—" if row.ratio is None else f"{row.ratio:.2f}")
        lines.append(line)
    return lines


def failure_lines(result: BenchResult) -> list[str]:
    """One line per run that missed its end state (not in the statistics)."""
    return [f"{r.impl} {r.scenario} run {r.run}: {r.error}" for r in result.results if not r.ok]


def render_text(result: BenchResult) -> str:
    table = grid(result)
    if len(table) == 1:
        table.append(["(no figures)", "", *["" for _ in table[0][2:]]])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    out = []
    for index, line in enumerate(table):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    failures = failure_lines(result)
    if failures:
        out += ["", "runs that missed their end state (left out of the figures):"]
        out += [f"  {line}" for line in failures]
    return "\n".join(out) + "\n"


def render_markdown(result: BenchResult) -> str:
    table = grid(result)
    out = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    out += ["| " + " | ".join(line) + " |" for line in table[1:]]
    return "\n".join(out) + "\n"
