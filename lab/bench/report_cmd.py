"""`hblab report` (one scenario as a timeline picture) and `hblab topology` (the lab).

``report`` runs the scenario once in a fresh lab (or reads a trace recorded by
``report`` or ``bench --record``), saves the trace as JSON beside the picture,
and writes the picture (SVG or PNG, by the suffix of -o) plus an HTML page.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lab.bench.analysis import metrics_of
from lab.bench.metrics import INFO, Metric
from lab.bench.scenarios import SCENARIOS, ScenarioName
from lab.bench.table import format_value
from lab.bench.trace import Trace, load_trace, save_trace
from lab.errors import LabError
from lab.hafiles import PROFILES, parse_overrides

DEFAULT_DIR = Path("build/report")
SUFFIXES = (".svg", ".png")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="run one scenario and draw its failover timeline")
    report.add_argument(
        "scenario",
        nargs="?",
        default=ScenarioName.POWEROFF.value,
        choices=[s.value for s in SCENARIOS],
        help="default: poweroff",
    )
    report.add_argument("-o", dest="out", type=Path, help="picture file (.svg or .png)")
    report.add_argument("--impl", default="heartbeat", help="heartbeat | hbnode | mixed spec")
    report.add_argument("--read", type=Path, help="a recorded trace (JSON) instead of a run")
    report.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    report.add_argument("--set", action="append", default=[], metavar="DIRECTIVE=VALUE")
    report.add_argument("--from", dest="start", type=float, help="window start (s from fault)")
    report.add_argument("--to", dest="end", type=float, help="window end (s from fault)")
    topo = sub.add_parser("topology", help="draw the lab (nodes, addresses, bridges, VIP)")
    topo.add_argument("-o", dest="out", type=Path, default=DEFAULT_DIR / "topology.svg")
    topo.add_argument(
        "--topology",
        type=Path,
        help="draw this topology file (default: the lab's, or the reference)",
    )
    topo.add_argument(
        "--holder", action="append", help="draw this node as the VIP holder (no lab needed)"
    )


def _picture_path(args: argparse.Namespace, trace: Trace) -> Path:
    out: Path = args.out or DEFAULT_DIR / f"{trace.impl.replace(';', '+')}-{trace.scenario}.svg"
    if out.suffix not in SUFFIXES:
        raise LabError(f"-o wants a .svg or .png file, got {out}")
    return out


def _record(args: argparse.Namespace) -> Trace:
    from lab.bench.runner import ensure_no_lab, run_once  # scapy and the lab: a live run only

    ensure_no_lab(args.backend)
    scenario = SCENARIOS[ScenarioName(args.scenario)]
    overrides = parse_overrides(args.set)
    result, trace = run_once(args.impl, scenario, 1, args.profile, overrides, args.backend)
    if trace is None:
        raise LabError(f"{args.scenario} with {args.impl} did not run: {result.error}")
    if result.error:
        print(f"hblab report: warning: {result.error} (drawing what was recorded)")
    return trace


def figures(trace: Trace) -> dict[str, str]:
    """The run's figures as the HTML page lists them."""
    shown = {"implementation": trace.impl, "scenario": trace.scenario, "fault": trace.fault}
    for name, value in metrics_of(trace).items():
        metric = Metric(name)
        info = INFO[metric]
        text = "—" if value is None else f"{format_value(metric, value)} {info.unit}"
        shown[info.label] = text
    return shown


def report(args: argparse.Namespace) -> int:
    from lab.bench import plot, timeline  # matplotlib: only when drawing

    trace = load_trace(args.read) if args.read else _record(args)
    out = _picture_path(args, trace)
    if args.read is None:
        save_trace(trace, out.with_suffix(".json"))
    picture = plot.draw(timeline.build(trace, args.start, args.end), out)
    page = plot.html_page(
        picture,
        f"{trace.impl}: {trace.scenario} — {trace.fault}",
        figures(trace),
        out.with_suffix(".html"),
    )
    print(f"wrote {picture} and {page}")
    return 0


def topology(args: argparse.Namespace) -> int:
    from lab.backends import make_lab
    from lab.bench import topodraw
    from lab.topology import load

    holders: list[str] | None = args.holder
    if args.topology is not None:
        topo = load(args.topology)
    else:
        lab = make_lab(args.backend)  # the lab that is up draws its own topology
        topo = lab.topo
        if holders is None and lab.is_up:
            holders = lab.vip_holders()
    if args.out.suffix not in SUFFIXES:
        raise LabError(f"-o wants a .svg or .png file, got {args.out}")
    print(f"wrote {topodraw.draw(topo, args.out, holders)}")
    return 0


def main(args: argparse.Namespace) -> int:
    return report(args) if args.command == "report" else topology(args)
