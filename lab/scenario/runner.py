"""A scenario file on a lab: bring its lab up, do its steps, judge its checks, take it down.

``--observe`` instead judges the file's ``check:`` list on the lab that is up,
and changes nothing: no step runs, no lab comes up or goes down, and every watcher
only listens (or, for the client's probes, asks for the page as any client would).
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from hbnode.core.timers import STARTUP_DT_PERIOD
from lab import freezes
from lab.backends import Lab, default_backend, make_lab
from lab.bench.runner import sees_active
from lab.errors import LabError
from lab.impls import DEFAULT_IMPL, parse_impls, spec_text
from lab.ready import NotReady, ready_timeout, wait_ready
from lab.scenario import actions, logscan
from lab.scenario.checks import Context, StepTiming, Window
from lab.scenario.judges import judge
from lab.scenario.model import Scenario, Step
from lab.scenario.record import Recorders, every_check, needs_of
from lab.scenario.result import Row, ScenarioResult, Section, Status

MAX_RUN = 590.0  # the watchers stop at 600 s: a run must be judged before that
PEER_ACTIVE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Options:
    impl: str | None = None  # --impl: the cluster to run, whatever the file says
    backend: str | None = None
    keep: bool = False  # leave the lab up after the run
    log_scan: bool = True  # after a passed run: bad news in ha-log fails it (lab.badnews)
    on_row: Callable[[Row], None] = lambda row: None  # each row as soon as it is known
    progress: Callable[[str], None] = lambda line: None


def cluster_text(scenario: Scenario, options: Options) -> str:
    """The cluster this run uses: --impl, else the file's lab.impl, else the default."""
    return options.impl or scenario.lab.impl or DEFAULT_IMPL.value


class _Rows:
    def __init__(self, result: ScenarioResult, options: Options) -> None:
        self.result, self.options = result, options

    def add(self, row: Row) -> Row:
        self.result.rows.append(row)
        self.options.on_row(row)
        return row


def run(scenario: Scenario, options: Options) -> ScenarioResult:
    """Run the file's steps on a lab of its own (LabError if one is up already)."""
    started = time.monotonic()
    freezes.FREEZES.start()  # from the first step on, a machine that stands still is seen
    backend = options.backend or scenario.lab.backend or default_backend()
    result = ScenarioResult(scenario.path, scenario.name, backend=backend)
    result.profile = scenario.lab.profile
    lab = make_lab(backend, scenario.lab.topology)
    nodes = [h.name for h in lab.topo.cluster_nodes]
    result.cluster = spec_text(parse_impls(cluster_text(scenario, options), nodes))
    if scenario.lab.impls is not None and result.cluster not in scenario.lab.impls:
        result.skipped = f"written for {', '.join(scenario.lab.impls)}, not {result.cluster}"
        return result
    if lab.is_up:
        raise LabError(
            f"a {backend} lab is up under this HBLAB_PREFIX: hblab run brings up its own "
            "(hblab down first; or check the running lab with hblab run --observe)"
        )
    rows = _Rows(result, options)
    try:
        if _bring_up(lab, scenario, result.cluster, rows, options):
            declared = logscan.declared(scenario, lab)  # while every node is on
            _run_on(lab, scenario, result.cluster, rows)
            if options.log_scan and not result.failed:
                rows.add(logscan.scan_row(scenario, lab, declared))
    finally:
        if not options.keep:
            lab.down()
        result.seconds = time.monotonic() - started
    return result


