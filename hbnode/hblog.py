"""Logs in Heartbeat's format, so the tutorials' grep habits keep working.

ha.cf's `logfile` gets every line of level info and above, `debugfile` gets
everything, and `logfacility` sends to syslog with ident `heartbeat`. With
`syslogmsgfmt true` (the default) file lines look like syslog's:
    Nov 25 02:17:33 master heartbeat: [161]: info: Link slave:eth1 up.
and with `syslogmsgfmt false` like Heartbeat's own:
    heartbeat[161]: 2026/11/25_02:17:33 info: Link slave:eth1 up.
"""

from __future__ import annotations

import enum
import os
import socket
import syslog
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


class Level(enum.IntEnum):
    """cl_log's levels, most severe first (syslog priorities)."""

    EMERG = 0
    ALERT = 1
    CRIT = 2
    ERROR = 3
    WARN = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7

    @property
    def label(self) -> str:
        # Heartbeat prints these words in its lines (cl_log.c prio2str).
        return {Level.NOTICE: "notice", Level.INFO: "info", Level.DEBUG: "debug"}.get(
            self, self.name
        )


FACILITIES = {
    name: getattr(syslog, f"LOG_{name.upper()}")
    for name in (
        "auth",
        "authpriv",
        "cron",
        "daemon",
        "kern",
        "lpr",
        "mail",
        "news",
        "syslog",
        "user",
        "uucp",
        *(f"local{i}" for i in range(8)),
    )
    if hasattr(syslog, f"LOG_{name.upper()}")
}


@dataclass
class HbLogger:
    """Writes each line to the configured destinations; never raises on I/O errors.

    A full disk or a missing /dev/log must not take the cluster down: failures
    are counted, not propagated.
    """

    logfile: Path | None = None
    debugfile: Path | None = None
    facility: str | None = None  # None or "none": no syslog
    syslogmsgfmt: bool = True
    ident: str = "heartbeat"
    debug_level: int = 0
    echo: TextIO | None = None  # foreground mode: also print to this stream
    clock: Callable[[], float] = time.time
    write_errors: int = 0
    _handles: dict[Path, TextIO] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.facility and self.facility != "none" and self.facility in FACILITIES:
            syslog.openlog(self.ident, syslog.LOG_PID, FACILITIES[self.facility])

    def log(self, level: Level, text: str, tag: str | None = None) -> None:
        line = self.format(level, text, tag)
        if level <= Level.INFO and self.logfile is not None:
            self._write(self.logfile, line)
        if self.debugfile is not None and (level <= Level.INFO or self.debug_level > 0):
            self._write(self.debugfile, line)
        if self.facility and self.facility != "none" and level <= Level.INFO:
            syslog.syslog(int(level), f"[{os.getpid()}]: {level.label}: {text}")
        if self.echo is not None:
            self.echo.write(line)
            self.echo.flush()

    def format(self, level: Level, text: str, tag: str | None = None) -> str:
        now = self.clock()
        ident = tag or self.ident
        if self.syslogmsgfmt:
            stamp = time.strftime("%b %d %H:%M:%S", time.localtime(now))
            host = socket.gethostname()
            return f"{stamp} {host} {ident}: [{os.getpid()}]: {level.label}: {text}\n"
        stamp = time.strftime("%Y/%m/%d_%H:%M:%S", time.localtime(now))
        return f"{ident}[{os.getpid()}]: {stamp} {level.label}: {text}\n"

    def _write(self, path: Path, line: str) -> None:
        try:
            handle = self._handles.get(path)
            if handle is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                handle = self._handles[path] = path.open("a", buffering=1)
            handle.write(line)
        except OSError:
            self.write_errors += 1

    def reopen(self) -> None:
        """Close files so the next line reopens them (after logrotate, on HUP)."""
        for handle in self._handles.values():
            try:
                handle.close()
            except OSError:
                self.write_errors += 1
        self._handles.clear()

    # Shorthands named as Heartbeat's levels read in its logs.
    def info(self, text: str) -> None:
        self.log(Level.INFO, text)

    def warn(self, text: str) -> None:
        self.log(Level.WARN, text)

    def error(self, text: str) -> None:
        self.log(Level.ERROR, text)

    def crit(self, text: str) -> None:
        self.log(Level.CRIT, text)

    def debug(self, text: str) -> None:
        self.log(Level.DEBUG, text)
