"""What the cluster packages start when a host boots, besides heartbeat itself.

On Debian, cluster-glue's postinst enables ``logd.service`` (``deb-systemd-helper
enable``: a link in ``/etc/systemd/system/multi-user.target.wants``), so a Debian
host boots ha_logd; the RPM packages do the same with ``chkconfig --add logd``.
A lab node boots no systemd, so it runs the same commands from a script.

Derived, not listed by hand: each systemd unit in the packages' file lists that
is enabled for boot on the machine the script is made on, with the unit's own
``ExecStart``. ``heartbeat.service`` is left out: hblab starts the daemon itself
(``hblab up``, or ``HB_AUTOSTART`` in compose.yaml), as the tutorial does with
``service heartbeat start``; so is nginx, a resource heartbeat starts (the tutorial
turns its boot start off). The netns backend writes the script at ``hblab up``,
the node image at build (lab.docker_nodefiles); lab.nodeinit and hblab-boot run it.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path

from lab.pkgfiles import CLUSTER_PACKAGES, file_list

SCRIPT_PATH = "/etc/hblab/boot-services"  # also named in lab.nodeinit and hblab-boot
WANTS = Path("/etc/systemd/system/multi-user.target.wants")
UNIT_DIRS = ("/lib/systemd/system/", "/usr/lib/systemd/system/")
STARTED_BY_HBLAB = {"heartbeat.service"}
# ExecStart= prefixes that change how systemd runs the command, not what runs.
EXEC_PREFIXES = "-@+!:"


def enabled_units(packages: Iterable[str] = CLUSTER_PACKAGES, wants: Path = WANTS) -> list[Path]:
    """The packages' service units that this machine boots, heartbeat's left out."""
    units = []
    for package in packages:
        for path in file_list(package):
            unit = Path(path)
            if not path.startswith(UNIT_DIRS) or unit.suffix != ".service":
                continue
            if unit.name not in STARTED_BY_HBLAB and (wants / unit.name).exists():
                units.append(unit)
    return units


def exec_start(unit_text: str) -> list[str]:
    """The command of a unit's ``ExecStart=`` line (the last one set), as argv."""
    command: list[str] = []
    for raw in unit_text.splitlines():
        key, sep, value = raw.strip().partition("=")
        if sep and key.strip() == "ExecStart":
            command = shlex.split(value.strip().lstrip(EXEC_PREFIXES))
    return command


def render(units: Iterable[Path]) -> str:
    lines = [
        "#!/bin/sh",
        "# Written by hblab (lab.bootsvc): the cluster packages' services this host boots,",
        "# each in the background as systemd would run it; heartbeat is started by hblab.",
    ]
    for unit in units:
        command = exec_start(unit.read_text())
        if command:
            lines.append(f"# {unit.name}: enabled in {WANTS}")
            lines.append(f"{shlex.join(command)} </dev/null >/dev/null 2>&1 &")
    return "\n".join(lines) + "\n"


def node_script() -> str:
    return render(enabled_units())
