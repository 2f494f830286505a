"""`hblab bench --jobs N`: the failover runs spread over N labs side by side.

Each job is `hblab bench` again, for one implementation and one scenario, in a lab
of its own prefix (``<prefix>j<N>``, netns only: two container labs would ask the
engine for the same subnets). A child process, not a thread, because a lab's names
come from the process's prefix (lab.topology.REFERENCE). The jobs start in pairs of
the same scenario for each implementation, so the implementations compared run at
the same moment under the same load. A scenario whose figures are CPU-bound
(``Scenario.alone``: the start-up) and the idle measurement run afterwards, alone.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from lab.backends import check_prefix
from lab.bench.model import RunResult, load
from lab.bench.scenarios import Scenario, ScenarioName
from lab.state import prefix_env

RUN_LIMIT = 300.0  # seconds a run may take before its job is interrupted (a hang)
INTERRUPT_GRACE = 60.0  # after SIGINT the job takes its lab down; then SIGKILL
# An implementation that fails to start this often in a row (runs one by one, jobs
# side by side) is skipped for the rest of the bench.
STARTUP_STRIKES = 2


@dataclass(frozen=True, slots=True)
class Task:
    impl: str
    scenario: Scenario
    runs: int

    @property
    def label(self) -> str:
        return f"{self.impl} {self.scenario.name}"


# Seconds one run of Heartbeat took, by scenario (make bench, 2 Dec 2026): the longest
# start first, so that no long one is left to run by itself at the end.
RUN_SECONDS = {
    ScenarioName.HEAL: 46.0,
    ScenarioName.HEAL_PING: 46.0,
    ScenarioName.FENCE_CRASH: 34.0,
    ScenarioName.FENCE_POWEROFF: 32.0,
    ScenarioName.FENCE_CUT: 31.0,
    ScenarioName.FAILBACK: 28.0,
    ScenarioName.CUT_PING: 26.0,
    ScenarioName.CUT_NOPING: 24.0,
    ScenarioName.START: 23.0,
    ScenarioName.STOP: 20.0,
    ScenarioName.CRASH: 19.0,
    ScenarioName.POWEROFF: 18.0,
}


def order(impls: list[str], scenarios: list[Scenario], runs: int) -> list[Task]:
    """The longest scenarios first; within a scenario one task per implementation,
    next to each other (they run at the same time); those that run alone last."""
    ranked = sorted(scenarios, key=lambda s: (s.alone, -RUN_SECONDS.get(s.name, 20.0)))
    return [Task(impl, s, runs) for s in ranked for impl in impls]


def job_env(slot: int, base_prefix: str) -> dict[str, str]:
    """The environment of job ``slot``: its lab's prefix and state directories."""
    prefix = f"{base_prefix}j{slot}"
    check_prefix(prefix)
    return prefix_env(prefix)


def child_argv(
    task: Task, profile: str, sets: list[str], json_path: Path, record: Path | None
) -> list[str]:
    argv = [sys.executable, "-m", "lab", "--backend", "netns", "bench"]
    argv += ["--impls", task.impl, "--scenario", task.scenario.name.value]
    argv += ["--runs", str(task.runs), "--idle-seconds", "0", "--profile", profile]
    for directive in sets:
        argv += ["--set", directive]
    argv += ["--json", str(json_path), "--no-markdown"]
    return argv + (["--record", str(record)] if record is not None else [])


