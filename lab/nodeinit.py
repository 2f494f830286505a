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
  dev/                         a tmpfs, in the node only: the upper layer of its /dev
  doc/upper, doc/work          blank nodes: overlay over /usr/share/doc (Heartbeat's samples)
  root/upper, root/work        blank nodes: overlay over /root (root's own ~/.ssh)
/run and /tmp are fresh tmpfs at every boot, as on a real machine. Then, as a booting
host runs systemd-tmpfiles, the node makes what the cluster packages put in /run,
/var/lib/heartbeat and /var/log (lab.pkgfiles; /etc/tmpfiles.d/hblab-packages.conf in
the etc overlay), starts its syslog, and what the packages start at boot
(lab.bootsvc: ha_logd), then runlevel 3's start scripts (blank nodes).
The hbnode source tree hblab runs from is bound read-only on /run/hblab/src (see
lab.source): the node's own /tmp would hide a clone that lives in the host's /tmp.

This module only uses the standard library: it must start in well under a second.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

READY_FILE = "booted"
# Also named in lab.source, lab.implfiles and lab.centos: this module imports nothing of ours.
NODE_SOURCE = "/run/hblab/src"
IMPL_SWITCH = "/usr/local/sbin/hblab-impl"
RSYSLOGD = "rsyslogd"
NETWORK_FILE = "/etc/sysconfig/network"
RC_DIR = "/etc/rc.d/rc3.d"
RC_TIMEOUT = 30.0  # one start script; a stuck one must not keep the node from booting
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


def _private_dev(node_dir: Path) -> None:
    """The node's own /dev: this machine's devices, but what the node creates there
    (rsyslog's /dev/log, the lab's watchdog device) stays in the node, fresh at each boot.

    An overlay whose upper layer is a tmpfs mounted in the node only. /dev/pts stays
    this machine's (`hblab shell` runs on its terminal); /dev/shm is the node's own.
    """
    scratch = node_dir / "dev"
    scratch.mkdir(exist_ok=True)
    _mount(["-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(scratch)])
    for sub in ("upper", "work", "pts"):
        (scratch / sub).mkdir()
    _mount(["--bind", "/dev/pts", str(scratch / "pts")])  # before the overlay hides it
    layers = f"lowerdir=/dev,upperdir={scratch}/upper,workdir={scratch}/work"
    _mount(["-t", "overlay", "overlay", "-o", layers, "/dev"])
    _mount(["--move", str(scratch / "pts"), "/dev/pts"])
    _mount(["-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", "/dev/shm"])


def start_syslog() -> None:
    """rsyslogd, as a CentOS box starts it at boot: /dev/log to /var/log/messages.

    Its /etc/rsyslog.conf is the node's (lab.rootfs writes CentOS's rules). The
    daemon detaches and this init adopts it; a node without rsyslog boots without.
    """
    if shutil.which(RSYSLOGD) is None:
        return
    subprocess.run([RSYSLOGD], check=False, stdin=subprocess.DEVNULL)


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
    _private_dev(node_dir)
    _overlay("/etc", node_dir, "etc")
    _overlay("/usr/lib64", node_dir, "lib64")
    # hbnode nodes put their cl_status/hb_standby/hb_takeover first on PATH.
    _overlay("/usr/local/sbin", node_dir, "sbin")
    _fresh_run(source)
    _bind(node_dir / "log", "/var/log")
    _bind(node_dir / "hblib", "/var/lib/heartbeat")
    _bind(node_dir / "www", "/var/www/html")
    if (node_dir / "doc" / "upper").is_dir():
        _overlay("/usr/share/doc", node_dir, "doc")
    if (node_dir / "root" / "upper").is_dir():
        _overlay("/root", node_dir, "root")
    _package_files()
    socket.sethostname(boot_hostname(hostname))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if Path(IMPL_SWITCH).exists():
        # The tools and ipfail point at the implementation /etc/sysconfig/heartbeat
        # names from boot on, as on the node image (lab.implfiles).
        subprocess.run([IMPL_SWITCH], check=True)


def boot_hostname(default: str) -> str:
    """CentOS 6's rc.sysinit: the name is HOSTNAME= in /etc/sysconfig/network, so a
    name set there (the tutorial's step 1) survives a poweroff; else the lab's."""
    try:
        text = Path(NETWORK_FILE).read_text()
    except OSError:
        return default
    name = ""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "HOSTNAME":
            name = value.strip().strip("\"'")
    return name or default


def run_start_scripts() -> None:
    """CentOS's rc for runlevel 3: each S* link with ``start``, in order (blank nodes
    have iptables and sshd there; other nodes have no such directory)."""
    rc = Path(RC_DIR)
    if not rc.is_dir():
        return
    for script in sorted(rc.glob("S*")):
        try:
            subprocess.run([str(script), "start"], stdin=subprocess.DEVNULL, timeout=RC_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"hblab node: {script}: {exc}", file=sys.stderr, flush=True)


def reap_forever(ready: Path) -> None:
    """Be init: adopt orphans (daemons double-fork) and reap them until TERM.

    Signals are blocked and taken with sigwaitinfo, so a child that exits between
    two waits is never missed (the classic pause() race).
    """
    watched = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    _reap_all()  # children of the start scripts that exited before the mask
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
    start_syslog()
    try:  # after syslog: ha_logd writes through it
        _boot_services()
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"hblab node {args.hostname}: boot services: {exc}", file=sys.stderr, flush=True)
    run_start_scripts()
    reap_forever(args.node_dir / READY_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
