"""A machine with systemd as PID 1, booted by systemd-nspawn: where hbnode.service runs
under the real service manager (the Docker engine here cannot give systemd a cgroup
hierarchy it may write, see test_installed_cluster.py).

The machine has a private network namespace (``--private-network``: only its own
loopback; the veth pair a test makes lives inside it), its own root directory, and
cgroups under a directory of its own name in each hierarchy nspawn uses, created
here and removed again at power-off with everything nspawn made below them. It is
not registered with systemd-machined (the host has none): commands reach it with
``nsenter`` into its PID 1's namespaces.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

HIERARCHIES = (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified"))
NSPAWN_RUN = Path("/run/systemd/nspawn")  # nspawn's own lock and propagation dirs
BOOT_TIMEOUT = 90.0


class MachineError(AssertionError):
    pass


class Machine:
    def __init__(self, root: Path, name: str, log: Path) -> None:
        self.root = root
        self.name = name
        self.log = log
        self.cgroups = [h / name for h in HIERARCHIES if (h / "cgroup.procs").exists()]
        self.proc: subprocess.Popen[bytes] | None = None
        self.leader: int | None = None
        self._made_nspawn_run = not NSPAWN_RUN.exists()

    # -- life ---------------------------------------------------------------------
    def boot(self) -> None:
        for cgroup in self.cgroups:
            cgroup.mkdir(exist_ok=True)
        # A shell moves itself into our cgroups, then becomes nspawn (--keep-unit: the
        # machine's cgroups go below the one nspawn runs in).
        join = "".join(f'echo $$ > "{c}/cgroup.procs" && ' for c in self.cgroups)
        nspawn = "exec systemd-nspawn --quiet --register=no --keep-unit --private-network"
        command = f'{join}{nspawn} --machine="$1" -D "$2" --boot'
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["sh", "-c", command, "sh", self.name, str(self.root)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MachineError(f"nspawn exited: {self.log.read_text(errors='replace')[-2000:]}")
            self.leader = self.leader or self._find_leader()
            if self.leader is not None:
                state = self.run(["systemctl", "is-system-running"]).stdout.strip()
                if state in ("running", "degraded"):
                    return
            time.sleep(0.5)
        raise MachineError(f"{self.name} did not boot within {BOOT_TIMEOUT:.0f} s")

    def _find_leader(self) -> int | None:
        """The machine's PID 1 as this host numbers it: the descendant of nspawn that
        runs systemd and is PID 1 of its own PID namespace."""
        assert self.proc is not None
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parents[int(stat.parent.name)] = int(fields[1])
        for pid, parent in parents.items():
            chain = [parent]
            for _ in range(4):  # nspawn, its outer child, then the machine's PID 1
                chain.append(parents.get(chain[-1], 0))
            if self.proc.pid not in chain:
                continue
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                nspid = next(line for line in status.splitlines() if line.startswith("NSpid:"))
                if nspid.split()[-1] == "1" and "\nName:\tsystemd\n" in f"\n{status}":
                    return pid
        return None

    def run(self, argv: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the machine (all its namespaces, its root)."""
        if self.leader is None:
            raise MachineError(f"{self.name} is not up")
        enter = ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "-r", "-w"]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "SYSTEMD_PAGER": ""}
        return subprocess.run(
            [*enter, "env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def sh(self, command: str, timeout: float = 120.0) -> str:
        done = self.run(["sh", "-c", command], timeout)
        if done.returncode != 0:
            raise MachineError(f"{command}: {done.returncode}: {done.stdout}{done.stderr}")
        return done.stdout

    def poweroff(self, timeout: float = 60.0) -> None:
        """SIGTERM to nspawn halts the machine (systemd's orderly shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.leader = None
        self._remove_cgroups()
        if self._made_nspawn_run:
            for path in sorted(NSPAWN_RUN.rglob("*"), reverse=True):
                with contextlib.suppress(OSError):
                    path.rmdir()
            with contextlib.suppress(OSError):
                NSPAWN_RUN.rmdir()

    def _remove_cgroups(self) -> None:
        """Our cgroup directories and what nspawn and the machine made below them."""
        for cgroup in self.cgroups:
            if not cgroup.exists():
                continue
            for _ in range(50):  # bounded: the last processes may take a moment to go
                tree = sorted((p for p in cgroup.rglob("*") if p.is_dir()), reverse=True)
                for path in [*tree, cgroup]:
                    with contextlib.suppress(OSError):
                        path.rmdir()
                if not cgroup.exists():
                    break
                time.sleep(0.1)

    def leftovers(self) -> list[str]:
        found = [str(c) for c in self.cgroups if c.exists()]
        if self._made_nspawn_run and NSPAWN_RUN.exists():
            found.append(str(NSPAWN_RUN))
        return found
