"""load_config / read_config: a whole /etc/ha.d, the tutorial's files, every problem at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbnode.auth import AuthMethod
from hbnode.config import ConfigError, UcastMedium, effective_media, load_config
from hbnode.config.errors import ConfigErrors
from hbnode.config.load import read_config

REFERENCE = {
    "ha.cf": (
        "debugfile /var/log/ha-debug\n"
        "logfile /var/log/ha-log\n"
        "logfacility local0\n"
        "keepalive 2\n"
        "deadtime 30\n"
        "warntime 10\n"
        "initdead 60\n"
        "udpport 694\n"
        "ucast eth1 172.16.254.28\n"
        "auto_failback on\n"
        "node master\n"
        "node slave\n"
        "ping 172.16.254.1\n"
        "respawn hacluster /usr/lib64/heartbeat/ipfail\n"
    ),
    "authkeys": "auth 3\n3 md5 Hello!\n",
    "haresources": "master 192.168.0.38/24/eth0:0 nginx\n",
}


def write_ha_d(tmp_path: Path, **overrides: str | None) -> Path:
    files = {**REFERENCE, **{name.replace("_", "."): text for name, text in overrides.items()}}
    for name, text in files.items():
        if text is None:
            continue
        path = tmp_path / name
        path.write_text(text)
        os.chmod(path, 0o600 if name == "authkeys" else 0o644)
    return tmp_path


def test_reference_setup_on_master(tmp_path: Path) -> None:
    config = load_config(write_ha_d(tmp_path), "master")
    assert config.node_name == "master"
    assert config.hacf.nodes == ["master", "slave"]
    assert config.hacf.media == [UcastMedium("eth1", "172.16.254.28", 694, 9)]
    assert config.authkeys.signing_key.method is AuthMethod.MD5
    # The one group is master's: local here (hbnode.rm.hold.set_of decides that).
    assert [(g.owner, g.key) for g in config.resource_groups] == [
        ("master", "192.168.0.38/24/eth0:0")
    ]
    assert config.group("192.168.0.38/24/eth0:0") is config.resource_groups[0]
    assert config.group("nginx") is None
    assert config.warnings == []


def test_reference_setup_on_slave(tmp_path: Path) -> None:
    config = load_config(write_ha_d(tmp_path), "SLAVE")
    assert config.node_name == "slave"
    assert [group.owner for group in config.resource_groups] == ["master"]  # foreign here
    # The one ucast line points at the slave itself: on the slave it is not opened.
    assert effective_media(config.hacf, {"172.16.254.28"}) == []


def test_node_name_defaults_to_lowercase_uname(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.uname()
    fake = os.uname_result((real.sysname, "Master", real.release, real.version, real.machine))
    monkeypatch.setattr(os, "uname", lambda: fake)
    assert load_config(write_ha_d(tmp_path)).node_name == "master"


def test_warnings_are_passed_on(tmp_path: Path) -> None:
    hacf = REFERENCE["ha.cf"].replace("auto_failback on", "auto_failback legacy")
    config = load_config(write_ha_d(tmp_path, ha_cf=hacf), "master")
    assert [str(warning) for warning in config.warnings] == [
        f"{tmp_path}/ha.cf:10: Deprecated 'legacy' auto_failback option selected."
        " Please convert to 'auto_failback on'."
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ha_cf": None}, "{d}/ha.cf: Cannot open config file: No such file or directory"),
        (
            {"ha_cf": REFERENCE["ha.cf"] + "watchdog /dev/watchdog /dev/watchdog1\n"},
            "{d}/ha.cf:15: watchdog: Watchdog device multiply specified.",
        ),
        (
            {"authkeys": None},
            "{d}/authkeys: Cannot open keyfile [{d}/authkeys].  Stop. (No such file or directory)",
        ),
        (
            {"authkeys": "auth 2\n3 md5 Hello!\n"},
            "{d}/authkeys:1: Auth Key [2] not found in keyfile [{d}/authkeys]",
        ),
        (
            {"haresources": None},
            "{d}/haresources: Cannot open resources file [{d}/haresources]"
            " (No such file or directory)",
        ),
        (
            {"haresources": "master 10.0.0.1\nbackup 10.0.0.2\n"},
            "{d}/haresources:2: Bad nodename in {d}/haresources [backup] (nodes: master, slave)",
        ),
        (
            {"haresources": "master 10.0.0.1\n172.16.254.1 10.0.0.2\n"},
            "{d}/haresources:2: Bad nodename in {d}/haresources [172.16.254.1]"
            " (nodes: master, slave): a ping node cannot hold resources",
        ),
    ],
)
def test_a_problem_stops_loading(
    tmp_path: Path, overrides: dict[str, str | None], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_ha_d(tmp_path, **overrides), "master")
    assert str(caught.value) == message.format(d=tmp_path)


def test_every_problem_of_every_file_in_file_order(tmp_path: Path) -> None:
    d = write_ha_d(
        tmp_path,
        haresources="master 10.0.0.1/40\nbackup 10.0.0.2\n",
        authkeys="auth 2\n2 md5 Hello! again\n3 rot13 x\n",
        ha_cf=REFERENCE["ha.cf"].replace("keepalive 2", "keepalive 2x") + "frob 1\n",
    )
    report = read_config(d, "master")
    assert report.lines() == [
        f"{d}/ha.cf:4: keepalive: invalid time '2x' (want seconds, or a number followed by"
        " ms or us)",
        f"{d}/ha.cf:15: Illegal directive [frob] in {d}/ha.cf",
        f"{d}/authkeys:2: warning: the key is only 'Hello!': the words after it ('again')"
        " are ignored",
        f"{d}/authkeys:3: Invalid authtype [rot13] (want crc, md5 or sha1)",
        f"{d}/haresources:1: Invalid netmask specification [40]",
        f"{d}/haresources:2: Bad nodename in {d}/haresources [backup] (nodes: master, slave)",
    ]
    with pytest.raises(ConfigErrors) as caught:
        load_config(d, "master")
    assert [str(error) for error in caught.value.errors] == [
        line for line in report.lines() if ": warning: " not in line
    ]


def test_keyfile_permissions_are_checked(tmp_path: Path) -> None:
    write_ha_d(tmp_path)
    os.chmod(tmp_path / "authkeys", 0o644)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, "master")
    path = tmp_path / "authkeys"
    assert str(caught.value) == (
        f"{path}: Bad permissions on keyfile [{path}], 600 recommended."
        f" (mode 0644: chmod 600 {path})"
    )


def test_files_only_assumes_no_node_and_no_key_mode(tmp_path: Path) -> None:
    write_ha_d(tmp_path)
    os.chmod(tmp_path / "authkeys", 0o644)
    report = read_config(tmp_path, None, on_a_node=False)
    assert report.errors == []
    assert report.lines() == [
        f"{tmp_path}/authkeys: warning: Bad permissions on keyfile [{tmp_path}/authkeys],"
        f" 600 recommended. (mode 0644: chmod 600 {tmp_path}/authkeys)"
    ]
    elsewhere = read_config(tmp_path, "backup", on_a_node=False)
    assert [str(error) for error in elsewhere.errors] == [
        f"{tmp_path}/ha.cf:12: Current node [backup] not in configuration! (nodes: master, slave)"
    ]


def test_empty_haresources_means_no_groups(tmp_path: Path) -> None:
    config = load_config(write_ha_d(tmp_path, haresources="# nothing moves\n"), "master")
    assert config.resource_groups == []
