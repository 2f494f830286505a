"""What Heartbeat does after the last ha.cf line (config.c ``init_config``).

Defaults that depend on other values are derived here (warntime, initdead,
deadping, use_logd), the start-up checks run in Heartbeat's order, and the
recorded parameter strings get Heartbeat's defaults (``Directives[]``) so
``cl_status hbparameter`` answers as Heartbeat would. Every failed check is
collected; a check about a directive whose own value was refused is skipped,
since it would only repeat that problem.
"""

from __future__ import annotations

import itertools

from hbnode.config.errors import ConfigError, ConfigWarning
from hbnode.config.hacf import AutoFailback, AutoJoin, HaCf, StonithDevice
from hbnode.config.hacf_state import ParseState
from hbnode.config.logsinks import DEVNULL, has_log_directive, syslog_facility

# config.c Directives[]: the recorded default of each directive that has one.
RECORDED_DEFAULTS: dict[str, str] = {
    "cluster": "linux-ha",
    "hopfudge": "1",
    "keepalive": "1000ms",
    "deadtime": "30000ms",
    "baud": "19200",
    "auto_failback": "legacy",
    "hbgenmethod": "file",
    "realtime": "true",
    "msgfmt": "classic",
    "conn_logd_time": "60",
    "log_badpack": "true",
    "syslogmsgfmt": "true",
    "coredumps": "true",
    "pacemaker": "false",
    "autojoin": "none",
    "uuidfrom": "file",
    "compression": "zlib",
    "compression_threshold": "2",
    "traditional_compression": "no",
    "max_rexmit_delay": "250",
    "record_config_changes": "on",
    "record_pengine_inputs": "on",
    "enable_config_writes": "on",
    "memreserve": "6500",
}
_TIMERS = frozenset({"keepalive", "deadtime", "initdead", "deadping"})


def _line_of(cfg: HaCf, directives: tuple[str, ...]) -> int | None:
    lines = [cfg.lines[name] for name in directives if name in cfg.lines]
    return lines[0] if lines else None


def _error(state: ParseState, message: str, *directives: str) -> None:
    """An error placed on the line of the first of ``directives`` that was given."""
    state.errors.append(ConfigError(state.path, _line_of(state.cfg, directives), message))


def _warn(cfg: HaCf, message: str, *directives: str) -> None:
    cfg.warnings.append(ConfigWarning(cfg.path, _line_of(cfg, directives), message))


def finish(state: ParseState, node_name: str | None) -> None:
    """Derive defaults and run the start-up checks, collecting what fails.

    ``node_name`` is the node we run as (lowercased here); None checks the file
    for no node in particular (``hbnode check --files-only`` without ``--node``).
    """
    cfg = state.cfg
    for name, value in RECORDED_DEFAULTS.items():
        cfg.parameters.setdefault(name, value)
    if not cfg.media and "ucast" not in state.failed and "mcast" not in state.failed:
        _error(state, "No heartbeat media defined (want bcast, ucast or mcast)")
    if not cfg.nodes:
        # Heartbeat counts ping nodes here; they are not cluster nodes, so we do not.
        _error(state, "no nodes defined (want a 'node' line for each cluster node)")
    for name in cfg.nodes:
        if name in cfg.ping_node_names:
            _error(state, f"node {name!r} is also a ping node", "node")
    if node_name is not None and cfg.nodes and node_name.lower() not in cfg.nodes:
        listed = ", ".join(cfg.nodes)
        # Placed on the last 'node' line: that is where the missing one belongs.
        message = f"Current node [{node_name.lower()}] not in configuration! (nodes: {listed})"
        _error(state, message, "node")
    _check_stonith_hosts(state, node_name)
    if not state.failed & _TIMERS:
        _check_timers(state)
    _derive_warntime(cfg)
    cfg.parameters.setdefault("udpport", str(cfg.udpport))
    cfg.parameters.setdefault("debug", str(cfg.debug))
    if cfg.auto_failback is AutoFailback.LEGACY:
        _warn(
            cfg,
            "Deprecated 'legacy' auto_failback option selected."
            " Please convert to 'auto_failback on'.",
            "auto_failback",
            "nice_failback",
        )
    if "use_logd" not in state.failed:
        _check_logging(state)
    if cfg.autojoin is not AutoJoin.NONE:
        message = (
            "R1 style resource management conflicts with  autojoin set:"
            f" autojoin {cfg.autojoin.value}; use autojoin none"
        )
        _error(state, message, "autojoin")


