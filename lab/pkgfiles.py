"""What the cluster packages put in the places each lab node keeps its own copy of.

A node sees this machine's /usr, and its /etc through an overlay, so the packages'
programs and /etc/ha.d (harc, rc.d, resource.d, shellfuncs) are there as installed.
But /var/lib/heartbeat and /var/log are the node's own and start empty, and /run is
a fresh tmpfs at every boot: what dpkg unpacked there, and what the maintainer
scripts did to it, has to be made again inside each node. Without it the real
Heartbeat logs ``ERROR: Cannot chdir to [/var/lib/heartbeat/cores]`` from every
process it forks.

Nothing here is a hand list. For each package (:data:`PACKAGES`):

* its file list (``dpkg-query -L``) names the paths; each one's type, mode and owner
  are read from the path as installed on this machine, that is after the maintainer
  scripts ran (heartbeat's postinst makes ``cores/{root,nobody,hacluster}`` 0700,
  each owned by its user; cluster-glue's postinst chowns two of them again);
* the tmpfiles.d files in that list (heartbeat.conf: ``/run/heartbeat/{ccm,crm,dopd}``,
  ``/run/crm``; resource-agents.conf: ``/run/resource-agents``) are what the
  postinst applies with ``systemd-tmpfiles --create`` and a booting host applies
  again, since /run is empty after a reboot.

:func:`render` writes both as one tmpfiles.d file (:data:`CONF_PATH`). A node applies
it at every boot with :data:`BOOT_COMMAND`, whose ``--prefix`` options keep it to
the node's own places. The netns backend renders it at ``hblab up`` from this
machine's packages; the node image renders it at build time from its own (the
documented generation step: ``python -m lab.docker_nodefiles``). A package update
is followed at the next ``hblab up`` or image build.
"""

from __future__ import annotations

import functools
import grp
import os
import pwd
import stat
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError

# Heartbeat and the two it depends on for the paths it uses...
CLUSTER_PACKAGES = ("heartbeat", "cluster-glue", "resource-agents")
# ... and nginx, the tutorial's resource: its log directory is in the node's /var/log.
PACKAGES = (*CLUSTER_PACKAGES, "nginx-common")
# The places a node has its own copy of (lab.nodeinit, images/node/hblab-boot).
NODE_OWN = ("/run", "/var/lib/heartbeat", "/var/log")
CONF_NAME = "hblab-packages.conf"
CONF_PATH = f"/etc/tmpfiles.d/{CONF_NAME}"
# Also spelled out in lab.nodeinit (which imports nothing of ours) and in
# images/node/hblab-boot; tests/unit/test_pkgfiles.py checks that they agree.
BOOT_COMMAND = (
    "systemd-tmpfiles",
    "--create",
    *(f"--prefix={place}" for place in NODE_OWN),
    CONF_NAME,
)
TMPFILES_DIRS = ("/usr/lib/tmpfiles.d/", "/lib/tmpfiles.d/", "/etc/tmpfiles.d/")


class PackageFilesError(LabError):
    """A package put something there that a tmpfiles.d line cannot make again."""


@dataclass(frozen=True, slots=True)
class PackagedPath:
    """One path a package put in a node's own place, as installed here."""

    package: str
    path: str
    kind: str  # tmpfiles.d type: "d" directory, "L" symlink, "f" empty file
    mode: int
    user: str
    group: str
    target: str = ""  # a symlink's target

    def line(self) -> str:
        if self.kind == "L":
            return f"L {self.path} - - - - {self.target}"
        return f"{self.kind} {self.path} {self.mode:04o} {self.user} {self.group} -"


# Rewritten by every install and removal: the key of file_list's cache.
DPKG_STATUS = Path("/var/lib/dpkg/status")


def file_list(package: str) -> list[str]:
    """The package's own file list; empty when it is not installed here.

    dpkg is asked once per package while its database stays as it is: one lab's
    bring-up needs the same four lists about twenty times (each node's files and boot
    services), and a test run brings hundreds of labs up from a few processes, where
    dpkg-query was 4 % of the machine's CPU."""
    return list(_asked_of_dpkg(package, _dpkg_changed()))