def _bring_up(lab: Lab, scenario: Scenario, cluster: str, rows: _Rows, options: Options) -> bool:
    spec = scenario.lab
    what = f"lab up: {cluster}, profile {spec.profile}" + "".join(
        f", {k}={v}" for k, v in spec.overrides.items()
    )
    what += ", fencing" if spec.fencing else ""
    began = time.monotonic()
    nodes = [h.name for h in lab.topo.cluster_nodes]
    try:
        impls = parse_impls(cluster, nodes)
        lab.up(impls, spec.profile, spec.overrides, spec.config, spec.start, spec.fencing)
        daemons_started = time.monotonic()  # `service heartbeat start` has returned on each
        if spec.start:
            took = wait_ready(lab, ready_timeout(lab.timers()), options.progress)
            for node in nodes:
                for peer in (n for n in nodes if n != node):
                    _wait(sees_active(lab, node, peer), PEER_ACTIVE_TIMEOUT)
            _settle(daemons_started, lab.timers().keepalive)
            what += f"; ready in {took:.1f} s"
    except (LabError, OSError, subprocess.SubprocessError) as exc:
        status = Status.FAIL if isinstance(exc, NotReady) else Status.ERROR
        rows.add(Row(status, Section.LAB, spec.line, what, detail=_one_line(exc)))
        return False
    rows.add(Row(Status.PASS, Section.LAB, spec.line, what, seconds=time.monotonic() - began))
    return True


def _settle(started: float, keepalive: float) -> None:
    """Wait out the daemons' start-up period: for STARTUP_DT_PERIOD a node announces a
    deadtime 2 s longer (as Heartbeat does), so a fault right after start would be
    detected late. The steady state begins once a status with the plain deadtime
    has reached the peer."""
    left = started + STARTUP_DT_PERIOD + 2 * keepalive - time.monotonic()
    if left > 0:
        time.sleep(left)


