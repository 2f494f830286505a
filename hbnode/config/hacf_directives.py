"""The one-value ha.cf directives: what each accepts, as config.c's ``Directives[]`` setters.

A handler gets one value (``node a b`` calls it twice). It raises
ValueSyntaxError when Heartbeat's setter would fail, and warns through the
parse state when Heartbeat accepts something that does not mean what it seems
to (``hopfudge 3x`` is 3 there: ``atoi``). Each table row names the setter.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable

from hbnode.config.hacf import AutoFailback, AutoJoin, BcastMedium, GenMethod, MsgFormat, UuidFrom
from hbnode.config.hacf_state import ParseState
from hbnode.config.logsinks import FACILITY_CODES
from hbnode.config.values import (
    ValueSyntaxError,
    atoi_oddity,
    c_atoi,
    msec_oddity,
    parse_bool,
    parse_host,
    parse_ifname,
    parse_msec,
)

Handler = Callable[[ParseState, str], None]

# Times (glue cl_get_msec): directive → (HaCf field, must be above 0?, Heartbeat's wording).
_TIMES: dict[str, tuple[str, bool, str | None]] = {
    "keepalive": ("keepalive_ms", True, None),  # set_keepalive_ms: > 0
    "deadtime": ("deadtime_ms", False, None),  # set_deadtime_ms: >= 0
    "deadping": ("deadping_ms", False, None),  # set_deadping_ms: >= 0
    "initdead": ("initdead_ms", False, None),  # set_initial_deadtime_ms: >= 0
    "warntime": ("warntime_ms", True, "Warn time [{}] is invalid."),  # set_warntime_ms
    "conn_logd_time": ("conn_logd_time_ms", True, None),  # set_logdconntime: > 0
    # hbnode's own (docs/differences.md): a resource script's start/stop time limit.
    "hbnode_resource_timeout": ("resource_timeout_ms", True, None),
    # hbnode's fencing (docs/differences.md, "STONITH"): one reset's time limit, the
    # wait before a failed one is tried again, and the fence-race delay.
    "hbnode_stonith_timeout": ("stonith_timeout_ms", True, None),
    "hbnode_stonith_retry": ("stonith_retry_ms", True, None),
    "hbnode_stonith_delay": ("stonith_delay_ms", False, None),
}
# Booleans (glue cl_str_to_boolean): directive → HaCf field (None: checked, not kept).
_BOOLS: dict[str, str | None] = {
    "syslogmsgfmt": "syslogmsgfmt",  # set_syslog_logfilefmt
    "log_badpack": "log_badpack",  # set_badpack_warn
    "realtime": "realtime",  # set_realtime
    "coredumps": "coredumps",  # set_coredump
    "traditional_compression": "traditional_compression",  # set_traditional_compression
    "use_logd": "use_logd",  # set_logdaemon
    # hbnode's own (docs/differences.md): no takeover while cut off from peer and pings.
    "hbnode_isolation": "isolation",
    # ha_config_check_boolean: Pacemaker switches, checked even without Pacemaker.
    "record_config_changes": None,
    "record_pengine_inputs": None,
    "enable_config_writes": None,
}
# atoi() numbers: directive → (HaCf field, low, high, Heartbeat's wording for a refusal).
_INTS: dict[str, tuple[str, int, int | None, str | None]] = {
    "hopfudge": ("hopfudge", 0, 255, None),  # set_hopfudge
    "debug": ("debug", 0, 255, None),  # set_debuglevel
    "rtprio": ("rtprio", 1, 99, "Illegal realtime priority [{}]"),  # SCHED_FIFO min..max
    "memreserve": ("memreserve_kb", 1, None, None),  # set_memreserve
    "compression_threshold": (
        "compression_threshold_kb",
        1,
        None,
        "set_compression_threshold: compress_threshhold({}) invalid",
    ),
    "max_rexmit_delay": ("max_rexmit_delay_ms", 1, None, "Invalid max_rexmit_delay time({})"),
}
# Keywords: directive → (HaCf field, enum, any case?, Heartbeat's wording).
_CHOICES: dict[str, tuple[str, type[enum.StrEnum], bool, str | None]] = {
    "msgfmt": ("msgfmt", MsgFormat, False, None),  # set_msgfmt: strcmp
    "hbgenmethod": ("hbgenmethod", GenMethod, False, "Illegal hb generation method [{}]"),
    "uuidfrom": ("uuidfrom", UuidFrom, False, "Invalid uuidfrom directive [{}]"),
    "autojoin": ("autojoin", AutoJoin, True, "Invalid autojoin directive [{}]"),  # strcasecmp
}
# Free strings: directive → HaCf field (set_cluster_name, set_logfile, set_dbgfile, …).
_STRINGS: dict[str, str] = {
    "cluster": "cluster",
    "logfile": "logfile",
    "debugfile": "debugfile",
    "coreroot": "coreroot",  # cl_set_corerootdir checks the directory: a machine matter
}
_BAUDS = frozenset({9600, 19200, 38400, 57600, 115200, 230400, 460800})  # StringToBaud
_COMPRESSORS = frozenset({"zlib", "bz2"})  # the HBcompress plugins Heartbeat ships
_PACEMAKER_MODES = frozenset({"minimal", "manual", "respawn", "ccm-only", "valgrind"})
NO_R1 = "hbnode runs haresources (R1) mode only"

# Heartbeat directives hbnode recognises but will not run with (docs/differences.md).
REFUSED: dict[str, str] = {
    "serial": "hbnode has no serial media; use bcast, ucast or mcast",
    "ucast6": "hbnode has no IPv6 media; use ucast",
    "mcast6": "hbnode has no IPv6 media; use mcast",
    "ping6": "hbnode has no IPv6 ping nodes; use ping",
    "failfast": "hbnode does not reboot the machine when a client dies; use respawn"
    " (and watchdog, which resets the machine if hbnode itself stalls)",
}

# Directives whose values config.c does not record for hbparameter: record_value
# FALSE in Directives[], and the media plugins (bcast, ping, serial, ping6).
NOT_RECORDED = frozenset({"node", "nice_failback", "use_apphbd", "crm", "env", "bcast", "ping"})


def _time(state: ParseState, directive: str, value: str) -> None:
    field, positive, wording = _TIMES[directive]
    msec = parse_msec(value)
    if msec < 0 or (positive and msec == 0):
        raise ValueSyntaxError(wording.format(value) if wording else f"{value!r} is not above 0")
    note = msec_oddity(value)
    if note:
        state.warn(f"{directive}: {note}")
    setattr(state.cfg, field, msec)


def _int(state: ParseState, directive: str, value: str) -> None:
    field, low, high, wording = _INTS[directive]
    number = c_atoi(value)
    if number < low or (high is not None and number > high):
        limit = f"at least {low}" if high is None else f"{low}..{high}"
        read = "" if value.isdigit() else f" (atoi reads it as {number})"
        default = f"{value!r} is out of range{read} (want {limit})"
        raise ValueSyntaxError(wording.format(value) if wording else default)
    note = atoi_oddity(value)
    if note:
        state.warn(f"{directive}: {note}")
    setattr(state.cfg, field, number)


def _choice(state: ParseState, directive: str, value: str) -> None:
    field, kind, fold, wording = _CHOICES[directive]
    wanted = value.lower() if fold else value
    for member in kind:
        if member.value == wanted:
            setattr(state.cfg, field, member)
            return
    allowed = "|".join(member.value for member in kind)
    raise ValueSyntaxError(
        wording.format(value) if wording else f"invalid value {value!r} (want {allowed})"
    )


def generic_handler(directive: str) -> Handler | None:
    """The handler for a directive of one of the generic kinds, if it is one."""
    if directive in _TIMES:
        return lambda state, value: _time(state, directive, value)
    if directive in _INTS:
        return lambda state, value: _int(state, directive, value)
    if directive in _CHOICES:
        return lambda state, value: _choice(state, directive, value)
    field = _BOOLS.get(directive, _STRINGS.get(directive))
    if directive in _BOOLS:
        return lambda state, value: _set(state, field, parse_bool(value))
    if directive in _STRINGS:
        return lambda state, value: _set(state, field, value)
    return None


def _set(state: ParseState, field: str | None, value: object) -> None:
    if field is not None:
        setattr(state.cfg, field, value)


# -- directives with rules of their own --------------------------------------------------


def _node(state: ParseState, value: str) -> None:
    name = value.lower()  # add_node: inplace_ascii_strdown
    if name in state.cfg.nodes:
        state.warn(f"node {name!r} is listed more than once")
        return
    state.cfg.nodes.append(name)


def _udpport(state: ParseState, value: str) -> None:
    port = c_atoi(value)
    if port <= 0:
        raise ValueSyntaxError(f"invalid port [{value}] specified.")  # set_udpport
    if port > 65535:
        # Heartbeat takes it and the plugins truncate it (htons): 70000 binds 4464.
        raise ValueSyntaxError(f"invalid port [{value}] specified (want 1..65535)")
    note = atoi_oddity(value)
    if note:
        state.warn(f"udpport: {note}")
    state.cfg.udpport = port
    if state.udp_ports:
        # bcast.c/ucast.c read udpport once, at their first line (config.c says so
        # for every udpport line; we only when it matters).
        kept = ", ".join(
            f"{kind} lines keep port {number}" for kind, number in state.udp_ports.items()
        )
        state.warn(f"udpport setting must precede media statements ({kept})")


def _auto_failback(state: ParseState, value: str) -> None:
    # set_auto_failback: a boolean means nice_failback mode; else "legacy", any case.
    try:
        on = parse_bool(value)
    except ValueSyntaxError:
        if value.lower() != "legacy":
            raise ValueSyntaxError(f"invalid value {value!r} (want on|off|legacy)") from None
        state.nice_failback = False
        state.cfg.auto_failback = AutoFailback.LEGACY
        return
    state.nice_failback = True
    state.cfg.auto_failback = AutoFailback.ON if on else AutoFailback.OFF


def _nice_failback(state: ParseState, value: str) -> None:
    # set_nice_failback checks heartbeat.c's nice_failback global, not the value it
    # just parsed: after an auto_failback on/off line it means "off", else "legacy",
    # whatever the value says. Its messages are logged as errors; the line is accepted.
    parse_bool(value)
    state.warn("nice_failback flag is obsolete.. Use auto_failback {on, off, legacy} instead.")
    if state.nice_failback:
        state.cfg.auto_failback = AutoFailback.OFF
        state.warn(f"'nice_failback {value}' has been changed to 'auto_failback off'")
    else:
        state.cfg.auto_failback = AutoFailback.LEGACY
        state.warn(f"nice_failback {value} has been strictly interpreted as 'auto_failback legacy'")


def _logfacility(state: ParseState, value: str) -> None:
    if value != "none" and value not in FACILITY_CODES:  # cl_syslogfac_str2int
        raise ValueSyntaxError(f"Log facility({value}) not valid")
    if value == "kern":
        state.warn("facility kern is number 0, which Heartbeat takes as 'none': no syslog")
    state.cfg.logfacility = None if value == "none" else value


def _env(state: ParseState, value: str) -> None:
    name, equals, setting = value.partition("=")
    if not name:
        raise ValueSyntaxError(f"set_env: invalid nvpair({value})")
    if not equals:
        # set_env then reads past the end of the string: the value is undefined.
        state.warn(f"env {value}: no '=': HA_{name} is set to an empty value")
    state.cfg.env[f"HA_{name}"] = setting  # set_env prefixes HA_


def _crm(state: ParseState, value: str) -> None:
    _pacemaker(state, value)  # set_release2mode: an alias, recorded as pacemaker


def _pacemaker(state: ParseState, value: str) -> None:
    if state.pacemaker_line is not None:
        raise ValueSyntaxError(
            f"pacemaker/crm directive used multiple times! (first on line {state.pacemaker_line})"
        )
    state.pacemaker_line = state.line
    if value.lower() in _PACEMAKER_MODES or parse_bool(value):
        raise ValueSyntaxError(f"{value!r} is not supported: {NO_R1} (use 'crm off')")
    state.cfg.parameters["pacemaker"] = value


def _crm_daemon_dir(state: ParseState, value: str) -> None:
    # set_crm_daemon_dir tests fail_if_after_pacemaker()'s result the wrong way round:
    # before a pacemaker/crm line the setter fails (silently); after one it logs the
    # error text below and accepts the value. We do what Heartbeat does.
    if state.pacemaker_line is None:
        raise ValueSyntaxError(
            "refused by Heartbeat unless a pacemaker/crm line comes before it"
            " (its order check is inverted); it has no use in haresources mode: remove it"
        )
    state.warn(f"If you specify {value}, it must come before the pacemaker directive")


def _crmd_spawns_pengine(state: ParseState, value: str) -> None:
    if state.pacemaker_line is not None:  # set_pengine_by_crm
        raise ValueSyntaxError(
            f"If you specify {value}, it must come before the pacemaker directive"
        )
    parse_bool(value)


def _bcast(state: ParseState, value: str) -> None:
    state.media_seen = True
    medium = BcastMedium(parse_ifname(value), state.udp_port("bcast"), state.line)
    state.cfg.media.append(medium)


def _ping(state: ParseState, value: str) -> None:
    state.media_seen = True
    name = parse_host(value).lower()  # ping_new → add_node: a ping node is lowercased
    if name in state.cfg.ping_node_names:
        state.warn(f"ping node {name!r} is listed more than once")
        return
    state.cfg.ping_nodes.append(name)


def _baud(state: ParseState, value: str) -> None:
    if state.baud_line is not None:
        raise ValueSyntaxError("Baudrate multiply specified.")
    state.baud_line = state.line
    if c_atoi(value) not in _BAUDS:
        raise ValueSyntaxError(f"invalid baudrate [{value}] specified.")
    if state.media_seen:
        state.warn("baudrate setting must precede media statements")
    state.cfg.baud = c_atoi(value)


def _compression(state: ParseState, value: str) -> None:
    if value not in _COMPRESSORS:  # cl_set_compress_fns loads a plugin by that name
        raise ValueSyntaxError(f"unknown compression module {value!r} (want zlib or bz2)")
    state.cfg.compression = value


def _use_apphbd(state: ParseState, value: str) -> None:
    state.cfg.use_apphbd = parse_bool(value)
    if state.cfg.use_apphbd:
        state.warn("use_apphbd: hbnode does not register with apphbd; ignored")


def _watchdog(state: ParseState, value: str) -> None:
    if state.cfg.watchdog is not None:  # set_watchdogdev
        raise ValueSyntaxError("Watchdog device multiply specified.")
    state.cfg.watchdog = value


def _metrics(state: ParseState, value: str) -> None:
    """``hbnode_metrics ADDRESS:PORT``: the Prometheus endpoint (hbnode.metrics)."""
    if state.cfg.metrics is not None:
        raise ValueSyntaxError("specified more than once")
    address, colon, port = value.rpartition(":")
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        address = ""
    if not colon or not address or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueSyntaxError(
            f"want ADDRESS:PORT, an IPv4 address and a port (e.g. 0.0.0.0:9694), not {value!r}"
        )
    state.cfg.metrics = (address, int(port))


def _quorum_server(state: ParseState, value: str) -> None:
    # set_quorum_server also overwrites the cluster name; only Pacemaker's quorumd uses it.
    state.cfg.quorum_server = state.cfg.cluster = value
    state.warn("quorum_server: only used with Pacemaker; no effect in haresources mode")


SPECIAL: dict[str, Handler] = {
    "node": _node,
    "udpport": _udpport,
    "auto_failback": _auto_failback,
    "nice_failback": _nice_failback,
    "logfacility": _logfacility,
    "env": _env,
    "crm": _crm,
    "pacemaker": _pacemaker,
    "crm_daemon_dir": _crm_daemon_dir,
    "crmd_spawns_pengine": _crmd_spawns_pengine,
    "bcast": _bcast,
    "ping": _ping,
    "baud": _baud,
    "compression": _compression,
    "use_apphbd": _use_apphbd,
    "watchdog": _watchdog,
    "quorum_server": _quorum_server,
    # hbnode's own (docs/differences.md): where to serve Prometheus metrics.
    "hbnode_metrics": _metrics,
}


def handler_for(directive: str) -> Handler | None:
    """The handler of a one-value directive, or None if Heartbeat has no such directive."""
    return SPECIAL.get(directive) or generic_handler(directive)