def _dpkg_changed() -> int:
    """When dpkg last wrote its database: every install and removal rewrites it."""
    try:
        return DPKG_STATUS.stat().st_mtime_ns
    except OSError:
        return 0


@functools.lru_cache(maxsize=64)
def _asked_of_dpkg(package: str, _changed: int) -> tuple[str, ...]:
    try:
        done = subprocess.run(
            ["dpkg-query", "-L", package], capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError:  # not a Debian machine: no package put anything anywhere
        return ()
    if done.returncode != 0:
        return ()
    return tuple(line for line in done.stdout.splitlines() if line.startswith("/"))


def _under(path: str, places: Iterable[str]) -> bool:
    return any(path == place or path.startswith(place + "/") for place in places)


def _name(lookup: Callable[[int], str], number: int) -> str:
    try:
        return lookup(number)
    except KeyError:
        return str(number)


def describe(package: str, path: str, lstat: Callable[[str], os.stat_result]) -> PackagedPath:
    """The tmpfiles.d entry that makes ``path`` again as it is installed here."""
    info = lstat(path)
    user = _name(lambda uid: pwd.getpwuid(uid).pw_name, info.st_uid)
    group = _name(lambda gid: grp.getgrgid(gid).gr_name, info.st_gid)
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISDIR(info.st_mode):
        return PackagedPath(package, path, "d", mode, user, group)
    if stat.S_ISLNK(info.st_mode):
        return PackagedPath(package, path, "L", mode, user, group, os.readlink(path))
    if stat.S_ISREG(info.st_mode) and info.st_size == 0:
        return PackagedPath(package, path, "f", mode, user, group)
    # No package ships one today; copying contents is a step this module lacks.
    raise PackageFilesError(f"{package} installs {path}, which lab.pkgfiles cannot copy")


def packaged_paths(
    packages: Iterable[str] = PACKAGES,
    places: Iterable[str] = NODE_OWN,
    lstat: Callable[[str], os.stat_result] = os.lstat,
) -> list[PackagedPath]:
    """Every path of ``packages`` at or under ``places`` that exists here, parents first."""
    places = tuple(places)
    found: dict[str, PackagedPath] = {}
    for package in packages:
        for path in file_list(package):
            if path in found or not _under(path, places):
                continue
            try:
                found[path] = describe(package, path, lstat)
            except FileNotFoundError:
                continue  # listed but removed by the admin: dpkg would not make it again
    return [found[path] for path in sorted(found)]


def tmpfiles_confs(packages: Iterable[str] = PACKAGES) -> list[tuple[str, str]]:
    """(package, path) of each tmpfiles.d file the packages ship."""
    return [
        (package, path)
        for package in packages
        for path in file_list(package)
        if path.endswith(".conf") and path.startswith(TMPFILES_DIRS)
    ]


def render(paths: Iterable[PackagedPath], confs: Iterable[tuple[str, str]]) -> str:
    """One tmpfiles.d file: the packages' paths, then their own tmpfiles.d lines."""
    out = [
        "# Written by hblab (lab.pkgfiles): what the cluster packages put in the places a",
        "# lab node has its own copy of, as installed on the machine this was made on.",
        f"# Applied at every boot: {' '.join(BOOT_COMMAND)}",
    ]
    by_package: dict[str, list[PackagedPath]] = {}
    for entry in paths:
        by_package.setdefault(entry.package, []).append(entry)
    for package, entries in by_package.items():
        out.append(f"\n# dpkg-query -L {package}, with modes and owners as installed")
        out.extend(entry.line() for entry in entries)
    for package, conf in confs:
        out.append(f"\n# {conf} (package {package})")
        text = Path(conf).read_text()
        out.extend(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return "\n".join(out) + "\n"


def node_conf() -> str:
    """The file :data:`CONF_PATH` of a node, from the packages installed here."""
    return render(packaged_paths(), tmpfiles_confs())
