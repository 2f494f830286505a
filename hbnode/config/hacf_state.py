"""What config.c keeps in globals while it reads ha.cf, for one pass over one file.

The directive handlers (:mod:`hbnode.config.hacf_directives`) and the whole-line
parsers (:mod:`hbnode.config.hacf_lines`) read and change it; the line loop
(:mod:`hbnode.config.hacf_parse`) sets the current line. Problems are collected,
not raised: Heartbeat counts an error and goes on to the next value, and so do
we, so one run reports every mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hbnode.config.errors import ConfigError, ConfigWarning
from hbnode.config.hacf import HaCf, StonithDevice


@dataclass(slots=True)
class StonithHost:
    """A ``stonith_host host type …`` line; whether it applies is known at the end."""

    host: str  # lowercase, or "*"
    line: int
    plugin: str | None = None  # the STONITH type; None: missing
    params: str = ""  # the rest of the line after the type


@dataclass(slots=True)
class ParseState:
    """One ha.cf being read: the result so far, and the reader's bookkeeping."""

    cfg: HaCf
    line: int = 0
    errors: list[ConfigError] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)  # directives with a refused value
    # bcast and ucast read udpport once, at their first line (bcast.c/ucast.c *_init).
    udp_ports: dict[str, int] = field(default_factory=dict)
    # config.c any_media_statements_yet: set by media and whole-line directives.
    media_seen: bool = False
    pacemaker_line: int | None = None  # set_pcmk_support: allowed once
    baud_line: int | None = None  # set_baudrate: allowed once
    nice_failback: bool = False  # heartbeat.c's global, set by auto_failback on/off
    stonith_hosts: list[StonithHost] = field(default_factory=list)
    stonith_devices: list[StonithDevice] = field(default_factory=list)  # lines that apply

    @property
    def path(self) -> str:
        return self.cfg.path

    def error(self, message: str) -> None:
        """Record a problem on the current line (the node will not start)."""
        self.errors.append(ConfigError(self.path, self.line, message))

    def warn(self, message: str) -> None:
        """Record what Heartbeat would accept with a warning (or silently)."""
        self.cfg.warnings.append(ConfigWarning(self.path, self.line, message))

    def udp_port(self, kind: str) -> int:
        """The port a bcast/ucast line uses: fixed by that kind's first line."""
        return self.udp_ports.setdefault(kind, self.cfg.udpport)