def _wait(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise NotReady(f"the nodes did not see each other active within {timeout:.0f} s")
        time.sleep(0.05)


def _run_on(lab: Lab, scenario: Scenario, cluster: str, rows: _Rows) -> None:
    rec = Recorders(lab, needs_of(every_check(scenario)))
    forgers = actions.Forgers(lab)
    try:
        rec.start()
        try:
            forgers.prepare(scenario.steps)
        except (LabError, OSError) as exc:
            rows.add(
                Row(Status.ERROR, Section.STEP, 1, "prepare the forgers", detail=_one_line(exc))
            )
            return
        ctx = Context(lab, rec, lab.timers(), cluster, _node_impls(lab))
        _steps_and_checks(scenario, ctx, forgers, rows)
    finally:
        forgers.stop()
        rec.stop()


def _steps_and_checks(
    scenario: Scenario, ctx: Context, forgers: actions.Forgers, rows: _Rows
) -> None:
    t0 = time.time()
    observing = dataclasses.replace(ctx, observe=True)
    for index, step in enumerate(scenario.steps):
        if not _do_step(step, ctx, forgers, t0, rows):
            for later in scenario.steps[index + 1 :]:
                rows.add(Row(Status.SKIP, Section.STEP, later.line, later.describe(),
                             detail="not reached"))  # fmt: skip
            return
        timing = ctx.steps[_key(step)]
        window = Window.of_step(timing)
        for exp in step.expect:
            rows.add(judge(exp, ctx, window, Section.EXPECT))
        if step.name is not None and step.name == scenario.check_at:
            _observe_checks(scenario, observing, rows)
    for exp in scenario.expect:
        rows.add(judge(exp, ctx, Window(t0), Section.EXPECT))
    if scenario.check_at is None:
        _observe_checks(scenario, observing, rows)


def _key(step: Step) -> str:
    """Where a step's start is kept: its name, or its line for unnamed steps."""
    return step.name or f":{step.line}"


def _do_step(step: Step, ctx: Context, forgers: actions.Forgers, t0: float, rows: _Rows) -> bool:
    """Do the step; False if it failed (its checks are judged by the caller)."""
    if step.at is not None:
        actions.sleep_until_offset(t0, step.at.resolve(ctx.timers), MAX_RUN)
    if time.time() - t0 > MAX_RUN:
        late = f"the run is over {MAX_RUN:.0f} s: its watchers stop at 600 s"
        rows.add(Row(Status.ERROR, Section.STEP, step.line, step.describe(), detail=late))
        return False
    timing = ctx.steps[_key(step)] = StepTiming(time.time())
    began = time.monotonic()
    try:
        note = actions.do(step, ctx.lab, ctx.timers, forgers)
    except (LabError, OSError, subprocess.SubprocessError) as exc:
        rows.add(Row(Status.FAIL, Section.STEP, step.line, step.describe(), detail=_one_line(exc)))
        return False
    timing.done = time.time()
    took = time.monotonic() - began
    done = f"{note}; took {took:.2f} s" if note else f"took {took:.2f} s"
    rows.add(Row(Status.PASS, Section.STEP, step.line, step.describe(), done, seconds=took))
    return True


def _observe_checks(scenario: Scenario, ctx: Context, rows: _Rows) -> None:
    for exp in scenario.check:
        rows.add(judge(exp, ctx, Window(time.time(), history=True), Section.CHECK))


def _node_impls(lab: Lab) -> dict[str, str]:
    return {h.name: lab.record(h.name).impl or "" for h in lab.topo.cluster_nodes}


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


# -- observe --------------------------------------------------------------------------------------
def observe(scenario: Scenario, options: Options, hint: str = "") -> ScenarioResult:
    """Judge the file's ``check:`` list on the lab that is up; change nothing."""
    started = time.monotonic()
    lab = observable(scenario, options)
    state = lab.require_up()
    impls = _node_impls(lab)
    cluster = spec_text(parse_impls(",".join(f"{n}={i}" for n, i in impls.items()), list(impls)))
    result = ScenarioResult(scenario.path, scenario.name, cluster, state.backend, state.profile)
    result.observe = True
    rows = _Rows(result, options)
    for row in lab_differences(scenario, lab, cluster, hint):
        rows.add(row)
    rec = Recorders(lab, needs_of(scenario.check))
    try:
        rec.start()
        ctx = Context(lab, rec, lab.timers(), cluster, impls, observe=True)
        _observe_checks(scenario, ctx, rows)
    finally:
        rec.stop()
        result.seconds = time.monotonic() - started
    return result


def observable(scenario: Scenario, options: Options) -> Lab:
    """The lab to observe; LabError if the file has nothing to observe or no lab is up."""
    if not scenario.check:
        raise LabError(
            f"{scenario.path} has no check: section to observe "
            f"(it is a scenario to run: hblab run {scenario.path})"
        )
    lab = make_lab(options.backend or default_backend())
    if not lab.is_up:
        start = (
            f"hblab lessons start {scenario.path.stem}"
            if "lessons" in scenario.path.parts
            else "hblab up"
        )
        raise LabError(
            f"the {lab.backend} lab is not up: there is nothing to observe (run: {start})"
        )
    return lab


def lab_differences(scenario: Scenario, lab: Lab, cluster: str, hint: str) -> list[Row]:
    """Does the running lab match the file's ``lab:``? One row, failing with each difference."""
    spec, state = scenario.lab, lab.require_up()
    problems = []
    if state.profile != spec.profile:
        problems.append(f"profile {spec.profile} wanted, this lab runs {state.profile}")
    for key, value in spec.overrides.items():
        have = state.overrides.get(key)
        if have != value:
            now = f"--set {key}={have}" if have is not None else f"no --set {key}="
            problems.append(f"wants --set {key}={value}, this lab has {now}")
    if spec.impls is not None and cluster not in spec.impls:
        problems.append(f"written for {', '.join(spec.impls)}, this lab runs {cluster}")
    if spec.fencing and not state.fencing:
        problems.append("wants BMCs (hblab up --fencing), this lab has none")
    what = "the lab is the one this file needs"
    if problems:
        return [
            Row(
                Status.FAIL,
                Section.LAB,
                spec.line,
                what,
                detail="; ".join(problems),
                hint=hint or None,
            )
        ]
    return [Row(Status.PASS, Section.LAB, spec.line, what, f"{cluster}, profile {state.profile}")]
