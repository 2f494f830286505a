"""A classroom on one machine: many labs side by side, one per student.

``python -m lab.classroom --labs 12 --minutes 10`` brings up LABS labs under the
prefixes ``cls01`` … (each its own namespaces, names and state; nothing shared),
measures what each lab costs as the class grows (CPU of its daemons and the
machine's load, PSS), watches them all for MINUTES with no fault (a false
failover is any change of VIP holder, or a node declared dead), then powers off
the holder in every lab and checks that each peer takes over. Everything is taken
down at the end, whatever happened. The figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.backends import Lab, make_lab
from lab.bench.idle import CLK_TCK, cpu_ticks, pss_kib
from lab.errors import LabError
from lab.impls import parse_impls

READY_TIMEOUT = 120.0
SAMPLE_EVERY = 1.0
STEP_SECONDS = 30.0  # idle window measured after each step of the ramp


@dataclass
class Figures:
    labs: int
    daemons_cpu_pct: float  # all labs' daemons, % of one core
    machine_busy_pct: float  # the whole machine, % of all cores
    daemons_pss_mib: float

    @property
    def per_lab(self) -> dict[str, float]:
        return {
            "cpu_pct": round(self.daemons_cpu_pct / self.labs, 3),
            "pss_mib": round(self.daemons_pss_mib / self.labs, 2),
        }


@dataclass
class ClassResult:
    labs: int
    minutes: float
    impl: str
    ramp: list[dict[str, Any]] = field(default_factory=list)
    false_failovers: list[str] = field(default_factory=list)
    takeovers_s: list[float | None] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and not self.false_failovers
            and all(t is not None for t in self.takeovers_s)
        )


def _proc(pid: int, name: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return None


def _daemon_pids(labs: list[Lab]) -> list[int]:
    return [pid for lab in labs for h in lab.topo.cluster_nodes for pid in lab.daemon_tree(h.name)]


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine (/proc/stat's cpu line)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def measure(labs: list[Lab], seconds: float) -> Figures:
    """CPU and PSS of every lab's daemons over ``seconds``, and the machine's load."""
    pids = _daemon_pids(labs)
    before = {p: cpu_ticks(s) for p in pids if (s := _proc(p, "stat"))}
    busy0, total0 = _machine_ticks()
    time.sleep(seconds)  # the measurement window itself
    after = {p: cpu_ticks(s) for p in pids if (s := _proc(p, "stat"))}
    busy1, total1 = _machine_ticks()
    used = sum(after[p] - before.get(p, after[p]) for p in after)
    pss = sum(pss_kib(r) for p in pids if (r := _proc(p, "smaps_rollup")))
    return Figures(
        len(labs),
        round(100.0 * used / CLK_TCK / seconds, 2),
        round(100.0 * (busy1 - busy0) / max(1, total1 - total0), 1),
        round(pss / 1024, 1),
    )


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise LabError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)
    return time.monotonic() - started


def _bring_up(index: int, impl: str, profile: str) -> Lab:
    lab = make_lab("netns", prefix=f"cls{index:02d}")
    if lab.is_up:
        lab.down()  # a killed classroom run left it: remove what it recorded
    nodes = [h.name for h in lab.topo.cluster_nodes]
    lab.up(parse_impls(impl, nodes), profile, {}, None, True)
    return lab


def _holds(lab: Lab, node: str) -> Callable[[], bool]:
    return lambda: lab.vip_holders() == [node]


def _ready(labs: list[Lab]) -> None:
    for lab in labs:
        owner = lab.topo.vip_owner
        _wait(_holds(lab, owner), READY_TIMEOUT, f"{lab.topo.prefix}: {owner} holds the VIP")


def run(
    count: int, minutes: float, impl: str, profile: str, say: Callable[[str], None]
) -> ClassResult:
    """The class grows a lab at a time (measured at a third, two thirds and all of it),
    then is watched, then every holder is powered off. Every lab goes down at the end."""
    result = ClassResult(count, minutes, impl)
    steps = sorted({max(1, count // 3), max(1, 2 * count // 3), count})
    labs: list[Lab] = []
    try:
        for index in range(1, count + 1):
            labs.append(_bring_up(index, impl, profile))
            if index in steps:
                _ready(labs)
                figures = measure(labs, STEP_SECONDS)
                result.ramp.append({**asdict(figures), "per_lab": figures.per_lab})
                say(f"{index} labs: {figures} per lab {figures.per_lab}")
        _watch(labs, minutes, result, say)
        _takeovers(labs, result, say)
    except (LabError, OSError) as exc:
        result.error = str(exc)
    finally:
        for lab in labs:
            lab.down()
    return result


def _watch(
    labs: list[Lab], minutes: float, result: ClassResult, say: Callable[[str], None]
) -> None:
    """``minutes`` with no fault: any change of holder, or a death, is a false failover."""
    deadline = time.monotonic() + minutes * 60
    sizes = {lab.topo.prefix: {h.name: _log_size(lab, h.name) for h in lab.topo.cluster_nodes}
             for lab in labs}  # fmt: skip
    while time.monotonic() < deadline:
        for lab in labs:
            holders = lab.vip_holders()
            if holders != [lab.topo.vip_owner]:
                result.false_failovers.append(f"{lab.topo.prefix}: holders {holders}")
        time.sleep(SAMPLE_EVERY)
    for lab in labs:
        for host in lab.topo.cluster_nodes:
            log = _log_since(lab, host.name, sizes[lab.topo.prefix][host.name])
            if "is dead" in log:
                result.false_failovers.append(f"{lab.topo.prefix}: {host.name} declared a death")
    found = len(result.false_failovers)
    say(f"watched {len(labs)} labs for {minutes:g} min: {found} false failovers")


def _log_size(lab: Lab, node: str) -> int:
    path = lab.log_dir(node) / "ha-log"
    return path.stat().st_size if path.exists() else 0


def _log_since(lab: Lab, node: str, offset: int) -> str:
    with (lab.log_dir(node) / "ha-log").open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def _takeovers(labs: list[Lab], result: ClassResult, say: Callable[[str], None]) -> None:
    """Power off every lab's holder at once; each peer must take over."""
    started = time.monotonic()
    for lab in labs:
        lab.poweroff(lab.topo.vip_owner)
    for lab in labs:
        peer = lab.topo.peer_of(lab.topo.vip_owner).name
        try:
            _wait(_holds(lab, peer), 30.0, f"{lab.topo.prefix}: {peer} takes over")
            result.takeovers_s.append(round(time.monotonic() - started, 2))
        except LabError:
            result.takeovers_s.append(None)
    say(f"takeovers (s after the simultaneous poweroffs): {result.takeovers_s}")


def _say(line: str) -> None:
    print(f"[classroom {time.strftime('%H:%M:%S')}] {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.classroom", description=__doc__)
    parser.add_argument("--labs", type=int, default=12)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--impl", default="hbnode")
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    if not 1 <= args.labs <= 40:
        print("python -m lab.classroom: --labs wants 1 to 40", file=sys.stderr)
        return 2
    result = run(args.labs, args.minutes, args.impl, args.profile, _say)
    text = json.dumps({**asdict(result), "ok": result.ok}, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(text)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
