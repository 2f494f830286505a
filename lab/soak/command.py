"""`hblab soak`: N poweroff/poweron cycles of the VIP holder in one lab, then leaks.

The lab comes up (both nodes hbnode by default), a baseline snapshot is taken once
the cluster has first converged, the cycles run with one progress line each, and
the lab is compared with the baseline afterwards. Then it goes down and nothing of
it may be left. It needs its own HBLAB_PREFIX/HBLAB_STATE_DIR (make soak sets them):
it refuses to run where a lab is already up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.hafiles import PROFILES, cluster_timers, parse_overrides
from lab.soak.growth import DaemonSample, growth_report
from lab.soak.stats import distribution

FORMAT = "hblab-soak/1"
REPO = Path(__file__).resolve().parents[2]
MASTER = "master"
MAX_FAILED_IN_A_ROW = 3  # a cluster that no longer converges is not soaked further
SETTLE_TIMEOUT = 20.0  # a leak must persist this long (an ARP burst lasts ~10 s)
PAGE_TIMEOUT = 10.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    soak = sub.add_parser(
        "soak", help="power the VIP holder off and on N times, measure, check for leaks"
    )
    soak.add_argument("--cycles", type=int, default=200, help="how many cycles (default 200)")
    soak.add_argument("--impl", default="hbnode", help="heartbeat | hbnode | master=…,slave=…")
    soak.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    soak.add_argument("--set", action="append", default=[], metavar="DIRECTIVE=VALUE")
    soak.add_argument(
        "--minutes", type=float, default=0.0, help="start no cycle after this long (0: no limit)"
    )
    soak.add_argument("--json", metavar="FILE", help="write every cycle and the summary here")


def progress(line: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


@dataclass
class SoakResult:
    impl: str
    profile: str
    cycles_asked: int
    timers: dict[str, float]
    started: str = ""
    revision: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    cycles: list[dict[str, Any]] = field(default_factory=list)
    baseline: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] = field(default_factory=dict)
    baseline_problems: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    after_down: list[str] = field(default_factory=list)
    stopped_early: str | None = None  # why fewer cycles ran than asked
    error: str | None = None
    seconds: float = 0.0

    @property
    def converged(self) -> int:
        return sum(1 for c in self.cycles if c["error"] is None and c["one_holder"])

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and bool(self.cycles)
            and self.converged == len(self.cycles)
            and not (self.baseline_problems or self.leaks or self.after_down)
        )

    def summary(self) -> dict[str, Any]:
        figures = {}
        for key in ("outage_s", "outage_total_s", "two_holders_s", "takeover_s", "converge_s"):
            spread = distribution(c[key] for c in self.cycles)
            figures[key] = spread.to_json() if spread else None
        samples = [
            {node: DaemonSample(**d) for node, d in c.get("daemons", {}).items()}
            for c in self.cycles
        ]
        return {
            "cycles_run": len(self.cycles),
            "cycles_converged": self.converged,
            "cycles_with_two_holders": sum(1 for c in self.cycles if c["two_holders_s"]),
            "figures": figures,
            "growth": growth_report(samples),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            **{k: v for k, v in self.__dict__.items()},
            "summary": self.summary(),
            "ok": self.ok,
        }


def run_soak(args: argparse.Namespace, say: Callable[[str], None] = progress) -> SoakResult:
    # Loads scapy and the lab (slow, root): only when a soak actually runs.
    from lab.backends import make_lab
    from lab.bench.machine import revision, this_machine
    from lab.bench.runner import start_cluster
    from lab.topology import REFERENCE

    if args.cycles < 1:
        raise LabError("--cycles must be at least 1")
    overrides = parse_overrides(args.set)
    timers = cluster_timers(REFERENCE, args.profile, overrides)
    result = SoakResult(
        args.impl,
        args.profile,
        args.cycles,
        {k: getattr(timers, k) for k in ("keepalive", "deadtime", "warntime", "initdead")},
        started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        revision=revision(REPO),
        machine=asdict(this_machine()),
    )
    lab = make_lab(args.backend)
    if lab.is_up:
        raise LabError(
            "a lab is up with this HBLAB_PREFIX/HBLAB_STATE_DIR: the soak needs its own "
            "(hblab down first, or run with HBLAB_PREFIX=hbs HBLAB_STATE_DIR=/var/lib/hbs)"
        )
    began = time.monotonic()
    try:
        say(f"lab up: {args.impl}, profile {args.profile}")
        start_cluster(lab, args.impl, args.profile, overrides)
        _soak(lab, args, overrides, result, say)
    except KeyboardInterrupt:
        result.stopped_early = "interrupted"
    except Exception as exc:  # the lab still goes down, and what was measured is kept
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        _down(lab, result, say)
        result.seconds = round(time.monotonic() - began, 1)
    return result


def _soak(
    lab: Any,
    args: argparse.Namespace,
    overrides: dict[str, str],
    result: SoakResult,
    say: Callable[[str], None],
) -> None:
    from lab.bench.runner import serves, wait
    from lab.soak import leaks
    from lab.soak.cycle import cycle_line, run_cycle
    from lab.topology import REFERENCE

    wait(serves(lab, MASTER), PAGE_TIMEOUT, "the client gets master's page at startup")
    snapshot = _snapshotter(lab)
    expected = leaks.expected_addresses(REFERENCE, MASTER)
    previous: list[leaks.Snapshot] = []

    def steady(snap: leaks.Snapshot) -> list[str]:
        """The expected addresses, and the same processes as a second ago: a start
        script still running must not become part of the baseline."""
        found = leaks.unexpected_addresses(expected, snap.addresses)
        moving = ["first look"] if not previous else leaks.moving(previous[-1], snap)
        previous.append(snap)
        return found + moving

    baseline, problems = leaks.settle(snapshot, steady, SETTLE_TIMEOUT)
    problems = [p for p in problems if p != "first look"]
    result.baseline, result.baseline_problems = baseline.to_json(), problems
    owner = MASTER if overrides.get("auto_failback", "on") == "on" else None
    deadline = time.monotonic() + args.minutes * 60 if args.minutes > 0 else None
    started, failed_in_a_row = time.monotonic(), 0
    for number in range(1, args.cycles + 1):
        if deadline is not None and time.monotonic() >= deadline:
            result.stopped_early = f"time limit of {args.minutes:g} min reached"
            break
        cycle = run_cycle(lab, number, owner)
        result.cycles.append(cycle.to_json())
        failed_in_a_row = 0 if cycle.ok else failed_in_a_row + 1
        elapsed = time.monotonic() - started
        left = elapsed / number * (args.cycles - number)
        say(
            f"[{number}/{args.cycles}] {cycle_line(cycle)} ({cycle.seconds:.1f} s) "
            f"— elapsed {elapsed / 60:.1f} min, ~{left / 60:.1f} min left"
        )
        if failed_in_a_row >= MAX_FAILED_IN_A_ROW:
            result.stopped_early = f"{failed_in_a_row} cycles in a row did not converge"
            break
    say("cycles done: comparing the lab with the baseline")
    holders = lab.vip_holders()
    # Only the expected addresses: the VIP on the one holder (with auto_failback off it
    # may be either node, so the baseline's addresses are not the reference then).
    final_expected = leaks.expected_addresses(REFERENCE, holders[0] if len(holders) == 1 else None)

    def compare(snap: leaks.Snapshot) -> list[str]:
        found = leaks.diff(baseline, snap, addresses=False)
        return found + leaks.unexpected_addresses(final_expected, snap.addresses)

    final, result.leaks = leaks.settle(snapshot, compare, SETTLE_TIMEOUT)
    result.final = final.to_json()


def _snapshotter(lab: Any) -> Callable[[], Any]:
    from lab.soak import leaks

    return leaks.snapshotter(lab)


def _down(lab: Any, result: SoakResult, say: Callable[[str], None]) -> None:
    """Take the lab down, then look for anything of it left on the host."""
    from lab import wiring
    from lab.soak import leaks
    from lab.topology import REFERENCE

    state = lab.state
    recorded = []
    if state is not None:
        recorded = list(state.extra_pids)
        for rec in state.nodes.values():
            recorded += [p for p in (rec.init, rec.unshare) if p is not None]
    lab.down()
    ports = {wiring.switch_port(h.name, i.name) for h in REFERENCE.hosts for i in h.interfaces}
    result.after_down = leaks.leftovers_after_down(
        REFERENCE,
        lab.state_dir,
        recorded,
        wiring.existing_namespaces(),
        Path("/proc/mounts").read_text(),
        {link.name for link in Path("/sys/class/net").iterdir()},
        ports,
    )
    result.after_down += leaks.processes_naming(lab.state_dir / "nodes")
    result.after_down += lab.leftovers()
    say("lab down: " + ("nothing left" if not result.after_down else "; ".join(result.after_down)))


def render(result: SoakResult) -> str:
    """The summary a person reads: convergence, the outage distribution, leaks."""
    summary = result.summary()
    run, ok = summary["cycles_run"], summary["cycles_converged"]
    lines = [
        f"soak: {result.impl}, profile {result.profile} "
        f"(keepalive {result.timers['keepalive']:g} s, deadtime {result.timers['deadtime']:g} s)"
        f", {run} of {result.cycles_asked} cycles in {result.seconds / 60:.1f} min",
        f"converged to exactly one holder: {ok}/{run}",
    ]
    if result.stopped_early:
        lines.append(f"stopped early: {result.stopped_early}")
    if result.error:
        lines.append(f"error: {result.error}")
    names = {
        "outage_s": "HTTP outage per cycle, longest (s)",
        "outage_total_s": "HTTP outage per cycle, all (s)",
        "takeover_s": "poweroff → other node holds (s)",
        "converge_s": "poweron → converged (s)",
    }
    for key, title in names.items():
        spread = summary["figures"][key]
        if spread:
            lines.append(
                f"{title:<38} min {spread['minimum']:.3f}  median {spread['median']:.3f}  "
                f"p90 {spread['p90']:.3f}  p99 {spread['p99']:.3f}  max {spread['maximum']:.3f}"
            )
    two = summary["figures"]["two_holders_s"]
    lines.append(
        f"two holders (two MACs answered ARP): {two['total'] if two else 0:.3f} s in total, "
        f"in {summary['cycles_with_two_holders']} cycles"
    )
    lines += growth_lines(summary["growth"])
    for title, found in (
        ("addresses at the baseline", result.baseline_problems),
        ("leaks after the cycles", result.leaks),
        ("left after hblab down", result.after_down),
    ):
        lines.append(f"{title}: " + ("none" if not found else ""))
        lines += [f"  {line}" for line in found]
    return "\n".join(lines) + "\n"


def growth_lines(growth: dict[str, Any]) -> list[str]:
    """Each long-lived daemon's RSS, fds and threads, and whether they level off."""
    lines = []
    for node, entry in growth.items():
        if "rss_kib" not in entry:
            continue
        parts = []
        for key, unit in (("rss_kib", "KiB"), ("fds", "fds"), ("threads", "threads")):
            item, fit = entry[key], entry[key]["fit"] or {}
            verdict = "levels off" if item["levels_off"] else "GROWS"
            parts.append(
                f"{key} {item['first']} -> {item['at_half']} -> {item['last']} {unit} "
                f"(last half: {fit.get('slope_per_cycle', 0):+.3f}/cycle "
                f"± {fit.get('stderr', 0):.3f}, {verdict})"
            )
        lines.append(f"{node}'s daemon over {entry['cycles_same_pid']} cycles: " + "; ".join(parts))
    return lines


def main(args: argparse.Namespace) -> int:
    result = run_soak(args)
    print(render(result), end="")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result.to_json(), indent=2) + "\n")
        progress(f"wrote {path}")
    return 0 if result.ok else 1
