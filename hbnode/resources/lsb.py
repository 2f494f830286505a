"""haresources service scripts: ``/etc/ha.d/resource.d/NAME`` or ``/etc/init.d/NAME``.

``script::a::b`` runs ``script a b start|stop|status`` (protocol.md §5.3). Start and stop
succeed on exit 0. Status is judged as ResourceManager's ``we_own_resource`` does: by
the words on stdout, not the exit code (:func:`judge_status_output`).

Output goes to temporary files, not pipes: an init script that starts a daemon often
leaves the daemon holding its stdout, and reading a pipe would then wait for the
daemon to exit. We wait for the script alone, and kill its process group on timeout.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from hbnode.config.haresources import DEFAULT_SEARCH_DIRS, Resource, find_script
from hbnode.resources.base import Emit, ResourceStatus
from hbnode.resources.errors import ScriptError, ScriptNotFound, ScriptTimeout

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for a script that timed out
OUTPUT_LIMIT = 64 * 1024  # bytes of stdout/stderr kept per run

# we_own_resource's case patterns, in order: "*[Nn][Oo][Tt]\ *[Rr]unning*" means stopped,
# then "*[Rr]unning*|*OK*" means running; anything else is stopped. Only "not" is fully
# case-blind; "unning" and "OK" are matched exactly as the shell glob does.
_NOT_RUNNING = re.compile(r"[Nn][Oo][Tt] .*[Rr]unning", re.S)
_RUNNING = re.compile(r"[Rr]unning|OK")


def judge_status_output(stdout: str) -> ResourceStatus:
    """ResourceManager's verdict on a ``status`` run's stdout (the exit code is ignored)."""
    if _NOT_RUNNING.search(stdout):
        return ResourceStatus.STOPPED
    if _RUNNING.search(stdout):
        return ResourceStatus.RUNNING
    return ResourceStatus.STOPPED


def heartbeat_env(
    base: Mapping[str, str] | None = None,
    *,
    curhost: str | None = None,
    ha_dir: str = "/etc/ha.d",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment Heartbeat gives resource scripts (protocol.md §5.4), the cheap part.

    LC_ALL and LANGUAGE are dropped as ResourceManager does, so tools print English
    ("running") and the status grep still works.
    """
    env = dict(os.environ if base is None else base)
    for name in ("LC_ALL", "LANGUAGE"):
        env.pop(name, None)
    env.update(
        {
            "HA_DIR": ha_dir,
            "HA_FUNCS": f"{ha_dir}/shellfuncs",
            "HA_RESOURCEDIR": f"{ha_dir}/resource.d",
            "HA_DATEFMT": "%Y/%m/%d_%T\t",
            "HA_RSCTMP": "/run/resource-agents",
            "OCF_ROOT": "/usr/lib/ocf",
        }
    )
    if curhost is not None:
        env["HA_CURHOST"] = curhost
    env.update(extra or {})
    return env


@dataclass(frozen=True, slots=True)
class ScriptRun:
    """One finished script run."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    elapsed_ms: float


def _read_back(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read(OUTPUT_LIMIT).decode("utf-8", errors="replace")


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the script's process group, SIGKILL it after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_script(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    kill_grace: float = KILL_GRACE,
) -> ScriptRun:
    """Run ``argv`` in its own session; raise ScriptTimeout (group killed) or ScriptError."""
    began = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=None if env is None else dict(env),
                start_new_session=True,  # its own process group, for killpg on timeout
            )
        except OSError as exc:
            raise ScriptError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        try:
            returncode = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc, kill_grace)
            command = " ".join(argv)
            raise ScriptTimeout(f"{command} timed out after {timeout:g} s (killed)") from None
        elapsed = round((time.monotonic() - began) * 1000.0, 3)
        return ScriptRun(tuple(argv), returncode, _read_back(out), _read_back(err), elapsed)


class ScriptAgent:
    """A ``script::arg::arg`` resource run as ``script arg arg start|stop|status``."""

    idempotent_start = False

    def __init__(
        self,
        resource: Resource,
        *,
        search_dirs: Sequence[str] = DEFAULT_SEARCH_DIRS,
        env: Mapping[str, str] | None = None,
        kill_grace: float = KILL_GRACE,
    ) -> None:
        self.resource = resource
        self.search_dirs = tuple(search_dirs)
        self.env = env
        self.kill_grace = kill_grace

    @property
    def name(self) -> str:
        return self.resource.raw

    def path(self) -> str:
        """The script file, looked up at each use (as ResourceManager's scriptpath)."""
        found = find_script(self.resource.script, self.search_dirs)
        if found is None:
            raise ScriptNotFound(f"Cannot locate resource script {self.resource.script}")
        return found

    def run(self, op: str, timeout: float) -> ScriptRun:
        argv = [self.path(), *self.resource.args, op]
        return run_script(argv, timeout=timeout, env=self.env, kill_grace=self.kill_grace)

    def _act(self, op: str, step: str, emit: Emit, timeout: float) -> None:
        result = self.run(op, timeout)
        fields: dict[str, Any] = {
            "resource": self.name,
            "script": result.argv[0],
            "rc": result.returncode,
            "ms": result.elapsed_ms,
        }
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            emit(f"service {op} failed", {**fields, "output": " ".join(detail)})
            raise ScriptError(f"Return code {result.returncode} from {result.argv[0]}")
        emit(step, fields)

    def start(self, emit: Emit, timeout: float) -> None:
        self._act("start", "service started", emit, timeout)

    def stop(self, emit: Emit, timeout: float) -> None:
        # An LSB script exits 0 when asked to stop a stopped service; one that does
        # not is reported by the group runner as "probably not LSB-compliant".
        self._act("stop", "service stopped", emit, timeout)

    def status(self, timeout: float) -> ResourceStatus:
        return judge_status_output(self.run("status", timeout).stdout)