def _check_stonith_hosts(state: ParseState, node_name: str | None) -> None:
    """set_stonith_host_info: a line naming another host is ignored, before its type
    is read; one naming this host (or ``*``) needs a type and parameters. Of every
    ``stonith``/``stonith_host`` line that applies, the last is the device
    (config.c keeps one: ``config->stonith = s``)."""
    for entry in state.stonith_hosts:
        applies = entry.host == "*" or (
            entry.host in state.cfg.nodes if node_name is None else entry.host == node_name.lower()
        )
        if not applies:
            continue
        if not entry.plugin:
            state.errors.append(
                ConfigError(state.path, entry.line, "stonith_host: No Stonith type given")
            )
        elif not entry.params:
            message = f"stonith_host: no parameters for [{entry.plugin}] (want HOST TYPE PARAMS…)"
            state.errors.append(ConfigError(state.path, entry.line, message))
        else:
            device = StonithDevice(entry.plugin, entry.params, None, "stonith_host", entry.line)
            state.stonith_devices.append(device)
    devices = sorted(state.stonith_devices, key=lambda d: d.line)
    for old, new in itertools.pairwise(devices):
        message = f"{new.directive}: replaces the STONITH device of line {old.line}"
        state.cfg.warnings.append(
            ConfigWarning(state.path, new.line, message + " (Heartbeat keeps only the last)")
        )
    state.cfg.stonith = devices[-1] if devices else None


def _check_timers(state: ParseState) -> None:
    """deadtime > 2×keepalive; initdead ≥ deadtime; deadping > 2×keepalive (§4.1)."""
    cfg = state.cfg
    if cfg.deadtime_ms <= 2 * cfg.keepalive_ms:
        message = (
            f"Dead time [{cfg.deadtime_ms}] is too small compared to keeplive"
            f" [{cfg.keepalive_ms}] (milliseconds: deadtime must be more than twice keepalive)"
        )
        _error(state, message, "deadtime", "keepalive")
    if "initdead" not in cfg.lines:
        cfg.initdead_ms = default_initdead(cfg.deadtime_ms)
        cfg.parameters["initdead"] = f"{cfg.initdead_ms}ms"
    if cfg.initdead_ms < cfg.deadtime_ms:
        message = (
            f"Initial dead time [{cfg.initdead_ms}] is smaller than deadtime [{cfg.deadtime_ms}]"
            " (milliseconds)"
        )
        _error(state, message, "initdead")
    elif cfg.initdead_ms < 10000:
        _warn(
            cfg,
            f"Initial dead time [{cfg.initdead_ms} ms] may be too small! It accounts for"
            " slow network start-up and should be >= deadtime and >= 10 seconds",
            "initdead",
        )
    if "deadping" not in cfg.lines:
        cfg.deadping_ms = cfg.deadtime_ms
        cfg.parameters["deadping"] = f"{cfg.deadping_ms}ms"
    elif cfg.deadping_ms <= 2 * cfg.keepalive_ms:
        message = (
            f"Ping dead time [{cfg.deadping_ms}] is too small compared to keeplive"
            f" [{cfg.keepalive_ms}] (milliseconds: deadping must be more than twice keepalive)"
        )
        _error(state, message, "deadping")


def default_initdead(deadtime_ms: int) -> int:
    """initdead when not given: deadtime above 10 s; 12 s below 6 s; else 2×deadtime."""
    if deadtime_ms > 10000:
        return deadtime_ms
    if deadtime_ms < 6000:
        return 12000
    return 2 * deadtime_ms


def _derive_warntime(cfg: HaCf) -> None:
    """warntime defaults to deadtime/2; Heartbeat checks nothing else, we warn."""
    if "warntime" not in cfg.lines or cfg.warntime_ms <= 0:
        cfg.warntime_ms = cfg.deadtime_ms // 2
        cfg.parameters["warntime"] = f"{cfg.warntime_ms}ms"
        return
    if cfg.warntime_ms >= cfg.deadtime_ms:
        _warn(
            cfg,
            f"warntime [{cfg.warntime_ms} ms] is not below deadtime [{cfg.deadtime_ms} ms]:"
            " no 'Late heartbeat' warning can come before a node is declared dead",
            "warntime",
        )
    elif cfg.warntime_ms < cfg.keepalive_ms:
        _warn(
            cfg,
            f"warntime [{cfg.warntime_ms} ms] is below keepalive [{cfg.keepalive_ms} ms]:"
            " every heartbeat will be reported late",
            "warntime",
        )


def _check_logging(state: ParseState) -> None:
    """config.c check_logd_usage, with its wording."""
    cfg = state.cfg
    given = "use_logd" in cfg.lines
    if not has_log_directive(cfg):
        if not given:
            cfg.use_logd = True  # "No log entry found in ha.cf -- use logd"
            cfg.parameters["use_logd"] = "yes"
        elif not cfg.use_logd:
            _error(state, "No log entry found in ha.cf and use_logd is set to off", "use_logd")
    elif given and cfg.use_logd:
        # check_logd_usage tests the logfile and debugfile *arrays* for NULL, so it
        # always names both; logfacility only when it is a real facility.
        named = "logfile/debugfile" + ("/logfacility" if syslog_facility(cfg.logfacility) else "")
        _warn(
            cfg,
            f"logd is enabled but {named} is still configured in ha.cf"
            " (hbnode, like ha_logd with an empty logd.cf, logs to syslog facility daemon only)",
            "use_logd",
        )
    if syslog_facility(cfg.logfacility):
        # Heartbeat records /dev/null for the files it will not write when syslog is on.
        cfg.parameters.setdefault("logfile", DEVNULL)
        cfg.parameters.setdefault("debugfile", DEVNULL)
