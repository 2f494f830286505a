"""``hblab lessons start NN``: the lab a lesson needs, up and ready, and its first step."""

from __future__ import annotations

import argparse

from lab.backends import default_backend, make_lab
from lab.errors import LabError
from lab.impls import DEFAULT_IMPL, parse_impls, spec_text
from lab.ready import ready_timeout, wait_ready
from lab.scenario.lessons import Lesson, first_step
from lab.scenario.model import Scenario


def main(lesson: Lesson, scenario: Scenario, args: argparse.Namespace) -> int:
    spec = scenario.lab
    lab = make_lab(args.backend or spec.backend or default_backend(), spec.topology)
    if lab.is_up:
        raise LabError("a lab is up: hblab down first (each lesson brings up the lab it needs)")
    nodes = [h.name for h in lab.topo.cluster_nodes]
    impls = parse_impls(args.impl or spec.impl or DEFAULT_IMPL.value, nodes)
    cluster = spec_text(impls)
    if spec.impls is not None and cluster not in spec.impls:
        raise LabError(
            f"{scenario.path.name} is written for {', '.join(spec.impls)}, not {cluster}"
        )
    lab.up(impls, spec.profile, spec.overrides, spec.config, spec.start, spec.fencing)
    if spec.start:
        wait_ready(lab, ready_timeout(lab.timers()), lambda line: print(line, flush=True))
    sets = " --fencing" if spec.fencing else ""
    sets += "".join(f" --set {k}={v}" for k, v in spec.overrides.items())
    started = "heartbeat running" if spec.start else "heartbeat installed, not started"
    print(f"Lesson {lesson.number}: {lesson.title}")
    print(f"  lab: {cluster}, profile {spec.profile}{sets}; {started}")
    print(f"  page: {lesson.page}")
    print()
    print(first_step(lesson.page, scenario.path) or f"(see {lesson.page})")
    print()
    print(f"When you have done the lesson: hblab lessons check {scenario.path.stem}")
    print(f"  (the same as: hblab run --observe {scenario.path})")
    return 0
