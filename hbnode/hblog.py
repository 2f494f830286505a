"""Logs in Heartbeat's format, so the tutorials' grep habits keep working.

Where lines go is decided from ha.cf by :mod:`hbnode.config.logsinks` (Heartbeat's
use_logd rules). ``logfile`` gets every line of level info and above,
``debugfile`` gets everything, and syslog gets what cl_log.c sends it: ident
``heartbeat``, the message ``[PID]: <level>: <text>``. With ``syslogmsgfmt
true`` (the default) file lines look like syslog's:
    Nov 25 02:17:33 master heartbeat: [161]: info: Link slave:eth1 up.
and with ``syslogmsgfmt false`` like Heartbeat's own:
    heartbeat[161]: 2026/11/25_02:17:33 info: Link slave:eth1 up.

Under systemd, when stderr is the journal (``$JOURNAL_STREAM``), each line goes
there once as ``<6>Link slave:eth1 up.``: the priority in sd-daemon(3)'s prefix,
no time, host or pid (journald records its own). It then replaces the syslog
sink, because /dev/log is the journal too and every line would appear twice.
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


SyslogSend = Callable[[int, str], None]  # (facility | priority, message): syslog(3)


class SyslogSink:
    """Heartbeat's syslog records (cl_log.c ``cl_direct_log``), through /dev/log.

    The ident is set with openlog and the pid goes in the message, not through
    LOG_PID: syslog then shows ``heartbeat: [161]: info: …`` as Heartbeat's does.
    ``send`` replaces the libc call in tests.
    """

    def __init__(self, ident: str, facility: int, send: SyslogSend | None = None) -> None:
        self.ident = ident
        self.facility = facility
        if send is None:
            # No LOG_CONS: a node without a syslog daemon must not write to a console.
            syslog.openlog(ident, 0, facility)
            send = syslog.syslog
        self._send = send

    @staticmethod
    def record(level: Level, text: str, pid: int) -> str:
        """The message body cl_log.c gives syslog: ``[PID]: <level>: <text>``."""
        return f"[{pid}]: {level.label}: {text}"

    def emit(self, level: Level, text: str, pid: int) -> None:
        self._send(self.facility | int(level), self.record(level, text, pid))


@dataclass
class HbLogger:
    """Writes each line to the configured destinations; never raises on I/O errors.

    A full disk or a missing /dev/log must not take the cluster down: failures
    are counted, not propagated.
    """

    logfile: Path | None = None
    debugfile: Path | None = None
    syslog: SyslogSink | None = None
    syslogmsgfmt: bool = True
    ident: str = "heartbeat"
    debug_level: int = 0
    echo: TextIO | None = None  # foreground mode: also print to this stream
    journal: TextIO | None = None  # stderr when it is the journal: "<prio>text" lines
    clock: Callable[[], float] = time.time
    write_errors: int = 0
    _handles: dict[Path, TextIO] = field(default_factory=dict)

    def log(self, level: Level, text: str, tag: str | None = None) -> None:
        line = self.format(level, text, tag)
        wanted = level <= Level.INFO or self.debug_level > 0  # debug lines only with debug on
        if level <= Level.INFO and self.logfile is not None:
            self._write(self.logfile, line)
        if self.debugfile is not None and wanted:
            self._write(self.debugfile, line)
        if self.syslog is not None and wanted:
            try:
                self.syslog.emit(level, text, os.getpid())
            except OSError:
                self.write_errors += 1
        if self.journal is not None and wanted:
            self._to_journal(level, text)
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

    def _to_journal(self, level: Level, text: str) -> None:
        """sd-daemon(3) prefixes; journald applies one to its own line only."""
        assert self.journal is not None
        try:
            for part in text.splitlines() or [""]:
                self.journal.write(f"<{int(level)}>{part}\n")
            self.journal.flush()
        except OSError:
            self.write_errors += 1

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

    def notice(self, text: str) -> None:
        self.log(Level.NOTICE, text)

    def warn(self, text: str) -> None:
        self.log(Level.WARN, text)

    def error(self, text: str) -> None:
        self.log(Level.ERROR, text)

    def crit(self, text: str) -> None:
        self.log(Level.CRIT, text)

    def debug(self, text: str) -> None:
        self.log(Level.DEBUG, text)


def stream_is_journal(fd: int, journal_stream: str | None) -> bool:
    """True when ``fd`` is the stream systemd named in ``$JOURNAL_STREAM`` (DEV:INODE).

    systemd.exec(5): compare device and inode, because a descriptor inherited
    from elsewhere (a redirect in an ExecStart= shell) must not be taken for it.
    """
    if not journal_stream:
        return False
    dev, _, ino = journal_stream.partition(":")
    try:
        st = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError):
        return False
