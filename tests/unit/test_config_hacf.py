"""ha.cf: Heartbeat's syntax, defaults, derived timers, start-up checks and errors.

The tables are the contract: each row names the config.c (or plugin, or glue)
code path it mirrors. Rows marked accepted were also fed to the real Heartbeat
3.0.6 (Debian's heartbeat package, run in throwaway namespaces): it printed
"Configuration validated" for each, and refused each refused row.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hbnode.config import (
    AutoFailback,
    BcastMedium,
    ConfigError,
    HaCf,
    McastMedium,
    MsgFormat,
    PingGroup,
    RespawnEntry,
    UcastMedium,
    check_respawn_programs,
    effective_media,
    load_hacf,
    parse_hacf_text,
)
from hbnode.config.errors import ConfigErrors
from hbnode.config.hacf import StonithDevice
from hbnode.config.hacf_parse import read_hacf_text

REFERENCE_HACF = """\
debugfile /var/log/ha-debug
logfile /var/log/ha-log
logfacility local0
keepalive 2
deadtime 30
warntime 10
initdead 60
udpport 694
ucast eth1 172.16.254.28
auto_failback on
node master
node slave
ping 172.16.254.1
respawn hacluster /usr/lib64/heartbeat/ipfail
"""

# Three valid lines; each case below adds its line(s) as line 4 onwards.
BASE = "node master\nnode slave\nucast eth1 10.0.0.2\n"
ON = "auto_failback on\n"  # keeps the 'legacy' warning out of the rows


def parse(text: str, node: str = "master") -> HaCf:
    return parse_hacf_text(text, "ha.cf", node)


def errors_of(text: str, node: str | None = "master") -> list[str]:
    _, errors = read_hacf_text(text, "ha.cf", node)
    return [str(error) for error in errors]


def warnings_of(cfg: HaCf) -> list[str]:
    return [str(warning) for warning in cfg.warnings]


def test_reference_setup() -> None:
    cfg = parse_hacf_text(REFERENCE_HACF, "/etc/ha.d/ha.cf", "master")
    assert cfg.nodes == ["master", "slave"]
    assert (cfg.keepalive_ms, cfg.deadtime_ms, cfg.warntime_ms) == (2000, 30000, 10000)
    assert (cfg.initdead_ms, cfg.deadping_ms, cfg.udpport) == (60000, 30000, 694)
    assert cfg.media == [UcastMedium("eth1", "172.16.254.28", 694, 9)]
    assert cfg.auto_failback is AutoFailback.ON
    assert (cfg.logfile, cfg.debugfile, cfg.logfacility) == (
        "/var/log/ha-log",
        "/var/log/ha-debug",
        "local0",
    )
    assert cfg.use_logd is False
    assert cfg.ping_nodes == ["172.16.254.1"] and cfg.ping_node_names == ["172.16.254.1"]
    assert cfg.respawn == [RespawnEntry("hacluster", "/usr/lib64/heartbeat/ipfail", (), 14)]
    assert cfg.msgfmt is MsgFormat.CLASSIC
    assert cfg.watchdog is None
    assert cfg.warnings == []


def test_reference_raw_parameters() -> None:
    cfg = parse(REFERENCE_HACF)
    expected = {
        "keepalive": "2",
        "deadtime": "30",
        "warntime": "10",
        "initdead": "60",
        "udpport": "694",
        "auto_failback": "on",
        "logfacility": "local0",
        "deadping": "30000ms",  # derived, written as Heartbeat writes it
        "hopfudge": "1",  # Directives[] default
        "pacemaker": "false",
        "debug": "0",
    }
    for name, value in expected.items():
        assert cfg.raw_parameter(name) == value, name
    for unset in ("node", "ping", "ucast", "respawn", "watchdog", "use_logd"):
        assert cfg.raw_parameter(unset) is None, unset


def test_defaults_and_derivations() -> None:
    cfg = parse(BASE)
    assert (cfg.keepalive_ms, cfg.deadtime_ms, cfg.warntime_ms) == (1000, 30000, 15000)
    assert (cfg.initdead_ms, cfg.deadping_ms) == (30000, 30000)
    assert (cfg.udpport, cfg.hopfudge, cfg.max_rexmit_delay_ms) == (694, 1, 250)
    assert cfg.auto_failback is AutoFailback.LEGACY
    assert cfg.use_logd is True  # no logfile, debugfile or logfacility
    assert cfg.raw_parameter("keepalive") == "1000ms"
    assert cfg.raw_parameter("warntime") == "15000ms"
    assert cfg.raw_parameter("use_logd") == "yes"
    assert warnings_of(cfg) == [
        "ha.cf: Deprecated 'legacy' auto_failback option selected."
        " Please convert to 'auto_failback on'."
    ]


@pytest.mark.parametrize(
    ("deadtime", "initdead_ms"),
    [("5", 12000), ("6", 12000), ("8", 16000), ("10", 20000), ("11", 11000), ("30", 30000)],
)
def test_initdead_default(deadtime: str, initdead_ms: int) -> None:
    # config.c init_config: initial_deadtime_ms < 0
    cfg = parse(BASE + f"keepalive 1\ndeadtime {deadtime}\n" + ON)
    assert cfg.initdead_ms == initdead_ms
    assert cfg.raw_parameter("initdead") == f"{initdead_ms}ms"


def test_tokens_split_on_space_tab_and_comma_and_comments_are_dropped() -> None:
    text = (
        "  node Master,\tSLAVE  # the two machines\r\n"
        "bcast eth0, eth1\n"
        "\n# a comment line\n"
        "keepalive 500ms   # twice a second\n"
        "auto_failback off\n"
    )
    cfg = parse(text)
    assert cfg.nodes == ["master", "slave"]
    assert cfg.media == [BcastMedium("eth0", 694, 2), BcastMedium("eth1", 694, 2)]
    assert cfg.keepalive_ms == 500 and cfg.raw_parameter("keepalive") == "500ms"
    assert cfg.auto_failback is AutoFailback.OFF


def test_multicast_ping_group_respawn_apiauth_env() -> None:
    text = BASE + (
        "mcast eth2 239.0.0.43 694 1 0\n"
        "ping_group Routers 10.0.0.1 10.0.0.254\n"
        "respawn hacluster /usr/lib/heartbeat/ipfail -v\n"
        "apiauth ipfail uid=hacluster gid=haclient,root\n"
        "env PATH=/bin\n" + ON
    )
    cfg = parse(text)
    assert cfg.media[1] == McastMedium("eth2", "239.0.0.43", 694, 1, False, 4)
    assert cfg.ping_groups == [PingGroup("routers", ("10.0.0.1", "10.0.0.254"), 5)]
    assert cfg.ping_node_names == ["routers"]
    assert cfg.respawn[0].args == ("-v",)
    assert cfg.respawn[0].command == "/usr/lib/heartbeat/ipfail -v"
    assert cfg.apiauth[0].uids == ("hacluster",)
    assert cfg.apiauth[0].gids == ("haclient", "root")
    assert cfg.env == {"HA_PATH": "/bin"}


def test_udpport_after_media_keeps_the_earlier_port_and_warns() -> None:
    text = "node master\nbcast eth0\nudpport 700\nbcast eth1\nucast eth2 10.0.0.2\n" + ON
    cfg = parse(text)
    # bcast.c bcast_init reads udpport at its first line; ucast's first comes after.
    assert [medium.port for medium in cfg.media] == [694, 694, 700]
    assert cfg.udpport == 700
    assert warnings_of(cfg) == [
        "ha.cf:3: udpport setting must precede media statements (bcast lines keep port 694)"
    ]


def test_repeated_nodes_are_kept_once_with_a_warning() -> None:
    cfg = parse("node master slave\nnode Slave\nbcast eth0\nping gw gw\n" + ON)
    assert cfg.nodes == ["master", "slave"] and cfg.ping_nodes == ["gw"]
    assert warnings_of(cfg) == [
        "ha.cf:2: node 'slave' is listed more than once",
        "ha.cf:4: ping node 'gw' is listed more than once",
    ]


def test_timer_warnings() -> None:
    fast = "keepalive 250ms\ndeadtime 1500ms\nwarntime 2\ninitdead 3\n" + ON
    assert warnings_of(parse(BASE + fast)) == [
        "ha.cf:7: Initial dead time [3000 ms] may be too small! It accounts for slow network"
        " start-up and should be >= deadtime and >= 10 seconds",
        "ha.cf:6: warntime [2000 ms] is not below deadtime [1500 ms]: no 'Late heartbeat'"
        " warning can come before a node is declared dead",
    ]
    late = "keepalive 2\nwarntime 1\n" + ON
    assert warnings_of(parse(BASE + late)) == [
        "ha.cf:5: warntime [1000 ms] is below keepalive [2000 ms]: every heartbeat will be"
        " reported late"
    ]


def test_accepted_without_effect() -> None:
    text = BASE + (
        "realtime off\nrtprio 5\ncoredumps no\nmemreserve 1000\ncompression bz2\n"
        "compression_threshold 4\ntraditional_compression yes\ncluster lab\n"
        "conn_logd_time 30\nbaud 38400\ncrm off\nhbgenmethod time\nuuidfrom nodename\n"
        "debug 2\nlog_badpack off\nsyslogmsgfmt false\nmsgfmt netstring\nhopfudge 2\n"
        "max_rexmit_delay 100\nautojoin none\nauto_failback on\nuse_apphbd yes\n"
        "coreroot /var/lib/heartbeat/cores\nrecord_config_changes off\n"
    )
    cfg = parse(text)
    assert warnings_of(cfg) == [
        "ha.cf:13: baudrate setting must precede media statements",
        "ha.cf:25: use_apphbd: hbnode does not register with apphbd; ignored",
    ]
    assert (cfg.realtime, cfg.rtprio, cfg.coredumps, cfg.memreserve_kb) == (False, 5, False, 1000)
    assert (cfg.compression, cfg.compression_threshold_kb) == ("bz2", 4)
    assert (cfg.cluster, cfg.conn_logd_time_ms, cfg.baud) == ("lab", 30000, 38400)
    assert (cfg.debug, cfg.log_badpack, cfg.syslogmsgfmt) == (2, False, False)
    assert cfg.msgfmt is MsgFormat.NETSTRING
    assert cfg.raw_parameter("pacemaker") == "off" and cfg.raw_parameter("crm") is None


@dataclass(frozen=True)
class Accepted:
    path: str  # the Heartbeat code path this row mirrors
    lines: str  # appended to BASE
    expect: dict[str, Any]  # HaCf attribute → value
    warnings: tuple[str, ...] = ()  # each warning starts with one of these, in order


ACCEPTED = [
    Accepted("config.c parse_config: a directive with no value applies nothing",
             "keepalive", {"keepalive_ms": 1000},
             ("ha.cf:4: keepalive: no value; the line does nothing",)),
    Accepted("config.c parse_config: values split on DELIMS, last one wins",
             "keepalive 1,2", {"keepalive_ms": 2000}),
    Accepted("config.c set_keepalive_ms → cl_get_msec: unit read by its first letters",
             "keepalive 500msfoo", {"keepalive_ms": 500},
             ("ha.cf:4: keepalive: '500msfoo' is read as 500 ms",)),
    Accepted("config.c set_keepalive_ms → cl_get_msec: atof stops at the second dot",
             "keepalive 1.5.2", {"keepalive_ms": 1500},
             ("ha.cf:4: keepalive: '1.5.2' is read as 1500 ms",)),
    Accepted("config.c set_deadtime_ms → cl_get_msec: microseconds",
             "deadtime 30000000us", {"deadtime_ms": 30000}),
    Accepted("config.c set_hopfudge: atoi", "hopfudge 3x", {"hopfudge": 3},
             ("ha.cf:4: hopfudge: '3x' is read as 3",)),
    Accepted("config.c set_hopfudge: atoi of no digits is 0", "hopfudge abc", {"hopfudge": 0},
             ("ha.cf:4: hopfudge: 'abc' is read as 0",)),
    Accepted("config.c set_debuglevel: atoi", "debug 1x", {"debug": 1},
             ("ha.cf:4: debug: '1x' is read as 1",)),
    Accepted("config.c set_compression_threshold: atoi", "compression_threshold 1k",
             {"compression_threshold_kb": 1}, ("ha.cf:4: compression_threshold: '1k' is read",)),
    Accepted("config.c set_udpport: atoi", "udpport 700x", {"udpport": 700},
             ("ha.cf:4: udpport: '700x' is read as 700",
              "ha.cf:4: udpport setting must precede media statements (ucast lines keep port")),
    Accepted("config.c add_normal_node: DELIMS split, strdown", "node Backup,Third",
             {"nodes": ["master", "slave", "backup", "third"]}),
    Accepted("config.c set_watchdogdev", "watchdog /dev/watchdog", {"watchdog": "/dev/watchdog"}),
    Accepted("config.c set_watchdogdev: the device is only opened at start",
             "watchdog /nonexistent/wd", {"watchdog": "/nonexistent/wd"}),
    Accepted("config.c set_facility → cl_syslogfac_str2int: glibc facilitynames",
             "logfacility ftp", {"logfacility": "ftp"}),
    Accepted("config.c set_facility → cl_syslogfac_str2int: glibc facilitynames",
             "logfacility mark", {"logfacility": "mark"}),
    Accepted("config.c set_facility: kern is facility 0, which check_logd_usage takes as none",
             "logfacility kern", {"logfacility": "kern", "use_logd": True},
             ("ha.cf:4: facility kern is number 0",)),
    Accepted("config.c set_facility: none", "logfacility none",
             {"logfacility": None, "use_logd": True}),
    Accepted("config.c set_auto_failback: strcasecmp legacy", "auto_failback LEGACY",
             {"auto_failback": AutoFailback.LEGACY}),
    Accepted("config.c set_auto_failback: cl_str_to_boolean", "auto_failback Y",
             {"auto_failback": AutoFailback.ON}),
    Accepted("config.c set_nice_failback: tests the global, not the value: legacy",
             "nice_failback on", {"auto_failback": AutoFailback.LEGACY},
             ("ha.cf:4: nice_failback flag is obsolete",
              "ha.cf:4: nice_failback on has been strictly interpreted as 'auto_failback legacy'")),
    Accepted("config.c set_nice_failback: after auto_failback on/off: off",
             "auto_failback on\nnice_failback no", {"auto_failback": AutoFailback.OFF},
             ("ha.cf:5: nice_failback flag is obsolete",
              "ha.cf:5: 'nice_failback no' has been changed to 'auto_failback off'")),
    Accepted("config.c DIRTYALIASKLUDGE: udp is bcast", "udp eth2",
             {"media": [UcastMedium("eth1", "10.0.0.2", 694, 3), BcastMedium("eth2", 694, 4)]},
             ("ha.cf:4: WARNING: directive 'udp' replaced by 'bcast'",)),
    Accepted("config.c set_env: no '=' (Heartbeat reads past the string)", "env FOO",
             {"env": {"HA_FOO": ""}}, ("ha.cf:4: env FOO: no '='",)),
    Accepted("config.c set_crm_daemon_dir: inverted order check, after pacemaker it passes",
             "crm off\ncrm_daemon_dir /x", {},
             ("ha.cf:5: If you specify /x, it must come before the pacemaker directive",)),
    Accepted("config.c set_quorum_server: also sets the cluster name", "quorum_server 10.0.0.9",
             {"quorum_server": "10.0.0.9", "cluster": "10.0.0.9"},
             ("ha.cf:4: quorum_server: only used with Pacemaker",)),
    Accepted("config.c set_stonith_host_info: a line for another host is ignored",
             "stonith_host slave baytech 10.0.0.3 mylogin mysecretpassword", {"stonith": None}),
    Accepted("config.c set_stonith_host_info: this host (any case): the device",
             "stonith_host Master external/ipmi slave 10.0.0.3 admin pw lan",
             {"stonith": StonithDevice("external/ipmi", "slave 10.0.0.3 admin pw lan", None,
                                       "stonith_host", 4)}),
    Accepted("config.c set_stonith_info: type and file",
             "stonith baytech /etc/ha.d/conf/stonith.baytech",
             {"stonith": StonithDevice("baytech", None, "/etc/ha.d/conf/stonith.baytech",
                                       "stonith", 4)}),
    Accepted("config.c: one device, the last line that applies",
             "stonith_host * null a\nstonith_host master meatware b",
             {"stonith": StonithDevice("meatware", "b", None, "stonith_host", 5)},
             ("ha.cf:5: stonith_host: replaces the STONITH device of line 4",)),
    Accepted("hbnode_stonith_*: hbnode's fencing times",
             "hbnode_stonith_timeout 20\nhbnode_stonith_retry 2\nhbnode_stonith_delay 0",
             {"stonith_timeout_ms": 20000, "stonith_retry_ms": 2000, "stonith_delay_ms": 0}),
    Accepted("config.c set_api_authorization: an empty uid list", "apiauth x uid=", {}),
    Accepted("ucast.c ucast_parse: extra words are ignored", "ucast eth2 10.0.0.3 10.0.0.4", {},
             ("ha.cf:4: ucast: extra words ignored: '10.0.0.4'",)),
    Accepted("config.c check_logd_usage: use_logd with logfile",
             "use_logd yes\nlogfile /var/log/ha-log", {"use_logd": True},
             ("ha.cf:4: logd is enabled but logfile/debugfile is still configured in ha.cf",)),
    Accepted("config.c check_logd_usage: use_logd with logfacility",
             "use_logd yes\nlogfacility daemon", {"use_logd": True},
             ("ha.cf:4: logd is enabled but logfile/debugfile/logfacility is still configured",)),
]  # fmt: skip


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.lines for case in ACCEPTED])
def test_accepted_as_heartbeat_accepts(case: Accepted) -> None:
    cfg = parse(BASE + case.lines + "\n")
    for name, value in case.expect.items():
        assert getattr(cfg, name) == value, (case.path, name)
    legacy = "Deprecated 'legacy'"  # rows without auto_failback on/off get it: not theirs
    found = [text for text in warnings_of(cfg) if legacy not in text]
    wanted = [start for start in case.warnings if legacy not in start]
    assert len(found) == len(wanted), (case.path, found)
    for text, start in zip(found, wanted, strict=True):
        assert text.startswith(start), (case.path, text, start)


@dataclass(frozen=True)
class Refused:
    path: str  # the Heartbeat code path this row mirrors
    lines: str  # appended to BASE
    message: str  # the whole error


_TIME = "(want seconds, or a number followed by ms or us)"
_NO_R1 = "hbnode runs haresources (R1) mode only (use 'crm off')"
_MEDIA = "(want 224.0.0.0-239.255.255.255)"

REFUSED = [
    Refused("cl_get_msec: a unit other than ms/us", "keepalive 2x",
            f"ha.cf:4: keepalive: invalid time '2x' {_TIME}"),
    Refused("cl_get_msec: 'ms' split off by DELIMS is a value of its own", "keepalive 200 ms",
            f"ha.cf:4: keepalive: invalid time 'ms' {_TIME}"),
    Refused("cl_get_msec: seconds only as a bare number", "keepalive 2s",
            f"ha.cf:4: keepalive: invalid time '2s' {_TIME}"),
    Refused("set_keepalive_ms: > 0", "keepalive 0", "ha.cf:4: keepalive: '0' is not above 0"),
    Refused("set_keepalive_ms: 10us rounds to 0", "keepalive 10us",
            "ha.cf:4: keepalive: '10us' is not above 0"),
    Refused("set_warntime_ms", "warntime 0", "ha.cf:4: warntime: Warn time [0] is invalid."),
    Refused("set_logdconntime: > 0", "conn_logd_time 0",
            "ha.cf:4: conn_logd_time: '0' is not above 0"),
    Refused("islegaldirective", "frobnicate 1", "ha.cf:4: Illegal directive [frobnicate] in ha.cf"),
    Refused("islegaldirective: case matters", "Keepalive 2",
            "ha.cf:4: Illegal directive [Keepalive] in ha.cf"),
    Refused("parse_config: the directive ends at a blank, not a comma", "node,slave",
            "ha.cf:4: Illegal directive [node,slave] in ha.cf"),
    Refused("islegaldirective: no such HBcomm plugin in Debian's package", "tipc foo",
            "ha.cf:4: Illegal directive [tipc] in ha.cf"),
    Refused("hbnode: no serial media", "serial /dev/ttyS0",
            "ha.cf:4: serial: not supported: hbnode has no serial media;"
            " use bcast, ucast or mcast"),
    Refused("hbnode: no IPv6 media", "ucast6 eth1 fe80::1",
            "ha.cf:4: ucast6: not supported: hbnode has no IPv6 media; use ucast"),
    Refused("hbnode: no IPv6 ping", "ping6 fe80::1",
            "ha.cf:4: ping6: not supported: hbnode has no IPv6 ping nodes; use ping"),
    Refused("hbnode: haresources mode only (set_pcmk_support)", "crm yes",
            f"ha.cf:4: crm: 'yes' is not supported: {_NO_R1}"),
    Refused("hbnode: haresources mode only (set_pcmk_support)", "pacemaker respawn",
            f"ha.cf:4: pacemaker: 'respawn' is not supported: {_NO_R1}"),
    Refused("set_pcmk_support: already_called", "crm off\npacemaker off",
            "ha.cf:5: pacemaker: pacemaker/crm directive used multiple times! (first on line 4)"),
    Refused("set_pcmk_support: cl_str_to_boolean", "crm maybe",
            "ha.cf:4: crm: invalid boolean 'maybe' (want on/off, yes/no, true/false or 1/0)"),
    Refused("set_crm_daemon_dir: inverted order check fails before pacemaker",
            "crm_daemon_dir /x",
            "ha.cf:4: crm_daemon_dir: refused by Heartbeat unless a pacemaker/crm line comes"
            " before it (its order check is inverted); it has no use in haresources mode:"
            " remove it"),
    Refused("set_pengine_by_crm: after pacemaker", "crm off\ncrmd_spawns_pengine yes",
            "ha.cf:5: crmd_spawns_pengine: If you specify yes, it must come before the"
            " pacemaker directive"),
    Refused("config.c set_stonith_info: no type", "stonith",
            "ha.cf:4: stonith: No Stonith type given"),
    Refused("config.c set_stonith_info: no config file",
            "stonith baytech", "ha.cf:4: stonith: No Stonith config file given for [baytech]"),
    Refused("config.c set_stonith_host_info: no host", "stonith_host",
            "ha.cf:4: stonith_host: No Stonith hostname argument given"),
    Refused("config.c set_stonith_host_info: this host, no type", "stonith_host master",
            "ha.cf:4: stonith_host: No Stonith type given"),
    Refused("config.c set_stonith_host_info: '*', no parameters (stonith_set_config_info)",
            "stonith_host * external/ipmi",
            "ha.cf:4: stonith_host: no parameters for [external/ipmi] (want HOST TYPE PARAMS…)"),
    Refused("hbnode: failfast (add_failfast_child) reboots", "failfast hacluster /bin/true",
            "ha.cf:4: failfast: not supported: hbnode does not reboot the machine when a client"
            " dies; use respawn (and watchdog, which resets the machine if hbnode itself"
            " stalls)"),
    Refused("set_auto_failback", "auto_failback maybe",
            "ha.cf:4: auto_failback: invalid value 'maybe' (want on|off|legacy)"),
    Refused("set_badpack_warn: cl_str_to_boolean", "log_badpack perhaps",
            "ha.cf:4: log_badpack: invalid boolean 'perhaps'"
            " (want on/off, yes/no, true/false or 1/0)"),
    Refused("mcast.c mcast_parse", "mcast eth1 239.0.0.1 694 1",
            "ha.cf:4: mcast [eth1] missing loop"),
    Refused("mcast.c is_valid_mcast_addr", "mcast eth1 10.0.0.1 694 1 0",
            f"ha.cf:4: mcast [eth1] bad addr [10.0.0.1] {_MEDIA}"),
    Refused("mcast.c mcast_parse: bad addr before missing port", "mcast eth1 10.0.0.1",
            f"ha.cf:4: mcast [eth1] bad addr [10.0.0.1] {_MEDIA}"),
    Refused("mcast.c mcast_parse: ttl > 4", "mcast eth1 239.0.0.1 694 5 0",
            "ha.cf:4: mcast [eth1] bad ttl [5] (want 0..4)"),
    Refused("mcast.c mcast_parse: loop > 1", "mcast eth1 239.0.0.1 694 1 2",
            "ha.cf:4: mcast [eth1] bad loop [2] (want 0..1)"),
    Refused("mcast.c get_port: atoi 0", "mcast eth1 239.0.0.1 x 1 0",
            "ha.cf:4: mcast [eth1] bad port [x] (want 1..65535)"),
    Refused("ucast.c ucast_parse", "ucast eth1",
            "ha.cf:4: ucast: [eth1] missing target IP address/hostname"),
    Refused("ucast.c ucast_parse + config.c: an empty ucast line crashes Heartbeat", "ucast",
            "ha.cf:4: ucast: missing interface and peer (want: ucast dev peer)"),
    Refused("ucast.c ucast_new: the peer does not resolve", "ucast eth1 10.0.0.300",
            "ha.cf:4: ucast: bad IPv4 address '10.0.0.300'"),
    Refused("bcast.c bcast_new: no such interface", "bcast eth0/1",
            "ha.cf:4: bcast: bad interface name 'eth0/1'"),
    Refused("hbnode: a port htons would truncate (set_udpport takes it)", "udpport 70000",
            "ha.cf:4: udpport: invalid port [70000] specified (want 1..65535)"),
    Refused("set_udpport: atoi <= 0", "udpport ha-cluster",
            "ha.cf:4: udpport: invalid port [ha-cluster] specified."),
    Refused("set_udpport: atoi is decimal", "udpport 0x10",
            "ha.cf:4: udpport: invalid port [0x10] specified."),
    Refused("set_facility", "logfacility local9",
            "ha.cf:4: logfacility: Log facility(local9) not valid"),
    Refused("set_facility: strcmp, case matters", "logfacility LOCAL0",
            "ha.cf:4: logfacility: Log facility(LOCAL0) not valid"),
    Refused("add_client_child_base", "respawn hacluster ipfail -v",
            "ha.cf:4: respawn: Client child command [ipfail -v] is not full pathname"),
    Refused("add_client_child_base: no command", "respawn root",
            "ha.cf:4: respawn: Client child command [] is not full pathname"),
    Refused("set_msgfmt: strcmp", "msgfmt Netstring",
            "ha.cf:4: msgfmt: invalid value 'Netstring' (want classic|netstring)"),
    Refused("set_generation_method", "hbgenmethod clock",
            "ha.cf:4: hbgenmethod: Illegal hb generation method [clock]"),
    Refused("set_uuidfrom", "uuidfrom random",
            "ha.cf:4: uuidfrom: Invalid uuidfrom directive [random]"),
    Refused("set_autojoin", "autojoin sometimes",
            "ha.cf:4: autojoin: Invalid autojoin directive [sometimes]"),
    Refused("set_hopfudge: 0..255", "hopfudge 256",
            "ha.cf:4: hopfudge: '256' is out of range (want 0..255)"),
    Refused("set_realtime_prio", "rtprio 0", "ha.cf:4: rtprio: Illegal realtime priority [0]"),
    Refused("set_memreserve: atoi > 0", "memreserve x",
            "ha.cf:4: memreserve: 'x' is out of range (atoi reads it as 0) (want at least 1)"),
    Refused("set_max_rexmit_delay", "max_rexmit_delay 0",
            "ha.cf:4: max_rexmit_delay: Invalid max_rexmit_delay time(0)"),
    Refused("set_env: empty name", "env =x", "ha.cf:4: env: set_env: invalid nvpair(=x)"),
    Refused("set_api_authorization: no list", "apiauth ipfail",
            "ha.cf:4: apiauth: Invalid apiauth directive [ipfail]"
            " (one of uid= or gid= must be given)"),
    Refused("set_api_authorization", "apiauth ipfail users=x",
            "ha.cf:4: apiauth: Missing uid or gid in apiauth:"
            " Invalid apiauth directive [ipfail users=x]"),
    Refused("set_api_authorization: duplicate client", "apiauth ipfail uid=a\napiauth ipfail gid=b",
            "ha.cf:5: apiauth: Duplicate apiauth directive for API client ipfail"),
    Refused("set_baudrate → StringToBaud", "baud 12345",
            "ha.cf:4: baud: invalid baudrate [12345] specified."),
    Refused("set_baudrate: baudset", "baud 9600\nbaud 19200",
            "ha.cf:5: baud: Baudrate multiply specified."),
    Refused("ping_group.c ping_group_parse: no host", "ping_group group1",
            "ha.cf:4: ping_group: want: ping_group name address [address...]"),
    Refused("set_compression → cl_set_compress_fns: no such plugin", "compression lzma",
            "ha.cf:4: compression: unknown compression module 'lzma' (want zlib or bz2)"),
    Refused("set_watchdogdev: once", "watchdog /dev/watchdog /dev/watchdog2",
            "ha.cf:4: watchdog: Watchdog device multiply specified."),
    Refused("set_realtime: cl_str_to_boolean", "realtime maybe",
            "ha.cf:4: realtime: invalid boolean 'maybe' (want on/off, yes/no, true/false or 1/0)"),
]  # fmt: skip


@pytest.mark.parametrize("case", REFUSED, ids=[case.lines for case in REFUSED])
def test_refused_as_heartbeat_refuses(case: Refused) -> None:
    assert errors_of(BASE + case.lines + "\n" + ON) == [case.message], case.path


@pytest.mark.parametrize(
    ("text", "node", "message"),
    [
        (
            "node master\n",
            "master",
            "ha.cf: No heartbeat media defined (want bcast, ucast or mcast)",
        ),
        (
            "bcast eth1\nping 10.0.0.1\n",
            "master",
            "ha.cf: no nodes defined (want a 'node' line for each cluster node)",
        ),
        (
            "node slave\nbcast eth1\n",
            "master",
            "ha.cf:1: Current node [master] not in configuration! (nodes: slave)",
        ),
        (
            "node master\nnode slave\nbcast eth1\n",
            "Elsewhere",
            "ha.cf:2: Current node [elsewhere] not in configuration! (nodes: master, slave)",
        ),
        (
            BASE + "keepalive 2\ndeadtime 4\n",
            "master",
            "ha.cf:5: Dead time [4000] is too small compared to keeplive [2000]"
            " (milliseconds: deadtime must be more than twice keepalive)",
        ),
        (
            BASE + "keepalive 15\n",
            "master",
            "ha.cf:4: Dead time [30000] is too small compared to keeplive [15000]"
            " (milliseconds: deadtime must be more than twice keepalive)",
        ),
        (
            BASE + "deadtime 30\ninitdead 20\n",
            "master",
            "ha.cf:5: Initial dead time [20000] is smaller than deadtime [30000] (milliseconds)",
        ),
        (
            BASE + "deadping 2\n",
            "master",
            "ha.cf:4: Ping dead time [2000] is too small compared to keeplive [1000]"
            " (milliseconds: deadping must be more than twice keepalive)",
        ),
        (
            BASE + "use_logd off\n",
            "master",
            "ha.cf:4: No log entry found in ha.cf and use_logd is set to off",
        ),
        (
            BASE + "autojoin any\n",
            "master",
            "ha.cf:4: R1 style resource management conflicts with  autojoin set:"
            " autojoin any; use autojoin none",
        ),
        (BASE + "ping master\n", "master", "ha.cf:2: node 'master' is also a ping node"),
    ],
)
def test_startup_checks(text: str, node: str, message: str) -> None:
    # config.c init_config, in its order, with its wording (plus the units).
    assert errors_of(text + ON, node) == [message]


def test_every_problem_is_reported_in_file_order() -> None:
    text = (
        "node master\n"  # 1
        "keepalive 2x\n"  # 2
        "frobnicate yes\n"  # 3
        "hopfudge 3x\n"  # 4: a warning, not an error
        "mcast eth1 239.0.0.1 694 9 0\n"  # 5
        "udpport 0\n"  # 6
        "auto_failback on\n"
    )
    assert errors_of(text) == [
        f"ha.cf:2: keepalive: invalid time '2x' {_TIME}",
        "ha.cf:3: Illegal directive [frobnicate] in ha.cf",
        "ha.cf:5: mcast [eth1] bad ttl [9] (want 0..4)",
        "ha.cf:6: udpport: invalid port [0] specified.",
        # No "No heartbeat media defined": the mcast line was refused, and said so.
    ]
    with pytest.raises(ConfigErrors) as caught:
        parse(text)
    assert len(caught.value.errors) == 4
    assert (caught.value.line, str(caught.value).count("\n")) == (2, 3)


def test_a_refused_timer_skips_the_timer_checks() -> None:
    # keepalive stays at its default after its refused line: no "Dead time" echo of it.
    assert errors_of(BASE + "keepalive 60x\ndeadtime 3\n" + ON) == [
        f"ha.cf:4: keepalive: invalid time '60x' {_TIME}"
    ]


def test_no_node_in_particular() -> None:
    # hbnode check --files-only without --node: any node of the file may run it.
    assert errors_of("node slave\nbcast eth1\n" + ON, None) == []
    text = "node a\nnode b\nbcast eth1\nstonith_host b baytech\nstonith_host c t p\n" + ON
    assert errors_of(text, None) == [
        "ha.cf:4: stonith_host: no parameters for [baytech] (want HOST TYPE PARAMS…)"
    ]


def test_syslog_records_dev_null_files() -> None:
    cfg = parse(BASE + "logfacility daemon\n" + ON)
    assert cfg.raw_parameter("logfile") == "/dev/null"
    assert cfg.logfile is None and cfg.use_logd is False


def test_effective_media_drops_ucast_to_ourselves() -> None:
    text = (
        "node master\nnode slave\nucast eth1 172.16.254.18\nucast eth1 slave.lab\nbcast eth2\n" + ON
    )
    cfg = parse(text)
    names = {"slave.lab": {"172.16.254.28"}}

    def resolve(host: str) -> set[str]:
        return names.get(host, set())

    on_master = effective_media(cfg, {"172.16.254.18", "192.168.0.18"}, resolve)
    assert on_master == [cfg.media[1], cfg.media[2]]
    on_slave = effective_media(cfg, {"172.16.254.28"}, resolve)
    assert on_slave == [cfg.media[0], cfg.media[2]]
    assert effective_media(cfg, set(), resolve) == cfg.media


def test_load_hacf_reports_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ha.cf"
    path.write_text(BASE + "keepalive 2x\n")
    with pytest.raises(ConfigError) as caught:
        load_hacf(path, "master")
    assert caught.value.path == str(path) and caught.value.line == 4
    assert str(caught.value).startswith(f"{path}:4: keepalive: invalid time '2x'")
    missing = tmp_path / "nope.cf"
    with pytest.raises(ConfigError) as caught:
        load_hacf(missing, "master")
    assert str(caught.value) == f"{missing}: Cannot open config file: No such file or directory"


def test_respawn_programs_are_checked_on_request(tmp_path: Path) -> None:
    program = tmp_path / "ipfail"
    program.write_text("#!/bin/sh\n")
    text = (
        f"node master\nbcast eth1\nrespawn root {program}\n"
        f"respawn no-such-user-here {program}\nrespawn root {tmp_path}/missing\n"
    )
    cfg = parse(text)
    os.chmod(program, stat.S_IRWXU)
    assert [str(error) for error in check_respawn_programs(cfg)] == [
        "ha.cf:4: respawn: Invalid uid [no-such-user-here] specified for client child",
        f"ha.cf:5: respawn: Client child command [{tmp_path}/missing] is not executable",
    ]
