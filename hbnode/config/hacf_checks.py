"""What Heartbeat does after the last ha.cf line (config.c ``init_config``).

Defaults that depend on other values are derived here (warntime, initdead,
deadping, use_logd), the start-up checks run in Heartbeat's order, and the
recorded parameter strings get Heartbeat's defaults (``Directives[]``) so
``cl_status hbparameter`` answers as Heartbeat would.
"""

from __future__ import annotations

from hbnode.config.errors import ConfigError, ConfigWarning
from hbnode.config.hacf import AutoFailback, AutoJoin, HaCf

DEVNULL = "/dev/null"

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


def _error(cfg: HaCf, message: str, *directives: str) -> ConfigError:
    """An error placed on the line of the first of ``directives`` that was given."""
    lines = [cfg.lines[name] for name in directives if name in cfg.lines]
    return ConfigError(cfg.path, lines[0] if lines else None, message)


def _warn(cfg: HaCf, message: str, *directives: str) -> None:
    lines = [cfg.lines[name] for name in directives if name in cfg.lines]
    cfg.warnings.append(ConfigWarning(cfg.path, lines[0] if lines else None, message))


def finish(cfg: HaCf, node_name: str) -> None:
    """Derive defaults and run the start-up checks; raise ConfigError at the first failure."""
    for name, value in RECORDED_DEFAULTS.items():
        cfg.parameters.setdefault(name, value)
    if not cfg.media:
        raise _error(cfg, "No heartbeat media defined (want bcast, ucast or mcast)")
    if not cfg.nodes:
        # Heartbeat counts ping nodes here; they are not cluster nodes, so we do not.
        raise _error(cfg, "no nodes defined (want a 'node' line for each cluster node)")
    for name in cfg.nodes:
        if name in cfg.ping_node_names:
            raise _error(cfg, f"node {name!r} is also a ping node", "node")
    local = node_name.lower()
    if local not in cfg.nodes:
        listed = ", ".join(cfg.nodes)
        # Placed on the last 'node' line: that is where the missing one belongs.
        message = f"Current node [{local}] not in configuration! (nodes: {listed})"
        raise _error(cfg, message, "node")
    _check_timers(cfg)
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
    _check_logging(cfg)
    if cfg.autojoin is not AutoJoin.NONE:
        message = f"autojoin {cfg.autojoin.value}: conflicts with haresources; use autojoin none"
        raise _error(cfg, message, "autojoin")


def _check_timers(cfg: HaCf) -> None:
    """deadtime > 2×keepalive; initdead ≥ deadtime; deadping > 2×keepalive (§4.1)."""
    if cfg.deadtime_ms <= 2 * cfg.keepalive_ms:
        message = (
            f"Dead time [{cfg.deadtime_ms} ms] is too small compared to keepalive"
            f" [{cfg.keepalive_ms} ms]; it must be more than twice keepalive"
        )
        raise _error(cfg, message, "deadtime", "keepalive")
    if "initdead" not in cfg.lines:
        cfg.initdead_ms = default_initdead(cfg.deadtime_ms)
        cfg.parameters["initdead"] = f"{cfg.initdead_ms}ms"
    if cfg.initdead_ms < cfg.deadtime_ms:
        message = (
            f"Initial dead time [{cfg.initdead_ms} ms] is smaller than"
            f" deadtime [{cfg.deadtime_ms} ms]"
        )
        raise _error(cfg, message, "initdead")
    if cfg.initdead_ms < 10000:
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
            f"Ping dead time [{cfg.deadping_ms} ms] is too small compared to keepalive"
            f" [{cfg.keepalive_ms} ms]; it must be more than twice keepalive"
        )
        raise _error(cfg, message, "deadping")


def default_initdead(deadtime_ms: int) -> int:
    """initdead when not given: deadtime above 10 s; 12 s below 6 s; else 2×deadtime."""
    if deadtime_ms > 10000:
        return deadtime_ms
    if deadtime_ms < 6000:
        return 12000
    return 2 * deadtime_ms


def _derive_warntime(cfg: HaCf) -> None:
    """warntime defaults to deadtime/2; Heartbeat checks nothing else, we warn."""
    if "warntime" not in cfg.lines:
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


def _check_logging(cfg: HaCf) -> None:
    """config.c check_logd_usage: with no log directive at all, use_logd defaults to yes."""
    if cfg.logfile is None and cfg.debugfile is None and cfg.logfacility is None:
        if "use_logd" not in cfg.lines:
            cfg.use_logd = True
            cfg.parameters["use_logd"] = "yes"
        elif not cfg.use_logd:
            message = "No log entry found in ha.cf and use_logd is set to off"
            raise _error(cfg, message, "use_logd")
    if cfg.logfacility is not None:
        # Heartbeat records /dev/null for the files it will not write when syslog is on.
        cfg.parameters.setdefault("logfile", DEVNULL)
        cfg.parameters.setdefault("debugfile", DEVNULL)
