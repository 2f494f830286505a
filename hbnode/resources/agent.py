"""Run a resource group as ResourceManager's takegroup / givegroup / statgroup do.

* acquire: left to right; a resource whose status says running is not started again
  (the IP agents start anyway: their start is idempotent and re-announces the VIP).
  On the first failed start: ``CRIT: Giving up resources due to failure of X`` and the
  whole group is released, as Heartbeat does (it then asks hb_standby 30 s later; that
  is the daemon's call, so the result just says the acquire failed).
* release: right to left, on past failures; a failed stop is retried HA_STOPRETRYMAX
  times, 1 s apart (not one that timed out: it was killed, and would hang again). If
  it still fails, a resource that reports running means "Reboot required!"
  (``reboot_required`` in the result; rebooting is the daemon's call), one that
  reports stopped is only "probably not LSB-compliant".
* status: each resource's status, summed up as ALL / SOME / NONE (statgroup).
* announce: gratuitous ARP again for the group's VIPs.

Every step is also an event (``emit(step, fields)``) with a millisecond duration, for
the failover event log. Calls block: run them in the executor's worker thread.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hbnode.config.haresources import BUILTIN_SCRIPTS, DEFAULT_SEARCH_DIRS, Resource, ResourceGroup
from hbnode.resources import garp
from hbnode.resources.base import Emit, ResourceAgent, ResourceStatus, no_emit
from hbnode.resources.errors import ResourceError, ScriptNotFound, ScriptTimeout
from hbnode.resources.ipaddr import GarpSettings, IPAddrAgent, NetlinkFactory
from hbnode.resources.lsb import KILL_GRACE, ScriptAgent, heartbeat_env

HA_STOPRETRYMAX = 10  # ResourceManager's default number of stop retries
STOP_RETRY_DELAY = 1.0  # seconds between them (its "sleep 1")


class GroupAction(enum.Enum):
    ACQUIRE = "acquire"
    RELEASE = "release"
    STATUS = "status"
    ANNOUNCE = "announce"


class GroupStatus(enum.Enum):
    """statgroup's answer."""

    ALL = "ALL"
    SOME = "SOME"
    NONE = "NONE"


