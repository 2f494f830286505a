"""Where log lines go (config.c check_logd_usage, glue cl_log.c) and what syslog receives.

No syslog daemon is needed: the decision is pure, and the syslog call is
replaced by a recorder that gets exactly what libc's syslog(3) would.
"""

from __future__ import annotations

import os
import syslog
from pathlib import Path

import pytest

from hbnode.config import load_config, parse_hacf_text
from hbnode.config.logsinks import FACILITY_CODES, LogSinks, log_sinks
from hbnode.daemon import make_logger
from hbnode.hblog import HbLogger, Level, SyslogSink

BASE = "node master\nbcast eth0\nauto_failback on\n"
DAEMON = syslog.LOG_DAEMON
LOGD = "config.c check_logd_usage → ha_logd with Debian's empty /etc/logd.cf"


@pytest.mark.parametrize(
    ("path", "lines", "sinks"),
    [
        (f"{LOGD}: no log line, use_logd defaults to yes", "",
         LogSinks(None, None, DAEMON, True)),
        (f"{LOGD}: use_logd yes", "use_logd yes", LogSinks(None, None, DAEMON, True)),
        (f"{LOGD}: logfacility none is no log line", "logfacility none",
         LogSinks(None, None, DAEMON, True)),
        (f"{LOGD}: logfacility kern is facility 0, i.e. none", "logfacility kern",
         LogSinks(None, None, DAEMON, True)),
        (f"{LOGD}: with use_logd on, ha.cf's files are logd's business (warned)",
         "use_logd on\nlogfile /var/log/ha-log\nlogfacility local0",
         LogSinks(None, None, DAEMON, True)),
        ("cl_log.c cl_direct_log: logfile", "logfile /var/log/ha-log",
         LogSinks("/var/log/ha-log", None, None, False)),
        ("cl_log.c cl_direct_log: debugfile", "debugfile /var/log/ha-debug",
         LogSinks(None, "/var/log/ha-debug", None, False)),
        ("cl_log.c cl_log_set_facility: logfacility", "logfacility local0",
         LogSinks(None, None, syslog.LOG_LOCAL0, False)),
        ("the tutorial: all three", "logfile /l\ndebugfile /d\nlogfacility local0",
         LogSinks("/l", "/d", syslog.LOG_LOCAL0, False)),
        ("use_logd off with a log line", "use_logd off\nlogfile /l",
         LogSinks("/l", None, None, False)),
        ("cl_log.c cl_log_set_logfile: /dev/null is no file", "logfile /DEV/NULL\nlogfacility user",
         LogSinks(None, None, syslog.LOG_USER, False)),
    ],
)  # fmt: skip
def test_which_sinks_for_which_directives(path: str, lines: str, sinks: LogSinks) -> None:
    assert log_sinks(parse_hacf_text(BASE + lines + "\n", "ha.cf", "master")) == sinks, path


def test_facility_codes_are_libcs() -> None:
    for name in ("auth", "authpriv", "cron", "daemon", "kern", "lpr", "mail", "news", "user"):
        assert FACILITY_CODES[name] == getattr(syslog, f"LOG_{name.upper()}"), name
    assert FACILITY_CODES["local7"] == syslog.LOG_LOCAL7
    assert FACILITY_CODES["security"] == syslog.LOG_AUTH


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    def __call__(self, priority: int, message: str) -> None:
        self.sent.append((priority, message))


@pytest.mark.parametrize(
    ("level", "body"),
    [
        (Level.INFO, "[{pid}]: info: Link slave:eth1 up."),
        (Level.WARN, "[{pid}]: WARN: Link slave:eth1 up."),
        (Level.ERROR, "[{pid}]: ERROR: Link slave:eth1 up."),
        (Level.CRIT, "[{pid}]: CRIT: Link slave:eth1 up."),
        (Level.NOTICE, "[{pid}]: notice: Link slave:eth1 up."),
    ],
)
def test_the_syslog_record_is_heartbeats(level: Level, body: str) -> None:
    # cl_log.c cl_direct_log: syslog(priority, "%s[%d]: %s%s%s", "", pid, pristr, ": ", buf)
    # with openlog(entity) setting the ident: "heartbeat: [PID]: info: text" in the log.
    sent = Recorder()
    logger = HbLogger(syslog=SyslogSink("heartbeat", DAEMON, sent))
    logger.log(level, "Link slave:eth1 up.")
    assert sent.sent == [(DAEMON | int(level), body.format(pid=os.getpid()))]


def test_debug_lines_reach_syslog_only_with_debug_on() -> None:
    sent = Recorder()
    logger = HbLogger(syslog=SyslogSink("heartbeat", DAEMON, sent))
    logger.debug("quiet")
    assert sent.sent == []
    logger.debug_level = 1
    logger.debug("loud")
    assert sent.sent == [(DAEMON | syslog.LOG_DEBUG, f"[{os.getpid()}]: debug: loud")]


def test_a_failing_syslog_is_counted_not_raised() -> None:
    def broken(priority: int, message: str) -> None:
        raise OSError("no /dev/log")

    logger = HbLogger(syslog=SyslogSink("heartbeat", DAEMON, broken))
    logger.info("still running")
    assert logger.write_errors == 1


def _ha_d(tmp_path: Path, hacf: str) -> Path:
    (tmp_path / "ha.cf").write_text(hacf)
    (tmp_path / "authkeys").write_text("auth 1\n1 sha1 k\n")
    (tmp_path / "authkeys").chmod(0o600)
    (tmp_path / "haresources").write_text("")
    return tmp_path


def test_a_config_without_log_lines_logs_to_syslog_daemon(tmp_path: Path) -> None:
    config = load_config(_ha_d(tmp_path, BASE), "master")
    sent = Recorder()
    logger = make_logger(config, foreground=False, syslog_send=sent)
    assert (logger.logfile, logger.debugfile) == (None, None)
    logger.info("Configuration validated.")
    pid = os.getpid()
    assert sent.sent == [
        (DAEMON | syslog.LOG_INFO, f"[{pid}]: info: No log entry found in ha.cf -- use logd"),
        (DAEMON | syslog.LOG_INFO, f"[{pid}]: info: Configuration validated."),
    ]


def test_the_tutorials_log_lines_write_files_and_local0(tmp_path: Path) -> None:
    hacf = BASE + f"logfile {tmp_path}/ha-log\ndebugfile {tmp_path}/ha-debug\nlogfacility local0\n"
    config = load_config(_ha_d(tmp_path, hacf), "master")
    sent = Recorder()
    logger = make_logger(config, foreground=False, syslog_send=sent)
    logger.warn("Late heartbeat")
    logger.debug("not written: debug is off")
    assert sent.sent == [
        (syslog.LOG_LOCAL0 | syslog.LOG_WARNING, f"[{os.getpid()}]: WARN: Late heartbeat")
    ]
    assert (tmp_path / "ha-log").read_text().endswith("WARN: Late heartbeat\n")
    assert (tmp_path / "ha-debug").read_text().endswith("WARN: Late heartbeat\n")
