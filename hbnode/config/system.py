"""Start-up checks that look at this machine, not only at the files.

The parsers never touch the system (they are unit-tested on text). Before the
daemon starts, :func:`check_system` asks the questions a parser cannot answer:
does each resource script exist, can each respawn client run, do the interfaces
the media name exist. Each answer points at the line that named the thing, so
``hbnode start`` stops with ``file:line: what`` before it writes a pid file,
opens a log or binds a socket.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from hbnode.config.errors import ConfigError
from hbnode.config.hacf import HaCf, check_respawn_programs
from hbnode.config.haresources import check_resource_scripts
from hbnode.config.load import ClusterConfig

INIT_DIR = "/etc/init.d"


def script_dirs(ha_d: Path) -> tuple[str, ...]:
    """Where ResourceManager looks for a script: ``<ha.d>/resource.d``, then init.d."""
    return (os.fspath(ha_d / "resource.d"), INIT_DIR)


def check_media_interfaces(hacf: HaCf) -> list[ConfigError]:
    """One error per bcast/ucast/mcast line whose interface does not exist here.

    Heartbeat's plugin would fail to bind at start-up; saying so with the line
    is kinder than a socket error after the daemon has detached.
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


def check_system(config: ClusterConfig) -> list[ConfigError]:
    """Every problem found, in file order: ha.cf's first, then haresources'."""
    return [
        *check_media_interfaces(config.hacf),
        *check_respawn_programs(config.hacf),
        *check_resource_scripts(config.resource_groups, script_dirs(config.ha_d)),
    ]