class Jobs:
    """Runs tasks ``jobs`` at a time, each in a free slot's lab."""

    def __init__(
        self,
        jobs: int,
        base_prefix: str,
        make_argv: Callable[[Task, Path], list[str]],
        say: Callable[[str], None],
    ) -> None:
        self.jobs = jobs
        self.base_prefix = base_prefix
        self.make_argv = make_argv
        self.say = say
        self.slots: queue.Queue[int] = queue.Queue()
        for slot in range(1, jobs + 1):
            job_env(slot, base_prefix)  # a bad prefix fails now, not in a job
            self.slots.put(slot)
        self.strikes: dict[str, int] = {}
        self.gave_up: set[str] = set()  # implementations skipped: they would not start
        self.lock = threading.Lock()
        self.running: dict[subprocess.Popen[str], dict[str, str]] = {}  # job → its env
        self.stopping = False

    def run(self, tasks: list[Task], done: Callable[[Task, list[RunResult]], None]) -> None:
        """``tasks`` in order: those that share the machine ``jobs`` at a time, then
        those that run alone (Scenario.alone), one at a time. On Ctrl-C (or any error
        here) no new job starts, and each running one is stopped: it takes its lab
        down as `hblab bench` does on Ctrl-C."""
        with tempfile.TemporaryDirectory(prefix="hblab-bench-jobs-") as tmp:
            pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="bench-job")
            try:
                shared = [t for t in tasks if not t.scenario.alone]
                futures = [pool.submit(self._first_error_stops, t, Path(tmp), done) for t in shared]
                # The first job to fail stops the bench at once, not when those
                # submitted before it are through.
                wait(futures, return_when=FIRST_EXCEPTION)
                for future in futures:
                    if future.done():
                        future.result()
                for future in futures:
                    future.result()
                for task in tasks:
                    if task.scenario.alone:
                        self._one(task, Path(tmp), done)
            except BaseException:
                self.stopping = True
                pool.shutdown(wait=False, cancel_futures=True)
                with self.lock:
                    running = list(self.running.items())
                for proc, env in running:
                    _stop(proc, env)
                raise
            finally:
                pool.shutdown(wait=True)

    def _first_error_stops(
        self, task: Task, tmp: Path, done: Callable[[Task, list[RunResult]], None]
    ) -> None:
        """``_one``, and on its error the bench stops here, in the job's thread. Left to
        ``run``, the stop came only once the main thread woke, and under load this
        thread had taken the next task and started it by then (a CI run)."""
        try:
            self._one(task, tmp, done)
        except BaseException:
            with self.lock:
                self.stopping = True
            raise

    def _one(self, task: Task, tmp: Path, done: Callable[[Task, list[RunResult]], None]) -> None:
        with self.lock:
            if self.stopping:
                return
            skip = self.strikes.get(task.impl, 0) >= STARTUP_STRIKES
        if skip:
            results = [
                RunResult(task.impl, task.scenario.name.value, run, error="skipped: no startup")
                for run in range(1, task.runs + 1)
            ]
        else:
            slot = self.slots.get()
            try:
                results = self._in_slot(task, slot, tmp)
            finally:
                self.slots.put(slot)
            with self.lock:
                no_start = all(r.error and "at startup" in r.error for r in results)
                self.strikes[task.impl] = self.strikes.get(task.impl, 0) + 1 if no_start else 0
                if self.strikes[task.impl] == STARTUP_STRIKES:
                    self.gave_up.add(task.impl)
                    self.say(f"{task.impl} did not start in {STARTUP_STRIKES} jobs in a row")
        done(task, results)

    def _in_slot(self, task: Task, slot: int, tmp: Path) -> list[RunResult]:
        json_path = tmp / f"{task.impl.replace(',', '+')}-{task.scenario.name}.json"
        env = job_env(slot, self.base_prefix)
        proc = subprocess.Popen(
            self.make_argv(task, json_path),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the job's own table: the parent prints the whole
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a Ctrl-C reaches the job through us, once
        )
        with self.lock:
            self.running[proc] = env
            stop_now = self.stopping  # begun as the bench was being stopped
        if stop_now:
            _stop(proc, env)
        limit = threading.Timer(task.runs * RUN_LIMIT, _stop, (proc, env))
        limit.start()
        last = ""
        try:
            assert proc.stderr is not None
            for line in proc.stderr:  # ends when the job closes stderr, bounded by limit
                last = line.rstrip() or last
                if shown := _relayed(line.rstrip(), task):
                    self.say(f"j{slot}: {shown}")
            code = proc.wait()
        except BaseException:
            _stop(proc, env)
            raise
        finally:
            limit.cancel()
            with self.lock:
                self.running.pop(proc, None)
        try:
            return [r for r in load(json_path).results if r.scenario == task.scenario.name]
        except (OSError, ValueError, json.JSONDecodeError):
            error = f"bench job failed (exit {code}): {last}"
            name = task.scenario.name.value
            return [RunResult(task.impl, name, run, error=error) for run in range(1, task.runs + 1)]


def _relayed(line: str, task: Task) -> str | None:
    """What of a job's progress to pass on: not its per-run lines or its JSON file
    (the parent prints every run once, with the whole bench's count)."""
    said = line.split("] ", 1)[1] if line.startswith("[bench ") else line
    if not said or said.startswith("wrote ") or re.match(r"\[\d+/\d+\] ", said):
        return None
    if re.match(r"\d+ runs: ", said):
        return f"{task.label}: {task.runs} run(s) begin"
    return said


def _stop(proc: subprocess.Popen[str], env: dict[str, str]) -> None:
    """SIGINT: the job takes its lab down as on Ctrl-C. If it does not end, SIGKILL,
    and `hblab down` in its environment removes what its lab's record names."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + INTERRUPT_GRACE
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        down = [sys.executable, "-m", "lab", "--backend", "netns", "down"]
        subprocess.run(down, env=env, stdin=subprocess.DEVNULL, check=False, timeout=120)
