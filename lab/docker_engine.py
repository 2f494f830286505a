"""Which Docker engine the lab talks to, and a private one for machines without.

``python -m lab.docker_engine reachable|start|stop [--purge]|status|env``

An engine is found at ``$DOCKER_HOST``, else at the private engine's socket
(``/run/hblab-d/docker.sock``) when that one runs, else at the default socket.

The private engine (``start``) is ``dockerd`` with its own data root, exec root,
socket and pid file, with ``--iptables=false --ip-masq=false --ip-forward=false
--bridge=none``, and it runs inside its own network namespace, ``hblab-d-engine``:
the bridges Docker makes for the lab's networks live there, so the machine's root
namespace gets no link, address, route or rule. ``stop`` ends exactly the dockerd
it started (pid and start time recorded), removes the namespace, and the files
dockerd leaves outside its roots (/etc/docker/key.json, /run/docker/plugins) when
they were not there before; ``--purge`` removes the data root (images) too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab import rtsched
from lab.errors import LabError
from lab.proc import ProcessId, descendants, wait_gone

# A second private engine (a class outgrowing one engine, or a test of a "remote" one
# reached only through DOCKER_HOST) sets all three to names of its own.
RUN_DIR = Path(os.environ.get("HBLAB_D_RUN", "/run/hblab-d"))
DATA_ROOT = Path(os.environ.get("HBLAB_D_DATA", "/var/lib/hblab-d/engine"))
ENGINE_NETNS = os.environ.get("HBLAB_D_NETNS", "hblab-d-engine")
SOCKET = RUN_DIR / "docker.sock"
RECORD = RUN_DIR / "engine.json"
DEFAULT_URL = "unix:///var/run/docker.sock"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
# What dockerd creates outside --data-root/--exec-root whatever it is told.
OUTSIDE_FILES = (Path("/etc/docker/key.json"),)
# Children before parents: each is removed only if empty and not there before.
OUTSIDE_DIRS = (
    Path("/run/docker/plugins"),
    Path("/run/docker"),
    Path("/run/containerd/s"),  # the shims' sockets, whatever the exec root
    Path("/run/containerd"),
    Path("/etc/docker"),
)
CGROUP_ROOT = Path("/sys/fs/cgroup")


def outside_dirs(cgroup_root: Path = CGROUP_ROOT) -> list[Path]:
    """OUTSIDE_DIRS, and the cgroup parent dockerd makes in every hierarchy
    (``<hierarchy>/docker`` under cgroup v1, ``docker`` itself under v2): left behind,
    they would outlive the engine that made them."""
    hierarchies = sorted(
        d for d in (cgroup_root.iterdir() if cgroup_root.is_dir() else ()) if d.is_dir()
    )
    parents = [h / rtsched.ENGINE_PARENT for h in hierarchies if not h.is_symlink()]
    return [*OUTSIDE_DIRS, *parents, cgroup_root / rtsched.ENGINE_PARENT]


def private_url() -> str:
    return f"unix://{SOCKET}"


def engine_url() -> str:
    """The engine hblab uses: $DOCKER_HOST, the private engine, or the default socket."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    if SOCKET.is_socket():
        return private_url()
    return DEFAULT_URL


def client(url: str | None = None, timeout: int = 120) -> Any:
    """A docker SDK client (imported lazily: the netns lab does not need it)."""
    try:
        import docker
    except ImportError as exc:
        raise LabError("the docker backend needs the docker package (pip install docker)") from exc
    target = url or engine_url()
    try:
        return docker.DockerClient(base_url=target, timeout=timeout)
    except docker.errors.DockerException as exc:
        raise LabError(f"no Docker engine answers at {target} ({exc})") from None


@contextlib.contextmanager
def session(failure: str, url: str | None = None) -> Iterator[Any]:
    """A client for one piece of work, closed after it. A LabError passes as it is;
    any other error (the SDK's, a socket's) becomes one that starts with ``failure``,
    so the user reads what was being done, not only what the engine said."""
    api = client(url)
    try:
        yield api
    except LabError:
        raise
    except Exception as exc:
        raise LabError(f"{failure}: {exc}") from exc
    finally:
        api.close()


