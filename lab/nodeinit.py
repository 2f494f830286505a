"""PID 1 of a lab node: makes the host look like a small CentOS box, then reaps.

hblab starts this inside the node's network namespace under
``unshare --mount --uts --pid --fork --mount-proc --propagation private``, so every
mount made here is private to the node, and killing this process (``hblab poweroff``)
takes every process of the node with it: the kernel tears down a PID namespace
when its init dies, which is the lab's "pull the plug".

Layout of the node directory (made by :mod:`lab.rootfs` on the host):
  etc/upper, etc/work          overlay over /etc (ha.d files, hostname, hosts, ...)
  lib64/upper, lib64/work      overlay over /usr/lib64 (heartbeat/ipfail)
  sbin/upper, sbin/work        overlay over /usr/local/sbin (hbnode's tools, first on PATH)
  log/                         bound on /var/log (kept across reboots)
  hblib/                       bound on /var/lib/heartbeat (hb_generation survives)
  www/                         bound on /var/www/html (the page naming the node)
/run and /tmp are fresh tmpfs at every boot, as on a real machine. Then, as a booting
host runs systemd-tmpfiles, the node makes what the cluster packages put in /run,
/var/lib/heartbeat and /var/log (lab.pkgfiles; /etc/tmpfiles.d/hblab-packages.conf in
the etc overlay), and starts what they start at boot (lab.bootsvc: ha_logd).
The hbnode source tree hblab runs from is bound read-only on /run/hblab/src (see
lab.source): the node's own /tmp would hide a clone that lives in the host's /tmp.

This module only uses the standard library: it must start in well under a second.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

READY_FILE = "booted"
# Also named in lab.source and lab.implfiles: this module imports nothing of ours.
NODE_SOURCE = "/run/hblab/src"
IMPL_SWITCH = "/usr/local/sbin/hblab-impl"
BOOT_SERVICES = "/etc/hblab/boot-services"  # lab.bootsvc.SCRIPT_PATH
# lab.pkgfiles.CONF_PATH and BOOT_COMMAND (tests/unit/test_pkgfiles.py keeps them equal).
PACKAGE_FILES = "/etc/tmpfiles.d/hblab-packages.conf"
PACKAGE_FILES_BOOT = (
    "systemd-tmpfiles",
    "--create",
    "--prefix=/run",
    "--prefix=/var/lib/heartbeat",
    "--prefix=/var/log",
    "hblab-packages.conf",
)


def _mount(args: list[str]) -> None:
    subprocess.run(["mount", *args], check=True)


def _overlay(target: str, node_dir: Path, name: str) -> None:
    upper, work = node_dir / name / "upper", node_dir / name / "work"
    _mount(
        [
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={target},upperdir={upper},workdir={work}",
            target,
        ]
    )


def _bind(source: Path, target: str) -> None:
    Path(target).mkdir(parents=True, exist_ok=True)
    _mount(["--bind", str(source), target])


def _fresh_run(source: Path | None) -> None:
    _mount(["-t", "tmpfs", "-o", "mode=0755,nosuid,nodev", "tmpfs", "/run"])
    if source is not None:
        # Before the fresh /tmp: the source may be a clone under the host's /tmp.
        _bind(source, NODE_SOURCE)
        _mount(["-o", "remount,bind,ro", NODE_SOURCE])
    _mount(["-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", "/tmp"])
    # Not the cluster packages' (those come from PACKAGE_FILES): the base system's
    # lock dir, nginx's and hbnode's own.
    for sub in ("lock", "nginx", "hbnode"):
        (Path("/run") / sub).mkdir(parents=True, exist_ok=True)


def _boot_services() -> None:
    """The services the cluster packages start at boot (lab.bootsvc: ha_logd). They
    background themselves; this init adopts and reaps them."""
    if Path(BOOT_SERVICES).exists():
        subprocess.run(["sh", BOOT_SERVICES], check=True)


def _package_files() -> None:
    """What the cluster packages put in /run, /var/lib/heartbeat and /var/log (lab.pkgfiles
    writes the file at hblab up; without it the real Heartbeat cannot chdir to its
    cores directory, and IPaddr fails without /run/resource-agents)."""
    if Path(PACKAGE_FILES).exists():
        subprocess.run(list(PACKAGE_FILES_BOOT), check=True)


def setup_filesystem(node_dir: Path, hostname: str, source: Path | None = None) -> None:
    # /sys must show this namespace's interfaces (ifconfig -a, ip -d link read it).
    _mount(["-t", "sysfs", "sysfs", "/sys"])
    _overlay("/etc", node_dir, "etc")
    _overlay("/usr/lib64", node_dir, "lib64")
    # hbnode nodes put their cl_status/hb_standby/hb_takeover first on PATH.
    _overlay("/usr/local/sbin", node_dir, "sbin")
    _fresh_run(source)
    _bind(node_dir / "log", "/var/log")
    _bind(node_dir / "hblib", "/var/lib/heartbeat")
    _bind(node_dir / "www", "/var/www/html")
    _package_files()
    socket.sethostname(hostname)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if Path(IMPL_SWITCH).exists():
        # The tools and ipfail point at the implementation /etc/sysconfig/heartbeat
        # names from boot on, as on the node image (lab.implfiles).
        subprocess.run([IMPL_SWITCH], check=True)
    _boot_services()


def reap_forever(ready: Path) -> None:
    """Be init: adopt orphans (daemons double-fork) and reap them until TERM.

    Signals are blocked and taken with sigwaitinfo, so a child that exits between
    two waits is never missed (the classic pause() race).
    """
    watched = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    ready.write_text(f"{os.getpid()}\n")
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo != signal.SIGCHLD:
            return
        _reap_all()


def _reap_all() -> None:
    for _ in range(10_000):  # bounded: a node never has that many zombies at once
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node-dir", type=Path, required=True)
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--source", type=Path, help="the hbnode tree to bind on " + NODE_SOURCE)
    args = parser.parse_args(argv)
    try:
        setup_filesystem(args.node_dir, args.hostname, args.source)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"hblab node {args.hostname}: boot failed: {exc}", file=sys.stderr)
        return 1
    reap_forever(args.node_dir / READY_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
