"""ha.cf: Heartbeat's syntax, defaults, derived timers, start-up checks and errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

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

# Three valid lines; each broken case below adds its line(s) as line 4 onwards.
BASE = "node master\nnode slave\nucast eth1 10.0.0.2\n"


def parse(text: str, node: str = "master") -> HaCf:
    return parse_hacf_text(text, "ha.cf", node)


def error_of(text: str, node: str = "master") -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text, node)
    return str(caught.value)


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
    cfg = parse(BASE + f"keepalive 1\ndeadtime {deadtime}\nauto_failback on\n")
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
        "env PATH=/bin\n"
        "auto_failback on\n"
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
    text = (
        "node master\nbcast eth0\nudpport 700\nbcast eth1\nucast eth2 10.0.0.2\nauto_failback on\n"
    )
    cfg = parse(text)
    # bcast read udpport at its first line; ucast's first line comes after udpport.
    assert [medium.port for medium in cfg.media] == [694, 694, 700]
    assert cfg.udpport == 700
    assert warnings_of(cfg) == [
        "ha.cf:3: udpport 700 comes after media lines, which keep their port (bcast 694);"
        " put udpport before the media lines"
    ]


def test_repeated_nodes_are_kept_once_with_a_warning() -> None:
    cfg = parse("node master slave\nnode Slave\nbcast eth0\nping gw gw\nauto_failback on\n")
    assert cfg.nodes == ["master", "slave"] and cfg.ping_nodes == ["gw"]
    assert warnings_of(cfg) == [
        "ha.cf:2: node 'slave' is listed more than once",
        "ha.cf:4: ping node 'gw' is listed more than once",
    ]


def test_obsolete_spellings_warn() -> None:
    cfg = parse("node master\nudp eth0\nnice_failback on\n")
    assert cfg.media == [BcastMedium("eth0", 694, 2)]
    assert cfg.auto_failback is AutoFailback.OFF
    assert cfg.raw_parameter("auto_failback") == "off"
    assert warnings_of(cfg) == [
        "ha.cf:2: directive 'udp' replaced by 'bcast'",
        "ha.cf:3: nice_failback is obsolete; 'nice_failback on' is taken as 'auto_failback off'",
    ]


def test_timer_warnings() -> None:
    fast = "keepalive 250ms\ndeadtime 1500ms\nwarntime 2\ninitdead 3\nauto_failback on\n"
    assert warnings_of(parse(BASE + fast)) == [
        "ha.cf:7: Initial dead time [3000 ms] may be too small! It accounts for slow network"
        " start-up and should be >= deadtime and >= 10 seconds",
        "ha.cf:6: warntime [2000 ms] is not below deadtime [1500 ms]: no 'Late heartbeat'"
        " warning can come before a node is declared dead",
    ]
    late = "keepalive 2\nwarntime 1\nauto_failback on\n"
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
        "ha.cf:25: use_apphbd: hbnode does not register with apphbd; ignored"
    ]
    assert (cfg.realtime, cfg.rtprio, cfg.coredumps, cfg.memreserve_kb) == (False, 5, False, 1000)
    assert (cfg.compression, cfg.compression_threshold_kb) == ("bz2", 4)
    assert (cfg.cluster, cfg.conn_logd_time_ms, cfg.baud) == ("lab", 30000, 38400)
    assert (cfg.debug, cfg.log_badpack, cfg.syslogmsgfmt) == (2, False, False)
    assert cfg.msgfmt is MsgFormat.NETSTRING
    assert cfg.raw_parameter("pacemaker") == "off" and cfg.raw_parameter("crm") is None


_NO_R1 = "hbnode runs haresources (R1) mode only (use 'crm off')"
_TIME = "(want seconds, or a number followed by ms or us)"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("keepalive 2x", f"ha.cf:4: keepalive: invalid time '2x' {_TIME}"),
        ("keepalive 200 ms", f"ha.cf:4: keepalive: invalid time 'ms' {_TIME}"),
        ("keepalive 0", "ha.cf:4: keepalive: '0' is too small (want more than 0)"),
        ("keepalive 10us", "ha.cf:4: keepalive: '10us' is too small (want more than 0)"),
        ("keepalive", "ha.cf:4: keepalive: missing value"),
        ("frobnicate 1", "ha.cf:4: unknown directive 'frobnicate'"),
        ("Keepalive 2", "ha.cf:4: unknown directive 'Keepalive'"),
        ("node,slave", "ha.cf:4: unknown directive 'node,slave'"),
        (
            "serial /dev/ttyS0",
            "ha.cf:4: serial: not supported: hbnode has no serial media; use bcast, ucast or mcast",
        ),
        (
            "ucast6 eth1 fe80::1",
            "ha.cf:4: ucast6: not supported: hbnode has no IPv6 media; use ucast",
        ),
        ("crm yes", f"ha.cf:4: crm: 'yes' is not supported: {_NO_R1}"),
        ("pacemaker respawn", f"ha.cf:4: pacemaker: 'respawn' is not supported: {_NO_R1}"),
        (
            "crm off\npacemaker off",
            "ha.cf:5: pacemaker: pacemaker/crm directive used multiple times (first on line 4)",
        ),
        (
            "stonith baytech /etc/ha.d/conf/stonith.baytech",
            "ha.cf:4: stonith: not supported: hbnode has no STONITH support",
        ),
        (
            "stonith_host * baytech 10.0.0.3 mylogin mysecretpassword",
            "ha.cf:4: stonith_host: not supported: hbnode has no STONITH support",
        ),
        (
            "watchdog /dev/watchdog",
            "ha.cf:4: watchdog: not supported: hbnode does not drive a watchdog device (it would"
            " reboot the machine if hbnode stalled); remove the line",
        ),
        (
            "failfast hacluster /usr/lib/heartbeat/ipfail",
            "ha.cf:4: failfast: not supported: hbnode does not reboot the machine when a client"
            " dies; use respawn",
        ),
        (
            "auto_failback maybe",
            "ha.cf:4: auto_failback: invalid value 'maybe' (want on|off|legacy)",
        ),
        (
            "log_badpack perhaps",
            "ha.cf:4: log_badpack: invalid boolean 'perhaps'"
            " (want on/off, yes/no, true/false or 1/0)",
        ),
        (
            "mcast eth1 239.0.0.1 694 1",
            "ha.cf:4: mcast: missing loop (want: mcast dev group port ttl loop)",
        ),
        (
            "mcast eth1 10.0.0.1 694 1 0",
            "ha.cf:4: mcast: [eth1] bad addr [10.0.0.1] (want 224.0.0.0-239.255.255.255)",
        ),
        (
            "mcast eth1 239.0.0.1 694 5 0",
            "ha.cf:4: mcast: bad ttl: '5' is out of range (want 0..4)",
        ),
        (
            "mcast eth1 239.0.0.1 694 1 2",
            "ha.cf:4: mcast: bad loop: '2' is out of range (want 0..1)",
        ),
        ("mcast eth1 239.0.0.1 x 1 0", "ha.cf:4: mcast: bad port: invalid number 'x'"),
        ("ucast eth1", "ha.cf:4: ucast: [eth1] missing target IP address/hostname"),
        ("ucast eth1 10.0.0.300", "ha.cf:4: ucast: bad IPv4 address '10.0.0.300'"),
        ("bcast eth0/1", "ha.cf:4: bcast: bad interface name 'eth0/1'"),
        ("udpport 70000", "ha.cf:4: udpport: '70000' is out of range (want 1..65535)"),
        ("logfacility local9", "ha.cf:4: logfacility: Log facility(local9) not valid"),
        (
            "respawn hacluster ipfail",
            "ha.cf:4: respawn: Client child command [ipfail] is not full pathname",
        ),
        ("msgfmt Netstring", "ha.cf:4: msgfmt: invalid value 'Netstring' (want classic|netstring)"),
        (
            "autojoin sometimes",
            "ha.cf:4: autojoin: invalid value 'sometimes' (want none|other|any)",
        ),
        ("hopfudge 256", "ha.cf:4: hopfudge: '256' is out of range (want 0..255)"),
        ("env FOO", "ha.cf:4: env: invalid nvpair(FOO) (want NAME=value)"),
        ("apiauth ipfail", "ha.cf:4: apiauth: client 'ipfail' needs uid= or gid="),
        ("apiauth ipfail users=x", "ha.cf:4: apiauth: Missing uid or gid in apiauth [users=x]"),
        (
            "apiauth ipfail uid=a\napiauth ipfail gid=b",
            "ha.cf:5: apiauth: Duplicate apiauth directive for API client ipfail",
        ),
        ("baud 12345", "ha.cf:4: baud: invalid baudrate [12345] specified"),
        ("baud 9600\nbaud 19200", "ha.cf:5: baud: Baudrate multiply specified"),
        ("ping_group group1", "ha.cf:4: ping_group: want: ping_group name address [address...]"),
        (
            "compression lzma",
            "ha.cf:4: compression: unknown compression module 'lzma' (want zlib or bz2)",
        ),
    ],
)
def test_broken_lines(lines: str, message: str) -> None:
    assert error_of(BASE + lines + "\n") == message


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
            "ha.cf:5: Dead time [4000 ms] is too small compared to keepalive [2000 ms];"
            " it must be more than twice keepalive",
        ),
        (
            BASE + "keepalive 15\n",
            "master",
            "ha.cf:4: Dead time [30000 ms] is too small compared to keepalive [15000 ms];"
            " it must be more than twice keepalive",
        ),
        (
            BASE + "deadtime 30\ninitdead 20\n",
            "master",
            "ha.cf:5: Initial dead time [20000 ms] is smaller than deadtime [30000 ms]",
        ),
        (
            BASE + "deadping 2\n",
            "master",
            "ha.cf:4: Ping dead time [2000 ms] is too small compared to keepalive [1000 ms];"
            " it must be more than twice keepalive",
        ),
        (
            BASE + "use_logd off\n",
            "master",
            "ha.cf:4: No log entry found in ha.cf and use_logd is set to off",
        ),
        (
            BASE + "autojoin any\n",
            "master",
            "ha.cf:4: autojoin any: conflicts with haresources; use autojoin none",
        ),
        (BASE + "ping master\n", "master", "ha.cf:2: node 'master' is also a ping node"),
    ],
)
def test_startup_checks(text: str, node: str, message: str) -> None:
    assert error_of(text, node) == message


def test_logfacility_none_counts_as_no_logging() -> None:
    cfg = parse(BASE + "logfacility none\nauto_failback on\n")
    assert cfg.logfacility is None and cfg.use_logd is True


def test_syslog_records_dev_null_files() -> None:
    cfg = parse(BASE + "logfacility daemon\nauto_failback on\n")
    assert cfg.raw_parameter("logfile") == "/dev/null"
    assert cfg.logfile is None and cfg.use_logd is False


def test_extra_words_on_whole_lines_are_warned_about() -> None:
    cfg = parse("node master\nucast eth1 10.0.0.2 10.0.0.3\nauto_failback on\n")
    assert warnings_of(cfg) == [
        "ha.cf:2: ucast: extra words ignored: '10.0.0.3' (one peer per ucast line)"
    ]


def test_effective_media_drops_ucast_to_ourselves() -> None:
    text = (
        "node master\nnode slave\nucast eth1 172.16.254.18\nucast eth1 slave.lab\n"
        "bcast eth2\nauto_failback on\n"
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