class Say(Protocol):
    """Heartbeat-style log lines (HbLogger fits)."""

    def info(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...
    def crit(self, text: str) -> None: ...


class _Silent:
    def info(self, text: str) -> None:
        pass

    warn = error = crit = info


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds per script run (Heartbeat has none: a hung script hung the node)."""

    start: float = 120.0
    stop: float = 120.0
    status: float = 30.0
    stop_retries: int = HA_STOPRETRYMAX
    stop_retry_delay: float = STOP_RETRY_DELAY


@dataclass(frozen=True, slots=True)
class ResourceOutcome:
    """What one step did to one resource."""

    resource: str
    op: str  # start, stop, status, announce
    ok: bool
    ms: float
    attempts: int = 1
    status: ResourceStatus | None = None
    skipped: bool = False  # start not run: it already reported running
    error: str | None = None


@dataclass(slots=True)
class GroupResult:
    """The result of one run_group call."""

    key: str
    action: GroupAction
    ok: bool = True
    outcomes: list[ResourceOutcome] = field(default_factory=list)
    ms: float = 0.0
    error: str | None = None
    status: GroupStatus | None = None  # for STATUS
    reboot_required: bool = False  # a stop failed and the resource still runs


@dataclass
class AgentContext:
    """How resources become agents; one per daemon so VIP ARP bursts are tracked across
    calls (a release cancels the burst an acquire started)."""

    search_dirs: Sequence[str] = DEFAULT_SEARCH_DIRS
    env: Mapping[str, str] | None = None  # None: lsb.heartbeat_env(curhost=curhost)
    curhost: str | None = None  # HA_CURHOST for scripts: our node name
    netlink: NetlinkFactory | None = None  # default hbnode.resources.rtnl.RtNetlink
    garp_settings: GarpSettings | None = None  # default per IPaddr / IPaddr2
    garp_jobs: garp.GarpJobs = field(default_factory=garp.GarpJobs)
    kill_grace: float = KILL_GRACE

    def agent_for(self, resource: Resource) -> ResourceAgent:
        if resource.script in BUILTIN_SCRIPTS:
            extra: dict[str, Any] = {} if self.netlink is None else {"netlink": self.netlink}
            return IPAddrAgent(
                resource, garp_settings=self.garp_settings, garp_jobs=self.garp_jobs, **extra
            )
        env = self.env if self.env is not None else heartbeat_env(curhost=self.curhost)
        return ScriptAgent(
            resource, search_dirs=self.search_dirs, env=env, kill_grace=self.kill_grace
        )


_default_context: AgentContext | None = None
_default_lock = threading.Lock()


def default_context() -> AgentContext:
    """The process-wide context used when run_group is given none."""
    global _default_context
    with _default_lock:
        if _default_context is None:
            _default_context = AgentContext()
        return _default_context


def _ms(since: float) -> float:
    return round((time.monotonic() - since) * 1000.0, 3)


class _GroupRun:
    """One run_group call: its agents, sinks and result."""

    def __init__(
        self,
        group: ResourceGroup,
        action: GroupAction,
        timeouts: Timeouts,
        log: Emit,
        say: Say,
        context: AgentContext,
        sleep: Callable[[float], object],
    ) -> None:
        self.group, self.timeouts, self.say, self.sleep = group, timeouts, say, sleep
        self.log = log
        self.agents = [context.agent_for(resource) for resource in group.resources]
        self.result = GroupResult(group.key, action)

    def emit(self, step: str, fields: dict[str, Any]) -> None:
        self.log(step, {"group": self.group.key, **fields})

    def line(self) -> str:
        return " ".join([self.group.owner, *(agent.name for agent in self.agents)])

    def record(self, outcome: ResourceOutcome) -> None:
        self.result.outcomes.append(outcome)

    def probe(self, agent: ResourceAgent) -> tuple[ResourceStatus, str | None]:
        """Status, with errors read as stopped (ResourceManager: no "running", not ours)."""
        try:
            return agent.status(self.timeouts.status), None
        except ResourceError as exc:
            return ResourceStatus.STOPPED, str(exc)

    def acquire(self) -> None:
        self.say.info(f"Acquiring resource group: {self.line()}")
        for agent in self.agents:
            began = time.monotonic()
            if not agent.idempotent_start:
                status, _ = self.probe(agent)
                if status is ResourceStatus.RUNNING:
                    self.record(
                        ResourceOutcome(agent.name, "start", True, _ms(began), 0, status, True)
                    )
                    self.emit(
                        "resource already running", {"resource": agent.name, "ms": _ms(began)}
                    )
                    continue
            try:
                agent.start(self.emit, self.timeouts.start)
            except ResourceError as exc:
                self.record(ResourceOutcome(agent.name, "start", False, _ms(began), error=str(exc)))
                self.say.error(str(exc))
                self.say.crit(f"Giving up resources due to failure of {agent.name}")
                self.emit("resource start failed", {"resource": agent.name, "error": str(exc)})
                self.release()
                self.result.ok = False
                self.result.error = f"start of {agent.name} failed: {exc}"
                return
            self.record(ResourceOutcome(agent.name, "start", True, _ms(began)))

    def release(self) -> None:
        self.say.info(f"Releasing resource group: {self.line()}")
        for agent in reversed(self.agents):
            self.stop_one(agent)

    def stop_one(self, agent: ResourceAgent) -> None:
        began = time.monotonic()
        attempts, error = 0, None
        while attempts <= self.timeouts.stop_retries:
            attempts += 1
            try:
                agent.stop(self.emit, self.timeouts.stop)
            except ScriptNotFound as exc:  # permanent: retrying only delays the release
                error = str(exc)
                break
            except ScriptTimeout as exc:
                # The stop hung and was killed. Ten more runs would hang ten times as
                # long; the resource manager retries the whole release instead.
                error = str(exc)
                self.say.error(f"{exc}: not retried")
                break
            except ResourceError as exc:
                error = str(exc)
                if attempts <= self.timeouts.stop_retries:
                    self.say.info(f"Retrying failed stop operation [{agent.name}]")
                    self.sleep(self.timeouts.stop_retry_delay)
                continue
            self.record(ResourceOutcome(agent.name, "stop", True, _ms(began), attempts))
            return
        self.stop_failed(agent, began, attempts, error)

    def stop_failed(
        self, agent: ResourceAgent, began: float, attempts: int, error: str | None
    ) -> None:
        status, _ = self.probe(agent)
        fields = {"resource": agent.name, "attempts": attempts, "error": error}
        if status is ResourceStatus.RUNNING:
            self.say.crit("Resource STOP failure. Reboot required!")
            self.emit("resource stop failed", {**fields, "still_running": True})
            self.result.ok = False
            self.result.reboot_required = True
            self.result.error = self.result.error or f"stop of {agent.name} failed: {error}"
            outcome = ResourceOutcome(
                agent.name, "stop", False, _ms(began), attempts, status, error=error
            )
        else:
            self.say.error(f"Resource script for {agent.name} probably not LSB-compliant.")
            self.say.warn(f"it ({agent.name}) MUST succeed on a stop when already stopped")
            self.emit("resource stop failed", {**fields, "still_running": False})
            outcome = ResourceOutcome(
                agent.name, "stop", True, _ms(began), attempts, status, error=error
            )
        self.record(outcome)

    def status(self) -> None:
        running = 0
        for agent in self.agents:
            began = time.monotonic()
            status, error = self.probe(agent)
            running += status is ResourceStatus.RUNNING
            self.record(
                ResourceOutcome(
                    agent.name, "status", error is None, _ms(began), status=status, error=error
                )
            )
        if running == len(self.agents):
            self.result.status = GroupStatus.ALL
        else:
            self.result.status = GroupStatus.SOME if running else GroupStatus.NONE
        self.result.ok = all(outcome.ok for outcome in self.result.outcomes)

    def announce(self) -> None:
        for agent in self.agents:
            if not isinstance(agent, IPAddrAgent):
                continue
            began = time.monotonic()
            try:
                agent.announce(self.emit)
            except ResourceError as exc:
                self.record(
                    ResourceOutcome(agent.name, "announce", False, _ms(began), error=str(exc))
                )
                self.result.ok = False
                self.result.error = self.result.error or str(exc)
                continue
            self.record(ResourceOutcome(agent.name, "announce", True, _ms(began)))


def run_group(
    group: ResourceGroup,
    action: GroupAction | str,
    *,
    timeouts: Timeouts | None = None,
    log: Emit | None = None,
    say: Say | None = None,
    context: AgentContext | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> GroupResult:
    """Acquire, release, probe or re-announce one resource group; never raises
    ResourceError (failures are in the result). ``log`` receives timed step events."""
    kind = GroupAction(action)
    began = time.monotonic()
    run = _GroupRun(
        group,
        kind,
        timeouts or Timeouts(),
        log or no_emit,
        say or _Silent(),
        context or default_context(),
        sleep,
    )
    run.emit(f"group {kind.value} started", {"resources": [a.name for a in run.agents]})
    steps = {
        GroupAction.ACQUIRE: run.acquire,
        GroupAction.RELEASE: run.release,
        GroupAction.STATUS: run.status,
        GroupAction.ANNOUNCE: run.announce,
    }
    steps[kind]()
    run.result.ms = _ms(began)
    done = {"ok": run.result.ok, "ms": run.result.ms, "error": run.result.error}
    if kind is GroupAction.STATUS and run.result.status is not None:
        done["status"] = run.result.status.value
    run.emit(f"group {kind.value} done", done)
    return run.result
