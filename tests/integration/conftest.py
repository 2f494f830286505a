"""Fixtures for the lab tests: a lab per test, always torn down, logs on failure.

The implementations under test come from HBLAB_IMPLS (cluster specs separated by
spaces, `,` between the nodes of a mixed cluster, as `hblab up --impl` takes), e.g.
  HBLAB_IMPLS="heartbeat hbnode master=heartbeat,slave=hbnode"
Every scenario runs once per spec. LAB=netns (default) or LAB=docker chooses the
backend: the same scenarios run on namespaces or on containers.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import freezes
from lab.backends import Lab, make_lab
from lab.impls import Impl, parse_impl_list, parse_impls
from lab.topology import REFERENCE
from lab.wiretrace import WireTrace
from tests.schedule import measured, parse_shard, shard

from . import wire
from .badnews import ExpectedLog, expect_machine_lines, scan
from .helpers import Cluster, node_log
from .leftovers import leftovers
from .own_races import note_failed_lab, run_with_one_rerun

DEFAULT_IMPLS = "hbnode heartbeat master=heartbeat,slave=hbnode master=hbnode,slave=heartbeat"
MEASUREMENTS: list[dict[str, Any]] = []
RESULTS_FILE = Path(os.environ.get("HBLAB_RESULTS", "/tmp/hblab-measurements.jsonl"))
# Where a failed test's nodes' whole /var/log is kept (ha-log, ha-debug, the event
# log): the printed tail shows what went wrong, these show why. Unset: not kept.
KEPT_LOGS = os.environ.get("HBLAB_KEEP_LOGS")


def _impl_specs() -> list[str]:
    nodes = [h.name for h in REFERENCE.cluster_nodes]
    return parse_impl_list(os.environ.get("HBLAB_IMPLS", DEFAULT_IMPLS), nodes)


def backend_name() -> str:
    return os.environ.get("LAB") or "netns"


def _missing_requirements() -> str | None:
    if os.geteuid() != 0:
        return "lab tests need root"
    if backend_name() == "docker":
        return _missing_docker()
    for program in ("nsenter", "unshare", "tc", "nginx", "tcpdump"):
        if shutil.which(program) is None:
            return f"lab tests need {program} (make lab installs it)"
    return None


def _missing_docker() -> str | None:
    from lab import docker_engine
    from lab.docker_images import image_name

    if not docker_engine.reachable():
        return f"LAB=docker needs an engine at {docker_engine.engine_url()} (make engine-start)"
    api = docker_engine.client()
    try:
        names = {tag for image in api.images.list() for tag in image.tags}
    finally:
        api.close()
    missing = [image_name(k) for k in ("node", "gateway", "client") if image_name(k) not in names]
    return f"LAB=docker needs the images {', '.join(missing)} (make images)" if missing else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("HBLAB_ONLY_PER_IMPL") == "1":
        _deselect_impl_independent(config, items)
    if os.environ.get("HBLAB_SHARD"):
        _keep_shard(config, items, os.environ["HBLAB_SHARD"])
    reason = _missing_requirements()
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.lab)
            if reason:
                # Locally a non-root run skips; CI fails on any skipped lab test.
                item.add_marker(pytest.mark.skip(reason=reason))


def _keep_shard(config: pytest.Config, items: list[pytest.Item], text: str) -> None:
    """HBLAB_SHARD=K/N: keep the K-th of N shares of about equal measured time
    (tests/schedule.py). CI's docker stage runs a suite's shares on engines of their
    own, side by side; deselected, not skipped, as above."""
    index, count = parse_shard(text)
    kept = shard(items, measured(), index, count)
    kept_ids = {item.nodeid for item in kept}
    dropped = [item for item in items if item.nodeid not in kept_ids]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _deselect_impl_independent(config: pytest.Config, items: list[pytest.Item]) -> None:
    """HBLAB_ONLY_PER_IMPL=1: keep only the tests run once per HBLAB_IMPLS spec.

    CI's docker stage splits the failover suite by implementation over two engines;
    the tests run on one cluster of their own choosing (no ``impl_spec``, or a
    scenario written for a spec HBLAB_IMPLS leaves out) run on the first engine only,
    as they did when one engine ran the whole suite. Deselected, not skipped: a
    skipped lab test fails CI."""
    specs = set(_impl_specs())

    def per_impl(item: pytest.Item) -> bool:
        params = getattr(getattr(item, "callspec", None), "params", {})
        return params.get("impl_spec", params.get("spec")) in specs

    kept = [item for item in items if per_impl(item)]
    dropped = [item for item in items if item not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=_impl_specs())
def impl_spec(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def impls_of(spec: str) -> dict[str, Impl]:
    return parse_impls(spec, [h.name for h in REFERENCE.cluster_nodes])


@pytest.fixture
def expect_log() -> ExpectedLog:
    """``expect_log(pattern, why, nodes=None)``: a bad-news line the scenario causes."""
    return ExpectedLog()


# The daemons start at once, but on a busy machine one may come up seconds after the
# other (CI of 47d43df: hbnode 4 s after a real Heartbeat), and the fast profile's
# initdead of 3 s then has the first declare the second dead and take its group: what
# initdead is for, too short. The tests' labs wait 8 s for a peer at start; a test may
# still set its own.
START_SLACK = {"initdead": "8"}


@pytest.fixture
def lab_factory(
    request: pytest.FixtureRequest, expect_log: ExpectedLog
) -> Iterator[Callable[..., Cluster]]:
    """Bring a lab up with the given settings; it is torn down whatever happens.

    After a passed test, both nodes' ha-log must hold no bad news (CTS's BadNews,
    tests/integration/badnews.py) but what the test declared with ``expect_log``.
    """
    labs: list[Lab] = []
    freezes.FREEZES.start()  # waits do not count time this process stood still

    def bring_up(
        spec: str,
        overrides: dict[str, str] | None = None,
        profile: str = "fast",
        start: bool = True,
        topology: Path | None = None,
        fencing: bool = False,
        blank: bool = False,
    ) -> Cluster:
        lab = make_lab(backend_name())
        if _is_up(lab):
            lab.down()  # a previous run was killed: clean what it recorded
        lab = make_lab(backend_name(), topology)
        labs.append(lab)
        settings = {**(START_SLACK if profile == "fast" else {}), **(overrides or {})}
        lab.up(impls_of(spec), profile, settings, None, start, fencing, blank=blank)
        expect_machine_lines(lab, expect_log)
        return Cluster(lab, spec)

    yield bring_up
    failed = getattr(request.node, "rep_call", None)
    news: list[str] = []
    for lab in labs:
        try:
            if failed is not None and failed.failed and _is_up(lab):
                print_logs(lab)
                keep_logs(lab, request.node.nodeid)
                note_failed_lab(request.node, lab)  # the real Heartbeat's FIFO race?
            elif failed is not None and failed.passed and _is_up(lab):
                found = scan(lab, expect_log)
                if found:
                    print_logs(lab)
                    keep_logs(lab, request.node.nodeid)  # the ha-debug says which process
                news += found
        finally:
            lab.down()
    if news:
        pytest.fail(
            "bad news in ha-log (declare with expect_log if the scenario causes it):\n"
            + "\n".join(news)
        )


@pytest.fixture
def wire_trace(
    request: pytest.FixtureRequest, lab_factory: Callable[..., Cluster]
) -> Iterator[Callable[[Cluster], WireTrace]]:
    """Record a cluster's wire (tests/integration/wire.py): heartbeats on every medium of
    both nodes, ARP at the client, pings at the ping node, each datagram verified with
    the lab's authkeys. Stopped whatever happens (before its lab goes down); a failed
    test prints the trace's last seconds (and writes all of it into HBLAB_WIRE_DUMP,
    a directory, when that is set)."""
    traces: list[WireTrace] = []

    def start(cluster: Cluster) -> WireTrace:
        trace = wire.trace_for(cluster.lab)
        traces.append(trace)
        return trace.start()

    yield start
    failed = getattr(request.node, "rep_call", None)
    for trace in traces:
        trace.stop()
        if failed is not None and failed.failed:
            print(wire.failure_report(trace))
            wire.dump(trace, os.environ.get("HBLAB_WIRE_DUMP"), request.node.name)


def _is_up(lab: Lab) -> bool:
    return lab.is_up


@pytest.fixture(scope="session", autouse=True)
def no_lab_leftovers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Once, after the last lab test: the suite left nothing of the lab behind."""
    yield
    if any("integration" in str(item.fspath) for item in request.session.items):
        found = leftovers(backend_name())
        assert not found, f"the lab tests left: {found}"


