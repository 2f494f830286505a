"""Start-up checks that look at this machine, not only at the files.

The parsers never touch the system (they are unit-tested on text). Before the
daemon starts, :func:`check_machine` asks the questions a parser cannot answer:
does each resource script exist, can each respawn client run, do the interfaces
the media name exist, is the watchdog device there, can the metrics endpoint
listen. Each answer points at the line that named the thing, so ``hbnode start``
stops with ``file:line: what`` before it writes a pid file, opens a log or binds
a socket (the metrics check binds port 0 for a moment, and lets it go).
``hbnode check --files-only`` skips all of this.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Sequence
from pathlib import Path

from hbnode.config.errors import ConfigError, ConfigWarning
from hbnode.config.hacf import HaCf, check_respawn_programs
from hbnode.config.haresources import ResourceGroup, check_resource_scripts
from hbnode.config.load import ClusterConfig

INIT_DIR = "/etc/init.d"


def script_dirs(ha_d: Path) -> tuple[str, ...]:
    """Where ResourceManager looks for a script: ``<ha.d>/resource.d``, then init.d."""
    return (os.fspath(ha_d / "resource.d"), INIT_DIR)


def check_media_interfaces(hacf: HaCf) -> list[ConfigError]:
    """One error per bcast/ucast/mcast line whose interface does not exist here.

    Heartbeat's plugins refuse such a line while reading ha.cf (bcast.c: ``IP
    interface [eth9] does not exist``); saying so with the line is kinder.
    """
    errors: list[ConfigError] = []
    for medium in hacf.media:
        try:
            socket.if_nametoindex(medium.dev)
        except OSError:
            kind = type(medium).__name__.removesuffix("Medium").lower()
            message = f"{kind}: no such interface {medium.dev!r} on this node"
            errors.append(ConfigError(hacf.path, medium.line, message))
    return errors


def check_watchdog_device(hacf: HaCf) -> list[ConfigWarning]:
    """``watchdog dev`` naming a device that is not here: Heartbeat starts without one."""
    if hacf.watchdog is None or os.path.exists(hacf.watchdog):
        return []
    message = (
        f"watchdog: {hacf.watchdog} does not exist on this node: the daemon will log"
        f" 'Cannot open watchdog device: {hacf.watchdog}' and run without a watchdog"
    )
    return [ConfigWarning(hacf.path, hacf.directive_line("watchdog"), message)]


def check_metrics(hacf: HaCf) -> list[ConfigError]:
    """``hbnode_metrics``: prometheus_client is installed, the address is this machine's."""
    if hacf.metrics is None:
        return []
    line = hacf.directive_line("hbnode_metrics")
    if importlib.util.find_spec("prometheus_client") is None:
        message = (
            "hbnode_metrics needs prometheus_client"
            " (apt install python3-prometheus-client, or pip install 'hbnode[metrics]')"
        )
        return [ConfigError(hacf.path, line, message)]
    address, _ = hacf.metrics
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))  # port 0: asks only whether the address is ours
    except OSError as exc:
        return [ConfigError(hacf.path, line, f"hbnode_metrics: cannot listen on {address}: {exc}")]
    return []


def check_machine(
    ha_d: Path, hacf: HaCf | None, groups: Sequence[ResourceGroup]
) -> tuple[list[ConfigError], list[ConfigWarning]]:
    """Every problem of this machine, with the lines that name them."""
    errors: list[ConfigError] = []
    warnings: list[ConfigWarning] = []
    if hacf is not None:
        errors += check_media_interfaces(hacf) + check_respawn_programs(hacf)
        from hbnode.stonith_io import check_device  # runs cluster-glue's stonith -L

        errors += check_device(hacf)
        errors += check_metrics(hacf)
        warnings += check_watchdog_device(hacf)
    errors += check_resource_scripts(groups, script_dirs(ha_d))
    return errors, warnings


def check_system(config: ClusterConfig) -> list[ConfigError]:
    """Every problem found on this machine for a loaded configuration, in file order."""
    errors, _ = check_machine(config.ha_d, config.hacf, config.resource_groups)
    return errors
