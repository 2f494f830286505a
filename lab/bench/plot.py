"""Draw a failover timeline with matplotlib, and wrap it in an HTML page.

One horizontal lane per thing watched, sharing the time axis (seconds from the
fault): node states, heartbeat packets per sender and link, who answers ARP for the
VIP, and the client's HTTP probes. Failover steps are dashed vertical lines with
their labels staggered above the lanes, so close steps stay readable.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lab.bench.timeline import Mark, Timeline

STATE_COLORS = {
    "?": "#eeeeee",
    "off": "#9e9e9e",
    "init": "#ffe082",
    "up": "#aed581",
    "active": "#43a047",
    "dead": "#e53935",
    "stopped": "#616161",
}
NODE_COLORS = ["#1e88e5", "#fb8c00", "#8e24aa", "#00897b"]
LABEL_LEVELS = 9  # rows of step labels above the lanes


def _lanes(timeline: Timeline) -> list[str]:
    lanes = [f"{n} state" for n in timeline.nodes]
    lanes += [f"packets {k}" for k in sorted(timeline.ticks)]
    lanes += [f"VIP on {n}" for n in sorted(timeline.holders)]
    lanes.append("client HTTP")
    return lanes


def draw(timeline: Timeline, out: Path) -> Path:
    """Render ``timeline`` to ``out`` (.svg or .png); returns ``out``."""
    lanes = _lanes(timeline)
    span = max(timeline.end - timeline.start, 1e-6)
    levels = label_levels(timeline.marks, span)
    rows = max(levels, default=-1) + 1  # label rows actually used
    height = 1.6 + 0.45 * len(lanes) + 0.22 * rows
    fig, ax = plt.subplots(figsize=(13, height))
    y = {name: len(lanes) - 1 - i for i, name in enumerate(lanes)}
    colors = {n: NODE_COLORS[i % len(NODE_COLORS)] for i, n in enumerate(timeline.nodes)}
    _draw_states(ax, timeline, y)
    for key, times in timeline.ticks.items():
        sender = key.split(" ")[0]
        row = y[f"packets {key}"]
        ax.vlines(times, row - 0.3, row + 0.3, color=colors.get(sender, "#555555"), lw=0.8)
    for node, segments in timeline.holders.items():
        row = y[f"VIP on {node}"]
        spans = [(s.start, s.end - s.start) for s in segments]
        ax.broken_barh(spans, (row - 0.3, 0.6), color=colors.get(node, "#555555"))
    row = y["client HTTP"]
    ax.vlines(timeline.http_ok, row - 0.3, row + 0.3, color="#43a047", lw=0.6, label="HTTP ok")
    ax.vlines(timeline.http_fail, row - 0.3, row + 0.3, color="#e53935", lw=0.9, label="failed")
    _draw_marks(ax, timeline.marks, levels, len(lanes))
    ax.axvline(0.0, color="#b71c1c", lw=1.5)
    ax.set_yticks(list(y.values()), list(y.keys()))
    ax.set_ylim(-0.7, len(lanes) - 0.3 + 0.45 * rows)
    ax.set_xlim(timeline.start, timeline.end)
    ax.set_xlabel("seconds from the fault (t = 0)")
    ax.set_title(timeline.title, loc="left", fontsize=11)
    ax.grid(axis="x", color="#dddddd", lw=0.5)
    ax.spines[["top", "right"]].set_visible(False)
    return save_figure(fig, out)


def save_figure(fig: Figure, out: Path) -> Path:
    """Write ``fig`` (format from the suffix); an SVG is byte-stable from run to run."""
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".svg":
        # No date and fixed element ids: a redrawn picture in docs/ diffs only if it changed.
        with matplotlib.rc_context({"svg.hashsalt": "hblab"}):
            fig.savefig(out, metadata={"Date": None})
    else:
        fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _draw_states(ax: Axes, timeline: Timeline, y: dict[str, int]) -> None:
    span = max(timeline.end - timeline.start, 1e-6)
    for node, segments in timeline.states.items():
        row = y[f"{node} state"]
        for seg in segments:
            color = STATE_COLORS.get(seg.label, "#cccccc")
            ax.broken_barh([(seg.start, seg.end - seg.start)], (row - 0.35, 0.7), color=color)
            if (seg.end - seg.start) / span > 0.04:  # label only where it fits
                middle = (seg.start + seg.end) / 2
                ax.text(middle, row, seg.label, ha="center", va="center", fontsize=8)


def label_levels(marks: list[Mark], span: float, chars_per_span: float = 170.0) -> list[int]:
    """A row for each mark's label so that labels in one row do not overlap.

    Greedy, in time order: the lowest row whose last label ends before this mark;
    when every row is taken, the row that frees first. Widths are estimated from
    the label's length (``chars_per_span`` characters fit across the axis).
    """
    ends = [float("-inf")] * LABEL_LEVELS
    levels = []
    for mark in marks:
        width = (len(_label(mark)) + 2) * span / chars_per_span
        free = [i for i, end in enumerate(ends) if end <= mark.t]
        level = free[0] if free else min(range(LABEL_LEVELS), key=lambda i: ends[i])
        ends[level] = mark.t + width
        levels.append(level)
    return levels


def _label(mark: Mark) -> str:
    text = f"{mark.node}: {mark.label}" if mark.node else mark.label
    return f"{text} ({mark.t:+.2f} s)"


def _draw_marks(ax: Axes, marks: list[Mark], levels: list[int], lanes: int) -> None:
    for mark, level in zip(marks, levels, strict=True):
        top = lanes - 0.5 + 0.45 * (level + 0.5)
        ax.vlines(mark.t, -0.5, top, color="#546e7a", lw=0.6, ls="--")
        ax.text(mark.t, top, " " + _label(mark), fontsize=7, va="center")


def html_page(image: Path, title: str, figures: dict[str, str], out: Path) -> Path:
    """A self-contained page: the picture (inlined) and the run's figures."""
    data = base64.b64encode(image.read_bytes()).decode()
    mime = "image/svg+xml" if image.suffix == ".svg" else "image/png"
    rows = "\n".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in figures.items()
    )
    out.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} img{{max-width:100%}}
td{{padding:2px 12px}} table{{border-collapse:collapse}} tr:nth-child(odd){{background:#f4f4f4}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<img alt="failover timeline" src="data:{mime};base64,{data}">
<h2>Figures of this run</h2>
<table>
{rows}
</table>
</body></html>
"""
    )
    return out