@pytest.fixture(autouse=True)
def no_lab_left_by_this_test() -> Iterator[None]:
    """After each lab test (its own fixtures' teardown done): this worker's lab is down.

    Lab tests sweep a lab they find up at their start, as a killed run leaves one, so
    a test that leaves its lab up goes unseen unless the next one on its worker refuses
    (the bench, CTS, the nemesis, the soak). Named here, at the test that left it."""
    yield
    lab = make_lab(backend_name())
    if lab.state is not None:
        who = lab.state.owner
        lab.down()
        pytest.fail(f"the test left its lab up (brought up by {who}); taken down now")


def print_logs(lab: Lab) -> None:
    for host in REFERENCE.cluster_nodes:
        if text := node_log(lab, host.name):
            print(f"\n----- {host.name}: last lines of /var/log/ha-log -----")
            print("\n".join(text.splitlines()[-150:]))


def keep_logs(lab: Lab, test_id: str) -> None:
    """Copy each node's /var/log to HBLAB_KEEP_LOGS/<test>/<node>/ before the lab goes."""
    if not KEPT_LOGS:
        return
    safe = "".join(ch if ch.isalnum() or ch in "-_.=," else "_" for ch in test_id)
    for host in REFERENCE.cluster_nodes:
        source = lab.log_dir(host.name)
        if source.is_dir():
            target = Path(KEPT_LOGS) / safe / host.name
            shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
            print(f"kept {host.name}'s /var/log in {target}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """A test on a lab_factory lab runs once more if it failed on the real Heartbeat's
    own FIFO race (tests/integration/own_races.py); other tests run as pytest runs them."""
    if "lab_factory" not in getattr(item, "fixturenames", ()):
        return None
    return run_with_one_rerun(item, nextitem)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Record a figure (seconds, counts) for the summary and the results file."""

    def record(name: str, value: float | int | str, **extra: Any) -> None:
        entry = {"test": request.node.name, "name": name, "value": value, **extra}
        MEASUREMENTS.append(entry)
        with RESULTS_FILE.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not MEASUREMENTS:
        return
    terminalreporter.section("lab measurements")
    for entry in MEASUREMENTS:
        value = entry["value"]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        terminalreporter.write_line(f"{entry['test']:<60} {entry['name']:<28} {shown}")
