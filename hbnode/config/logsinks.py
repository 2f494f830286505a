"""Where log lines go, decided from ha.cf as Heartbeat 3.0.6 decides it (protocol.md §7).

Heartbeat (config.c ``check_logd_usage``, glue cl_log.c):

* ``use_logd`` defaults to yes when ha.cf has no ``logfile``, ``debugfile`` or
  ``logfacility`` (other than ``none``). With use_logd on, every line goes to
  ha_logd, which with Debian's default (empty) /etc/logd.cf writes it to syslog,
  facility ``daemon``, ident ``heartbeat``, and to no file: the ha.cf log lines
  are then ignored, with the warning ``logd is enabled but … is still configured``.
* With use_logd off, lines go where ha.cf says: ``logfile`` (no debug lines),
  ``debugfile`` (all lines), and syslog with ``logfacility``'s facility.

hbnode has no ha_logd: with use_logd on it plays that part itself, with logd's
defaults (docs/differences.md). This module is pure; hbnode.hblog does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from hbnode.config.hacf import HaCf

# glibc's facilitynames (syslog.h with SYSLOG_NAMES), which cl_syslogfac_str2int
# searches: name → facility code.
FACILITY_CODES: dict[str, int] = {
    "auth": 4 << 3,
    "authpriv": 10 << 3,
    "cron": 9 << 3,
    "daemon": 3 << 3,
    "ftp": 11 << 3,
    "kern": 0 << 3,  # code 0: config.c's "log_facility > 0" tests take it as none
    "lpr": 6 << 3,
    "mail": 2 << 3,
    "mark": 24 << 3,  # INTERNAL_MARK
    "news": 7 << 3,
    "security": 4 << 3,  # an old name of auth
    "syslog": 5 << 3,
    "user": 1 << 3,
    "uucp": 8 << 3,
    **{f"local{n}": (16 + n) << 3 for n in range(8)},
}
LOGD_FACILITY = "daemon"  # ha_logd's HA_LOG_FACILITY when logd.cf does not set one
DEVNULL = "/dev/null"


@dataclass(frozen=True, slots=True)
class LogSinks:
    """The destinations of the daemon's log lines."""

    logfile: str | None  # every line but debug ones
    debugfile: str | None  # every line
    facility: int | None  # syslog facility code; None: no syslog
    through_logd: bool  # use_logd: hbnode writes what ha_logd would have written


def syslog_facility(name: str | None) -> int | None:
    """The facility code syslog gets for ``logfacility name``; None when there is none."""
    code = FACILITY_CODES.get(name) if name is not None else None
    return code if code else None  # "none" and kern (0) mean no syslog


def has_log_directive(hacf: HaCf) -> bool:
    """check_logd_usage: is any of logfile, debugfile or a real logfacility given?"""
    return bool(hacf.logfile or hacf.debugfile or syslog_facility(hacf.logfacility))


def _file(path: str | None) -> str | None:
    # cl_log_set_logfile/cl_log_set_debugfile: /dev/null (any case) means no file.
    return None if path is None or path.lower() == DEVNULL else path


def log_sinks(hacf: HaCf) -> LogSinks:
    """Which destinations a daemon started from ``hacf`` writes to."""
    if hacf.use_logd:
        return LogSinks(None, None, FACILITY_CODES[LOGD_FACILITY], True)
    return LogSinks(
        _file(hacf.logfile), _file(hacf.debugfile), syslog_facility(hacf.logfacility), False
    )
