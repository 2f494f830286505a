"""Read ha.cf the way Heartbeat 3.0.6's heartbeat/config.c does (protocol.md §5.1).

A line is: everything after ``#`` dropped, the directive (first token, case
sensitive), then values split on space, tab or comma, applied one at a time
(``node a b`` is two nodes). Whole-line directives (``ucast``, ``mcast``,
``ping_group``, ``respawn``, ``apiauth``, and the rejected ``stonith``,
``stonith_host``, ``failfast``) get the rest of the line instead.

After the last line come Heartbeat's start-up checks and derived defaults
(:mod:`hbnode.config.hacf_checks`). The first problem raises
:class:`~hbnode.config.errors.ConfigError`; warnings are collected on the result.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable

from hbnode.config import hacf_checks, hacf_lines
from hbnode.config.errors import ConfigError, ConfigWarning
from hbnode.config.hacf import (
    AutoFailback,
    AutoJoin,
    BcastMedium,
    GenMethod,
    HaCf,
    MsgFormat,
    UuidFrom,
)
from hbnode.config.values import (
    ValueSyntaxError,
    parse_bool,
    parse_host,
    parse_ifname,
    parse_int,
    parse_msec,
)

_WHITESPACE = " \t\n\r\f"  # heartbeat.h WHITESPACE
_DELIMS = re.compile(r"[, \t\n\r\f]+")  # heartbeat.h DELIMS: values split on these

# Times (cl_get_msec): directive → (HaCf field, smallest legal value in ms).
_TIMES: dict[str, tuple[str, int]] = {
    "keepalive": ("keepalive_ms", 1),
    "deadtime": ("deadtime_ms", 0),
    "deadping": ("deadping_ms", 0),
    "initdead": ("initdead_ms", 0),
    "warntime": ("warntime_ms", 1),
    "conn_logd_time": ("conn_logd_time_ms", 1),
    # hbnode's own extension (docs/differences.md): how long a resource script's start
    # or stop may run before its process group is killed (Heartbeat waits for ever).
    "hbnode_resource_timeout": ("resource_timeout_ms", 1),
}
# Booleans (cl_str_to_boolean): directive → HaCf field (None: checked, not kept).
_BOOLS: dict[str, str | None] = {
    "syslogmsgfmt": "syslogmsgfmt",
    "log_badpack": "log_badpack",
    "realtime": "realtime",
    "coredumps": "coredumps",
    "traditional_compression": "traditional_compression",
    "use_logd": "use_logd",
    # hbnode's own extension (docs/differences.md): refuse to take over, and let go,
    # while cut off from the peer and every ping node.
    "hbnode_isolation": "isolation",
    # Pacemaker-only switches; Heartbeat checks them even without pacemaker.
    "record_config_changes": None,
    "record_pengine_inputs": None,
    "enable_config_writes": None,
    "crmd_spawns_pengine": None,
}
# Integers: directive → (HaCf field, low, high); the limits are config.c's.
_INTS: dict[str, tuple[str, int, int | None]] = {
    "hopfudge": ("hopfudge", 0, 255),
    "debug": ("debug", 0, 255),
    "rtprio": ("rtprio", 1, 99),  # sched_get_priority_{min,max}(SCHED_FIFO) on Linux
    "memreserve": ("memreserve_kb", 1, None),
    "compression_threshold": ("compression_threshold_kb", 1, None),
    "max_rexmit_delay": ("max_rexmit_delay_ms", 1, None),
}
# Keywords: directive → (HaCf field, enum, case-insensitive?) as config.c compares them.
_CHOICES: dict[str, tuple[str, type[enum.StrEnum], bool]] = {
    "msgfmt": ("msgfmt", MsgFormat, False),
    "hbgenmethod": ("hbgenmethod", GenMethod, False),
    "uuidfrom": ("uuidfrom", UuidFrom, False),
    "autojoin": ("autojoin", AutoJoin, True),
}
# Free strings: directive → HaCf field (None: accepted, only recorded).
_STRINGS: dict[str, str | None] = {
    "cluster": "cluster",
    "logfile": "logfile",
    "debugfile": "debugfile",
    "coreroot": "coreroot",
    "crm_daemon_dir": None,
}
_BAUDS = frozenset({9600, 19200, 38400, 57600, 115200, 230400, 460800})  # StringToBaud
_COMPRESSORS = frozenset({"zlib", "bz2"})  # Heartbeat's HBcompress plugins
# GLUE cl_syslog.c facilitynames (plus "none", which means no syslog).
_FACILITIES = frozenset(
    {"auth", "security", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail"}
    | {"news", "syslog", "user", "uucp"}
    | {f"local{n}" for n in range(8)}
)
_PACEMAKER_ON = frozenset({"minimal", "manual", "respawn", "ccm-only", "valgrind"})

# Heartbeat directives hbnode recognises but will not run with, and why.
_NO_R1 = "hbnode runs haresources (R1) mode only"
REJECTED: dict[str, str] = {
    "serial": "hbnode has no serial media; use bcast, ucast or mcast",
    "ucast6": "hbnode has no IPv6 media; use ucast",
    "mcast6": "hbnode has no IPv6 media; use mcast",
    "ping6": "hbnode has no IPv6 ping nodes; use ping",
    "hbaping": "hbnode has no Fibre Channel HBA ping media",
    "tipc": "hbnode has no TIPC media",
    "rds": "hbnode has no RDS media",
    "stonith": "hbnode has no STONITH support",
    "stonith_host": "hbnode has no STONITH support",
    "watchdog": "hbnode does not drive a watchdog device (it would reboot the machine "
    "if hbnode stalled); remove the line",
    "failfast": "hbnode does not reboot the machine when a client dies; use respawn",
    "quorum_server": f"{_NO_R1}; a quorum server is for Pacemaker",
}

# Whole-line directives get the rest of the line (config.c WLdirectives and the
# media plugins that have a parse function).
_WHOLE_LINE: dict[str, Callable[[HaCf, str, int, int], list[str]]] = {
    "ucast": hacf_lines.add_ucast,
    "mcast": hacf_lines.add_mcast,
    "ping_group": hacf_lines.add_ping_group,
    "respawn": hacf_lines.add_respawn,
    "apiauth": hacf_lines.add_apiauth,
}

# Heartbeat records a value for hbparameter only for Directives[] entries with
# record_value set: not for these, nor for media (bcast, ping) or whole-line ones.
_NOT_RECORDED = frozenset({"node", "nice_failback", "use_apphbd", "crm", "env", "bcast", "ping"})


class _Parser:
    """One pass over ha.cf; holds what config.c keeps in globals while it reads."""

    def __init__(self, path: str) -> None:
        self.cfg = HaCf(path=path)
        self.path = path
        self.line = 0
        self.udp_ports: dict[str, int] = {}  # medium kind → port fixed by its first line
        self.pacemaker_line: int | None = None
        self.handlers: dict[str, Callable[[str], None]] = {
            "node": self._node,
            "udpport": self._udpport,
            "auto_failback": self._auto_failback,
            "nice_failback": self._nice_failback,
            "logfacility": self._logfacility,
            "env": self._env,
            "crm": self._pacemaker,
            "pacemaker": self._pacemaker,
            "bcast": self._bcast,
            "ping": self._ping,
            "baud": self._baud,
            "compression": self._compression,
            "use_apphbd": self._use_apphbd,
        }

    # -- errors and warnings -------------------------------------------------

    def error(self, message: str) -> ConfigError:
        return ConfigError(self.path, self.line, message)

    def warn(self, message: str) -> None:
        self.cfg.warnings.append(ConfigWarning(self.path, self.line, message))

    # -- the line loop ---------------------------------------------------------

    def feed(self, text: str) -> None:
        for self.line, raw in enumerate(text.split("\n"), start=1):
            body = raw.lstrip(_WHITESPACE).split("#", 1)[0]
            body = re.split(r"[\r\n]", body, maxsplit=1)[0]
            if body.strip(_WHITESPACE):
                self._directive(body)

    def _directive(self, body: str) -> None:
        directive = re.split(r"[ \t\n\r\f]", body, maxsplit=1)[0]
        rest = body[len(directive) :].lstrip(", \t\n\r\f")
        if directive == "udp":
            # config.c DIRTYALIASKLUDGE: the obsolete name of bcast.
            self.warn("directive 'udp' replaced by 'bcast'")
            directive = "bcast"
        if directive in REJECTED:
            raise self.error(f"{directive}: not supported: {REJECTED[directive]}")
        self.cfg.lines[directive] = self.line
        if directive in _WHOLE_LINE:
            self._whole_line(directive, rest)
            return
        handler = self._handler(directive)
        values = [value for value in _DELIMS.split(rest) if value]
        if not values:
            raise self.error(f"{directive}: missing value")
        for value in values:
            try:
                handler(value)
            except ValueSyntaxError as exc:
                raise self.error(f"{directive}: {exc}") from None
            if directive not in _NOT_RECORDED:
                self.cfg.parameters[directive] = value

    def _whole_line(self, directive: str, rest: str) -> None:
        # ucast's plugin fixes its port at its first line, like bcast (see _udpport).
        port = self._udp_port(directive) if directive == "ucast" else self.cfg.udpport
        try:
            notes = _WHOLE_LINE[directive](self.cfg, rest, self.line, port)
        except ValueSyntaxError as exc:
            raise self.error(f"{directive}: {exc}") from None
        for note in notes:
            self.warn(f"{directive}: {note}")

    def _handler(self, directive: str) -> Callable[[str], None]:
        if directive in self.handlers:
            return self.handlers[directive]
        if directive in _TIMES:
            field, low = _TIMES[directive]
            return lambda value: self._time(field, low, value)
        if directive in _BOOLS:
            return lambda value: self._set(_BOOLS[directive], parse_bool(value))
        if directive in _INTS:
            field, low, high = _INTS[directive]
            return lambda value: self._set(field, parse_int(value, low, high))
        if directive in _CHOICES:
            return lambda value: self._choice(directive, value)
        if directive in _STRINGS:
            return lambda value: self._set(_STRINGS[directive], value)
        raise self.error(f"unknown directive {directive!r}")

    # -- generic value kinds -----------------------------------------------------

    def _set(self, field: str | None, value: object) -> None:
        if field is not None:
            setattr(self.cfg, field, value)

    def _time(self, field: str, low: int, value: str) -> None:
        msec = parse_msec(value)
        if msec < low:
            raise ValueSyntaxError(f"{value!r} is too small (want more than 0)")
        setattr(self.cfg, field, msec)

    def _choice(self, directive: str, value: str) -> None:
        field, kind, fold = _CHOICES[directive]
        wanted = value.lower() if fold else value
        for member in kind:
            if member.value == wanted:
                setattr(self.cfg, field, member)
                return
        allowed = "|".join(member.value for member in kind)
        raise ValueSyntaxError(f"invalid value {value!r} (want {allowed})")

    # -- directives with their own rules -------------------------------------------

    def _node(self, value: str) -> None:
        name = value.lower()  # config.c add_node: inplace_ascii_strdown
        if name in self.cfg.nodes:
            self.warn(f"node {name!r} is listed more than once")
            return
        self.cfg.nodes.append(name)

    def _udpport(self, value: str) -> None:
        self.cfg.udpport = parse_int(value, 1, 65535)
        if self.udp_ports:
            # The bcast/ucast plugins read udpport once, at their first line.
            kept = ", ".join(f"{kind} {port}" for kind, port in self.udp_ports.items())
            self.warn(
                f"udpport {value} comes after media lines, which keep their port ({kept});"
                " put udpport before the media lines"
            )

    def _udp_port(self, kind: str) -> int:
        return self.udp_ports.setdefault(kind, self.cfg.udpport)

    def _auto_failback(self, value: str) -> None:
        if value.lower() == "legacy":
            self.cfg.auto_failback = AutoFailback.LEGACY
        else:
            try:
                on = parse_bool(value)
            except ValueSyntaxError:
                raise ValueSyntaxError(f"invalid value {value!r} (want on|off|legacy)") from None
            self.cfg.auto_failback = AutoFailback.ON if on else AutoFailback.OFF

    def _nice_failback(self, value: str) -> None:
        # Obsolete: "nice_failback on" means "auto_failback off", off means legacy.
        mode = AutoFailback.OFF if parse_bool(value) else AutoFailback.LEGACY
        self.cfg.auto_failback = mode
        self.cfg.parameters["auto_failback"] = mode.value
        self.warn(
            f"nice_failback is obsolete; 'nice_failback {value}' is taken as "
            f"'auto_failback {mode.value}'"
        )

    def _logfacility(self, value: str) -> None:
        if value != "none" and value not in _FACILITIES:
            raise ValueSyntaxError(f"Log facility({value}) not valid")
        self.cfg.logfacility = None if value == "none" else value

    def _env(self, value: str) -> None:
        name, equals, setting = value.partition("=")
        if not name or not equals:
            raise ValueSyntaxError(f"invalid nvpair({value}) (want NAME=value)")
        self.cfg.env[f"HA_{name}"] = setting  # config.c set_env prefixes HA_

    def _pacemaker(self, value: str) -> None:
        if self.pacemaker_line is not None:
            raise ValueSyntaxError(
                f"pacemaker/crm directive used multiple times (first on line {self.pacemaker_line})"
            )
        self.pacemaker_line = self.line
        if value.lower() in _PACEMAKER_ON:
            raise ValueSyntaxError(f"{value!r} is not supported: {_NO_R1} (use 'crm off')")
        if parse_bool(value):
            raise ValueSyntaxError(f"{value!r} is not supported: {_NO_R1} (use 'crm off')")
        self.cfg.parameters["pacemaker"] = value  # crm is recorded under its new name

    def _bcast(self, value: str) -> None:
        medium = BcastMedium(parse_ifname(value), self._udp_port("bcast"), self.line)
        self.cfg.media.append(medium)

    def _ping(self, value: str) -> None:
        name = parse_host(value).lower()  # a ping node is a node: lowercased like one
        if name in self.cfg.ping_node_names:
            self.warn(f"ping node {name!r} is listed more than once")
            return
        self.cfg.ping_nodes.append(name)

    def _baud(self, value: str) -> None:
        if "baud" in self.cfg.parameters:
            raise ValueSyntaxError("Baudrate multiply specified")
        baud = parse_int(value, 1)
        if baud not in _BAUDS:
            raise ValueSyntaxError(f"invalid baudrate [{value}] specified")
        self.cfg.baud = baud

    def _use_apphbd(self, value: str) -> None:
        self.cfg.use_apphbd = parse_bool(value)
        if self.cfg.use_apphbd:
            self.warn("use_apphbd: hbnode does not register with apphbd; ignored")

    def _compression(self, value: str) -> None:
        if value not in _COMPRESSORS:
            raise ValueSyntaxError(f"unknown compression module {value!r} (want zlib or bz2)")
        self.cfg.compression = value


def parse_hacf_text(text: str, path: str = "ha.cf", node_name: str | None = None) -> HaCf:
    """Parse ha.cf text, apply Heartbeat's defaults and start-up checks.

    ``node_name`` is the name this node must find among the ``node`` lines
    (default: lowercase ``uname -n``). Raises ConfigError at the first problem.
    """
    parser = _Parser(path)
    parser.feed(text)
    hacf_checks.finish(parser.cfg, default_node_name() if node_name is None else node_name)
    return parser.cfg


def load_hacf(path: str | os.PathLike[str], node_name: str | None = None) -> HaCf:
    """Read and parse an ha.cf file (see :func:`parse_hacf_text`)."""
    where = os.fspath(path)
    try:
        with open(where, encoding="utf-8", errors="surrogateescape") as stream:
            text = stream.read()
    except OSError as exc:
        raise ConfigError(where, None, f"Cannot open config file: {exc.strerror}") from exc
    return parse_hacf_text(text, where, node_name)


def default_node_name() -> str:
    """This machine's node name as Heartbeat sees it: ``uname -n`` in lowercase."""
    return os.uname().nodename.lower()