def engine_pid(url: str) -> int | None:
    """dockerd's pid, for an engine on this machine: its pid file where it is known,
    else the peer of its unix socket (SO_PEERCRED: a second engine reached by
    DOCKER_HOST alone). None for an engine elsewhere (tcp://, ssh://)."""
    pidfile = {private_url(): RUN_DIR / "docker.pid", DEFAULT_URL: Path("/var/run/docker.pid")}
    try:
        return int(pidfile[url].read_text().split()[0])
    except (KeyError, OSError, ValueError, IndexError):
        pass
    if not url.startswith("unix://"):
        return None
    import socket
    import struct

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(url.removeprefix("unix://"))
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    pid, _uid, _gid = struct.unpack("3i", creds)
    return pid or None


def reachable(url: str | None = None) -> bool:
    """True if an engine answers at ``url`` (the client asks its version on creation)."""
    try:
        api = client(url, timeout=5)
    except Exception:  # LabError, or the SDK's and requests' errors alike
        return False
    try:
        return bool(api.ping())
    except Exception:
        return False
    finally:
        api.close()


@dataclass
class EngineRecord:
    """What ``start`` made, so ``stop`` removes exactly that."""

    pid: list[int]  # ProcessId.to_json() of dockerd
    data_root: str
    made_netns: bool
    preexisting: list[str]  # OUTSIDE_FILES / OUTSIDE_DIRS that were there before

    def save(self) -> None:
        RECORD.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls) -> EngineRecord | None:
        try:
            return cls(**json.loads(RECORD.read_text()))
        except FileNotFoundError:
            return None


def _netns_exists(name: str) -> bool:
    return Path(f"/run/netns/{name}").exists()


def start(data_root: Path = DATA_ROOT) -> str:
    """Start the private engine (idempotent); returns its URL once the API answers."""
    if EngineRecord.load() is not None and reachable(private_url()):
        return private_url()
    if shutil.which("dockerd") is None:
        raise LabError("dockerd is not installed (make deps-docker installs docker.io)")
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    data_root.mkdir(parents=True, exist_ok=True)
    preexisting = [str(p) for p in (*OUTSIDE_FILES, *outside_dirs()) if p.exists()]
    made_netns = not _netns_exists(ENGINE_NETNS)
    if made_netns:
        subprocess.run(["ip", "netns", "add", ENGINE_NETNS], check=True)
    record = EngineRecord([], str(data_root), made_netns, preexisting)
    record.save()  # recorded before dockerd exists: stop finds the namespace
    subprocess.run(
        ["ip", "-n", ENGINE_NETNS, "link", "set", "lo", "up"], check=True, capture_output=True
    )
    (RUN_DIR / "daemon.json").write_text("{}\n")
    argv = [
        "nsenter",
        f"--net=/run/netns/{ENGINE_NETNS}",
        "dockerd",
        f"--config-file={RUN_DIR / 'daemon.json'}",
        f"--data-root={data_root}",
        f"--exec-root={RUN_DIR / 'exec'}",
        f"--host={private_url()}",
        f"--pidfile={RUN_DIR / 'docker.pid'}",
        "--iptables=false",
        "--ip-masq=false",
        "--ip-forward=false",
        "--bridge=none",
    ]
    if rtsched.rt_group_sched():  # a real-time budget the nodes can share (lab.rtsched)
        argv.append(f"--cpu-rt-runtime={rtsched.ENGINE_RT_RUNTIME_US}")
    with (RUN_DIR / "dockerd.log").open("a") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    # nsenter execs dockerd in place: the pid is dockerd's.
    pid = ProcessId.of(proc.pid)
    record.pid = pid.to_json() if pid else []
    record.save()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (RUN_DIR / "dockerd.log").read_text(errors="replace").splitlines()[-5:]
            stop()
            raise LabError("dockerd exited: " + " | ".join(tail))
        if SOCKET.is_socket() and reachable(private_url()):
            return private_url()
        time.sleep(0.1)
    stop()
    raise LabError(f"dockerd did not answer within {START_TIMEOUT:.0f} s")


