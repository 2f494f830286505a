"""load_config: a whole /etc/ha.d, the tutorial's files, and the first error wins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbnode.auth import AuthMethod
from hbnode.config import ConfigError, UcastMedium, effective_media, load_config

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
            {"ha_cf": REFERENCE["ha.cf"] + "watchdog /dev/watchdog\n"},
            "{d}/ha.cf:15: watchdog: not supported: hbnode does not drive a watchdog device"
            " (it would reboot the machine if hbnode stalled); remove the line",
        ),
        ({"authkeys": None}, "{d}/authkeys: Cannot open keyfile: No such file or directory"),
        (
            {"authkeys": "auth 2\n3 md5 Hello!\n"},
            "{d}/authkeys:1: Auth Key [2] not found in keyfile",
        ),
        (
            {"haresources": None},
            "{d}/haresources: Cannot open resources file: No such file or directory",
        ),
        (
            {"haresources": "master 10.0.0.1\nbackup 10.0.0.2\n"},
            "{d}/haresources:2: Bad nodename [backup]: not a 'node' in {d}/ha.cf"
            " (nodes: master, slave)",
        ),
        (
            {"haresources": "master 10.0.0.1\n172.16.254.1 10.0.0.2\n"},
            "{d}/haresources:2: Bad nodename [172.16.254.1]: not a 'node' in {d}/ha.cf"
            " (nodes: master, slave)",
        ),
    ],
)
def test_first_error_stops_loading(
    tmp_path: Path, overrides: dict[str, str | None], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_ha_d(tmp_path, **overrides), "master")
    assert str(caught.value) == message.format(d=tmp_path)


def test_keyfile_permissions_are_checked(tmp_path: Path) -> None:
    write_ha_d(tmp_path)
    os.chmod(tmp_path / "authkeys", 0o644)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, "master")
    path = tmp_path / "authkeys"
    assert str(caught.value) == (
        f"{path}: bad permissions on keyfile (mode 0644); 600 recommended: chmod 600 {path}"
    )


def test_empty_haresources_means_no_groups(tmp_path: Path) -> None:
    config = load_config(write_ha_d(tmp_path, haresources="# nothing moves\n"), "master")
    assert config.resource_groups == []
