"""``respawn USER PROGRAM``: clients started at comm-up and restarted when they exit.

The restart policy is pure (:class:`RespawnPolicy`, driven by the times passed
in); :class:`Supervisor` is the thin part that forks. A client that keeps dying
is not restarted in a tight loop: after ``MAX_SHORT_RUNS`` runs shorter than
``SHORT_RUN`` it waits, doubling the wait up to ``MAX_BACKOFF``, and says so.
Exit status 100 means "do not respawn me" (Heartbeat's convention for clients
that find the configuration unusable).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hbnode.config.hacf import RespawnEntry
from hbnode.hblog import HbLogger, Level

SHORT_RUN = 60.0  # a run shorter than this counts towards "respawning too fast"
MAX_SHORT_RUNS = 5
FIRST_BACKOFF = 30.0
MAX_BACKOFF = 600.0
NO_RESPAWN_EXIT = 100
STOP_GRACE = 2.0
OWN_IPFAIL = "hbnode-ipfail"
# Run as a script, not ``-m``: with -I -S no hbnode import path is needed (nor wanted).
IPFAIL_SCRIPT = Path(__file__).resolve().parent / "tools" / "ipfail.py"


@dataclass
class RespawnPolicy:
    """When to start a client again. Times are monotonic seconds."""

    short_runs: int = 0
    backoff: float = 0.0
    restarts: int = 0
    given_up: bool = False

    def exited(self, started: float, now: float, status: int | None) -> tuple[float | None, str]:
        """(when to start again or None, a reason to log)."""
        if status == NO_RESPAWN_EXIT:
            self.given_up = True
            return None, f"exited with status {NO_RESPAWN_EXIT}: not respawning"
        self.restarts += 1
        if now - started >= SHORT_RUN:
            self.short_runs, self.backoff = 0, 0.0
            return now, "respawning"
        self.short_runs += 1
        if self.short_runs < MAX_SHORT_RUNS:
            return now + 1.0, "respawning"
        self.backoff = min(MAX_BACKOFF, self.backoff * 2 if self.backoff else FIRST_BACKOFF)
        self.short_runs = 0
        return now + self.backoff, f"respawning too fast: waiting {self.backoff:.0f} s"


@dataclass
class Client:
    entry: RespawnEntry
    policy: RespawnPolicy = field(default_factory=RespawnPolicy)
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    start_at: float | None = None


class Supervisor:
    def __init__(self, entries: list[RespawnEntry], log: HbLogger) -> None:
        self.clients = [Client(entry) for entry in entries]
        self.log = log
        self.stopping = False
        self.kill_at: float | None = None

    def start_all(self, now: float) -> None:
        for client in self.clients:
            if client.process is None and not client.policy.given_up:
                client.start_at = now
        self.poll(now)

    def get_timer(self) -> float | None:
        times = [c.start_at for c in self.clients if c.start_at is not None]
        if self.kill_at is not None and self.running():
            times.append(self.kill_at)
        return min(times) if times else None

    def poll(self, now: float, *, reap: bool = True) -> None:
        """Reap exited clients (``reap``: after SIGCHLD; a waitpid each) and start or
        KILL those that are due (after a timer)."""
        for client in self.clients:
            if client.process is not None:
                status = client.process.poll() if reap else None
                if status is None:
                    if self.kill_at is not None and now >= self.kill_at:
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(client.process.pid, signal.SIGKILL)
                    continue
                client.process = None
                if self.stopping:
                    continue
                when, why = client.policy.exited(client.started, now, status)
                self.log.log(
                    _level(why),
                    f"Managed {client.entry.path} process {status_text(status)}; {why}",
                )
                client.start_at = when
            if client.start_at is not None and client.start_at <= now:
                client.start_at = None
                self._spawn(client, now)

    def _spawn(self, client: Client, now: float) -> None:
        entry = client.entry
        try:
            user = pwd.getpwnam(entry.user)
            argv, as_user = [entry.path, *entry.args], True
            if os.path.basename(os.path.realpath(entry.path)) == OWN_IPFAIL:
                # Our own client: started as root with the daemon's interpreter (which
                # may live where hacluster cannot read, e.g. under /root), it drops to
                # the configured user itself once everything it needs is loaded. It
                # needs the standard library alone: -I -S (no site, no PYTHONPATH)
                # makes it a 3 MiB process instead of 10 (hbnode.tools.ipfail).
                argv = [sys.executable, "-I", "-S", str(IPFAIL_SCRIPT), "--user", entry.user]
                as_user = False
            client.process = subprocess.Popen(
                argv,
                user=user.pw_uid if as_user else None,
                group=user.pw_gid if as_user else None,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        except (OSError, KeyError, subprocess.SubprocessError) as exc:
            self.log.error(f"Cannot start client {entry.path}: {exc}")
            when, _why = client.policy.exited(now, now, None)
            client.start_at = when
            return
        client.started = now
        self.log.info(
            f"Starting {entry.command} as uid {user.pw_uid}  gid {user.pw_gid} "
            f"(pid {client.process.pid})"
        )

    def terminate_all(self, now: float) -> None:
        """TERM every client without waiting (the heartbeat loop must keep running);
        :meth:`poll` reaps them and KILLs what is left after ``STOP_GRACE``."""
        self.stopping = True
        for client in self.clients:
            client.start_at = None
            if client.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(client.process.pid, signal.SIGTERM)
        self.kill_at = now + STOP_GRACE

    def running(self) -> bool:
        return any(c.process is not None for c in self.clients)

    def stop_all(self) -> None:
        """At exit: TERM, wait a bounded time, KILL whatever is left."""
        running = [c for c in self.clients if c.process is not None]
        for client in running:
            assert client.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(client.process.pid, signal.SIGTERM)
        for client in running:
            assert client.process is not None
            try:
                client.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(client.process.pid, signal.SIGKILL)
                client.process.wait(STOP_GRACE)
            client.process = None
            client.start_at = None

    def status(self) -> list[dict[str, object]]:
        return [
            {
                "program": c.entry.path,
                "user": c.entry.user,
                "pid": c.process.pid if c.process is not None else None,
                "restarts": c.policy.restarts,
                "given_up": c.policy.given_up,
                # Non-zero while a client that kept dying waits (the rate limit at work).
                "backoff_s": c.policy.backoff,
            }
            for c in self.clients
        ]


def status_text(status: int) -> str:
    return f"killed by signal {-status}" if status < 0 else f"exited with return code {status}"


def _level(why: str) -> Level:
    return Level.ERROR if "too fast" in why else Level.INFO
