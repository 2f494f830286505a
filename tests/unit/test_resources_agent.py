"""The group runner: ResourceManager's takegroup / givegroup / statgroup, with fake agents."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hbnode.config.haresources import Resource, parse_haresources_text
from hbnode.resources.agent import (
    AgentContext,
    GroupAction,
    GroupStatus,
    Timeouts,
    run_group,
)
from hbnode.resources.base import Emit, ResourceAgent, ResourceStatus
from hbnode.resources.errors import ResourceError, ScriptNotFound, ScriptTimeout

RUNNING, STOPPED = ResourceStatus.RUNNING, ResourceStatus.STOPPED


@dataclass
class FakeAgent:
    name: str
    journal: list[str]
    running: bool = False
    fail_start: bool = False
    stop_failures: int = 0  # this many stops fail before one works
    stop_error: type[ResourceError] = ResourceError
    status_error: bool = False
    idempotent_start: bool = False

    def start(self, emit: Emit, timeout: float) -> None:
        self.journal.append(f"start {self.name}")
        if self.fail_start:
            raise ResourceError(f"{self.name} will not start")
        self.running = True
        emit("service started", {"resource": self.name})

    def stop(self, emit: Emit, timeout: float) -> None:
        self.journal.append(f"stop {self.name}")
        if self.stop_failures:
            self.stop_failures -= 1
            raise self.stop_error(f"{self.name} will not stop")
        self.running = False
        emit("service stopped", {"resource": self.name})

    def status(self, timeout: float) -> ResourceStatus:
        self.journal.append(f"status {self.name}")
        if self.status_error:
            raise ResourceError("status hung")
        return RUNNING if self.running else STOPPED


@dataclass
class FakeContext(AgentContext):
    fakes: dict[str, FakeAgent] = field(default_factory=dict)

    def agent_for(self, resource: Resource) -> ResourceAgent:
        return self.fakes[resource.raw]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.lines: list[str] = []
        self.sleeps: list[float] = []

    def emit(self, step: str, fields: dict[str, Any]) -> None:
        self.events.append((step, fields))

    def steps(self) -> list[str]:
        return [step for step, _ in self.events]

    def info(self, text: str) -> None:
        self.lines.append(f"info: {text}")

    def warn(self, text: str) -> None:
        self.lines.append(f"WARN: {text}")

    def error(self, text: str) -> None:
        self.lines.append(f"ERROR: {text}")

    def crit(self, text: str) -> None:
        self.lines.append(f"CRIT: {text}")

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


GROUP = parse_haresources_text("master fs web mail\n")[0]


def setup(**overrides: dict[str, Any]) -> tuple[FakeContext, list[str], Recorder]:
    journal: list[str] = []
    fakes = {
        name: FakeAgent(name, journal, **overrides.get(name, {})) for name in ("fs", "web", "mail")
    }
    return FakeContext(fakes=fakes), journal, Recorder()


def run(action: str, context: FakeContext, rec: Recorder, **kwargs: Any) -> Any:
    return run_group(
        GROUP, action, log=rec.emit, say=rec, context=context, sleep=rec.sleep, **kwargs
    )


def test_acquire_left_to_right() -> None:
    context, journal, rec = setup()
    result = run("acquire", context, rec)
    assert result.ok and result.error is None and result.action is GroupAction.ACQUIRE
    assert journal == [
        "status fs",
        "start fs",
        "status web",
        "start web",
        "status mail",
        "start mail",
    ]
    assert [(o.resource, o.op, o.ok) for o in result.outcomes] == [
        ("fs", "start", True),
        ("web", "start", True),
        ("mail", "start", True),
    ]
    assert rec.steps() == [
        "group acquire started",
        "service started",
        "service started",
        "service started",
        "group acquire done",
    ]
    assert all(fields["group"] == "fs" for _, fields in rec.events)
    assert rec.lines == ["info: Acquiring resource group: master fs web mail"]


def test_acquire_skips_running_resources() -> None:
    context, journal, rec = setup(web={"running": True})
    result = run("acquire", context, rec)
    assert result.ok
    assert "start web" not in journal
    assert result.outcomes[1].skipped and result.outcomes[1].status is RUNNING
    assert "resource already running" in rec.steps()


def test_idempotent_start_skips_the_probe() -> None:
    context, journal, rec = setup(fs={"idempotent_start": True, "running": True})
    run("acquire", context, rec)
    assert journal[0] == "start fs"  # the IP agents: start again, re-announce


def test_failed_start_gives_up_the_whole_group() -> None:
    context, journal, rec = setup(web={"fail_start": True})
    result = run("acquire", context, rec)
    assert not result.ok
    assert result.error == "start of web failed: web will not start"
    # Heartbeat's giveupresourcegroup: every resource, right to left, even mail.
    assert journal == [
        "status fs",
        "start fs",
        "status web",
        "start web",
        "stop mail",
        "stop web",
        "stop fs",
    ]
    assert "CRIT: Giving up resources due to failure of web" in rec.lines
    assert [(o.resource, o.op, o.ok) for o in result.outcomes] == [
        ("fs", "start", True),
        ("web", "start", False),
        ("mail", "stop", True),
        ("web", "stop", True),
        ("fs", "stop", True),
    ]
    assert rec.events[-1] == (
        "group acquire done",
        {"group": "fs", "ok": False, "ms": result.ms, "error": result.error},
    )


def test_release_right_to_left() -> None:
    context, journal, rec = setup()
    result = run("release", context, rec)
    assert result.ok and journal == ["stop mail", "stop web", "stop fs"]
    assert rec.lines == ["info: Releasing resource group: master fs web mail"]


def test_release_retries_a_failed_stop() -> None:
    context, journal, rec = setup(web={"stop_failures": 2})
    result = run("release", context, rec)
    assert result.ok
    assert journal == ["stop mail", "stop web", "stop web", "stop web", "stop fs"]
    assert rec.sleeps == [1.0, 1.0]
    assert rec.lines.count("info: Retrying failed stop operation [web]") == 2
    assert result.outcomes[1].attempts == 3


def test_release_stop_failure_still_running_means_reboot() -> None:
    context, journal, rec = setup(web={"stop_failures": 99, "running": True})
    result = run("release", context, rec, timeouts=Timeouts(stop_retries=3))
    assert not result.ok and result.reboot_required
    assert journal.count("stop web") == 4  # one try and three retries: bounded
    assert journal[-1] == "stop fs"  # and the release goes on past the failure
    assert "CRIT: Resource STOP failure. Reboot required!" in rec.lines
    assert result.error == "stop of web failed: web will not stop"


def test_release_stop_failure_but_stopped_is_not_lsb_compliant() -> None:
    context, _, rec = setup(web={"stop_failures": 99})
    result = run("release", context, rec, timeouts=Timeouts(stop_retries=1))
    assert result.ok and not result.reboot_required
    assert "ERROR: Resource script for web probably not LSB-compliant." in rec.lines
    assert result.outcomes[1].error == "web will not stop"


def test_missing_script_is_not_retried() -> None:
    context, journal, rec = setup(web={"stop_failures": 99, "stop_error": ScriptNotFound})
    run("release", context, rec)
    assert journal.count("stop web") == 1 and rec.sleeps == []


def test_hung_stop_is_not_retried_and_still_running_means_reboot_required() -> None:
    context, journal, rec = setup(
        web={"stop_failures": 99, "stop_error": ScriptTimeout, "running": True}
    )
    result = run("release", context, rec)
    assert journal.count("stop web") == 1 and rec.sleeps == []  # one hang, not eleven
    assert journal[-1] == "stop fs"  # the rest of the group is still released
    assert not result.ok and result.reboot_required
    assert "ERROR: web will not stop: not retried" in rec.lines
    assert "CRIT: Resource STOP failure. Reboot required!" in rec.lines


def test_status_all_some_none() -> None:
    context, _, rec = setup()
    assert run("status", context, rec).status is GroupStatus.NONE
    context.fakes["web"].running = True
    assert run("status", context, rec).status is GroupStatus.SOME
    for fake in context.fakes.values():
        fake.running = True
    result = run("status", context, rec)
    assert result.status is GroupStatus.ALL and result.ok
    assert rec.events[-1][1]["status"] == "ALL"


def test_status_error_counts_as_stopped() -> None:
    context, _, rec = setup(fs={"running": True, "status_error": True})
    result = run("status", context, rec)
    assert result.status is GroupStatus.NONE and not result.ok
    assert result.outcomes[0].error == "status hung"


def test_announce_ignores_scripts() -> None:
    context, journal, rec = setup()
    result = run("announce", context, rec)
    assert result.ok and result.outcomes == [] and journal == []


def test_real_scripts_end_to_end(tmp_path: Path) -> None:
    """The default context with LSB-style scripts in a temporary resource.d."""
    state = tmp_path / "state"
    state.mkdir()
    for name in ("alpha", "beta"):
        script = tmp_path / name
        script.write_text(
            "#!/bin/sh\n"
            f'case "$1" in\n'
            f'  start) echo "$HA_CURHOST" > {state}/{name};;\n'
            f"  stop) rm -f {state}/{name};;\n"
            f'  status) [ -e {state}/{name} ] && echo "{name} is running" '
            f'|| echo "{name} is not running";;\n'
            "esac\n"
        )
        script.chmod(0o755)
    group = parse_haresources_text("master alpha beta\n")[0]
    context = AgentContext(search_dirs=[str(tmp_path)], curhost="master")
    rec = Recorder()
    assert run_group(group, "acquire", context=context, log=rec.emit).ok
    assert sorted(p.name for p in state.iterdir()) == ["alpha", "beta"]
    assert (state / "alpha").read_text() == "master\n"  # HA_CURHOST reached the script
    assert run_group(group, "status", context=context).status is GroupStatus.ALL
    assert run_group(group, "release", context=context).ok
    assert list(state.iterdir()) == []
    assert run_group(group, "status", context=context).status is GroupStatus.NONE
    started = [fields for step, fields in rec.events if step == "service started"]
    assert [f["resource"] for f in started] == ["alpha", "beta"]
    assert all(isinstance(f["ms"], float) for f in started)
