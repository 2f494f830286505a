"""The idle cost of each process of a daemon: where its CPU and memory go (pure).

``hblab bench`` keeps, for each node and idle slice, every process of the daemon's
tree with its CPU share and PSS (lab.bench.idle). This table shows them per
implementation and process: median (min–max) over the nodes and slices.
"""

from __future__ import annotations

from collections import defaultdict

from lab.bench.model import BenchResult
from lab.bench.stats import Summary, summarize

IDLE = "idle"


def per_process(result: BenchResult) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    """impl → process label → (CPU % samples, PSS KiB samples), one per node and slice.

    Processes with the same label on one node and slice are added up first.
    """
    found: dict[str, dict[str, tuple[list[float], list[float]]]] = defaultdict(dict)
    for run in result.results:
        if run.scenario != IDLE or not run.ok:
            continue
        cpu: dict[str, float] = defaultdict(float)
        pss: dict[str, float] = defaultdict(float)
        for proc in run.notes.get("processes", []):
            cpu[proc["label"]] += float(proc["cpu_pct"])
            pss[proc["label"]] += float(proc["pss_kib"])
        for label in cpu:
            cpus, psss = found[run.impl].setdefault(label, ([], []))
            cpus.append(cpu[label])
            psss.append(pss[label])
    return found


def _cell(summary: Summary | None, scale: float, digits: int) -> str:
    if summary is None:
        return "—"
    text = f"{summary.median * scale:.{digits}f}"
    if summary.minimum != summary.maximum:
        text += f" ({summary.minimum * scale:.{digits}f}–{summary.maximum * scale:.{digits}f})"
    return text


def render_markdown(result: BenchResult) -> str:
    """The per-process table, or "" when the bench kept no per-process figures."""
    table = per_process(result)
    if not table:
        return ""
    lines = [
        "| implementation | process | idle CPU (%) | idle PSS (MiB) |",
        "|---|---|---|---|",
    ]
    for impl in result.impls:
        for label, (cpus, psss) in sorted(table.get(impl, {}).items()):
            cpu, pss = _cell(summarize(cpus), 1.0, 3), _cell(summarize(psss), 1 / 1024, 1)
            lines.append(f"| {impl} | {label} | {cpu} | {pss} |")
    return "\n".join(lines) + "\n"