def _remove_containers(url: str) -> None:
    """A private engine holds only the lab's containers: remove them before stopping."""
    api = client(url, timeout=30)
    try:
        for container in api.containers.list(all=True):
            with contextlib.suppress(Exception):
                container.remove(force=True)
    finally:
        api.close()


def stop(purge: bool = False) -> list[str]:
    """Stop the private engine and remove what ``start`` made; returns what was removed."""
    record = EngineRecord.load()
    if record is None:
        return []
    removed: list[str] = []
    if record.pid and reachable(private_url()):
        _remove_containers(private_url())
    if record.pid:
        dockerd = ProcessId.from_json(record.pid)
        family = [p for p in (ProcessId.of(k) for k in descendants(dockerd.pid)) if p]
        if dockerd.kill(signal.SIGTERM):
            removed.append(f"dockerd[{dockerd.pid}]")
        if not wait_gone([dockerd], STOP_TIMEOUT):
            dockerd.kill(signal.SIGKILL)
            wait_gone([dockerd], 5.0)
        for pid in family:  # containerd and shims, if dockerd left any
            pid.kill(signal.SIGKILL)
        wait_gone(family, 5.0)
    removed += _unmount_under((RUN_DIR, Path(record.data_root)))
    if record.made_netns and _netns_exists(ENGINE_NETNS):
        subprocess.run(["ip", "netns", "delete", ENGINE_NETNS], check=False)
        removed.append(f"netns {ENGINE_NETNS}")
    for path in OUTSIDE_FILES:
        if str(path) not in record.preexisting and path.exists():
            path.unlink()
            removed.append(str(path))
    for path in outside_dirs():
        if str(path) not in record.preexisting and path.is_dir():
            # Only if empty (a cgroup parent: while another engine's containers are in
            # it, it stays): never what someone else put there.
            with contextlib.suppress(OSError):
                path.rmdir()
                removed.append(str(path))
    if purge and Path(record.data_root).exists():
        shutil.rmtree(record.data_root)
        removed.append(record.data_root)
        with contextlib.suppress(OSError):
            Path(record.data_root).parent.rmdir()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    removed.append(str(RUN_DIR))
    return removed


def _unmount_under(roots: tuple[Path, ...]) -> list[str]:
    """Mounts dockerd left under its roots (a killed dockerd leaves overlay and nsfs).

    The roots themselves count: dockerd bind-mounts its data root onto itself.
    """
    tops = tuple(str(r.resolve()) for r in roots)
    prefixes = tuple(t + "/" for t in tops)
    mounts = [
        line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if line.split()
    ]
    ours = (m for m in mounts if m in tops or m.startswith(prefixes))
    gone = []
    for target in sorted(ours, reverse=True):
        if subprocess.run(["umount", "-l", target], capture_output=True).returncode == 0:
            gone.append(f"mount {target}")
    return gone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.docker_engine", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("reachable", help="exit 0 if an engine answers")
    start_p = sub.add_parser("start", help="start the private engine")
    start_p.add_argument("--data-root", type=Path, default=DATA_ROOT)
    stop_p = sub.add_parser("stop", help="stop the private engine")
    stop_p.add_argument("--purge", action="store_true", help="remove its images too")
    sub.add_parser("status", help="which engine hblab would use")
    args = parser.parse_args(argv)
    try:
        if args.command == "reachable":
            return 0 if reachable() else 1
        if args.command == "status":
            url = engine_url()
            print(f"{url} {'reachable' if reachable(url) else 'not reachable'}")
            return 0
        if os.geteuid() != 0:
            raise LabError("the private engine needs root")
        if args.command == "start":
            started = time.monotonic()
            url = start(args.data_root)
            print(
                f"private engine at {url} ({time.monotonic() - started:.1f} s); "
                f"export DOCKER_HOST={url} to use it from docker and docker-compose"
            )
        else:
            removed = stop(args.purge)
            print("private engine stopped: " + (", ".join(removed) or "nothing was running"))
    except LabError as exc:
        print(f"hblab: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
