"""Blank nodes (hblab up --blank): their files, keys, overlays and the docker tar."""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from lab import centos, docker_nodefiles, nodeinit, rootfs, sshkeys
from lab.impls import Impl
from lab.topology import REFERENCE, Host

DEBIAN_DOC = Path("/usr/share/doc/heartbeat")
YUM = Path(centos.ASSETS / "centos" / "yum")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted xattrs need root")


def _host(name: str) -> Host:
    host = REFERENCE.host(name)
    assert host is not None
    return host


@pytest.fixture(scope="module")
def keys() -> dict[str, sshkeys.NodeKeys]:
    return sshkeys.generate([h.name for h in REFERENCE.cluster_nodes])


def _files(blank: centos.BlankNode) -> dict[str, str]:
    return {f.path: f.text for f in blank.files}


@pytest.mark.parametrize("name", centos.SAMPLES)
def test_samples_are_the_debian_package_files(name: str) -> None:
    installed = DEBIAN_DOC / name
    gzipped = DEBIAN_DOC / f"{name}.gz"
    if gzipped.exists():
        real = gzip.decompress(gzipped.read_bytes()).decode()
    elif installed.exists():
        real = installed.read_text()
    else:
        pytest.skip("Debian's heartbeat package is not installed here")
    assert (centos.ASSETS / "heartbeat-doc" / name).read_text() == real


def test_a_blank_node_is_centos_before_step_1(keys: dict[str, sshkeys.NodeKeys]) -> None:
    files = _files(centos.blank_node(_host("master"), REFERENCE, keys))
    assert files["/etc/sysconfig/network"] == "NETWORKING=yes\nHOSTNAME=localhost.localdomain\n"
    assert "master" not in files["/etc/hosts"] and "slave" not in files["/etc/hosts"]
    assert "SELINUX=enforcing" in files["/etc/selinux/config"]
    assert (
        "-A INPUT -j REJECT --reject-with icmp-host-prohibited" in files["/etc/sysconfig/iptables"]
    )
    assert not any(path.startswith("/etc/ha.d/") for path in files)
    for directory in centos.SAMPLE_DIRS:
        assert files[f"{directory}/ha.cf"].count("#ucast eth0 192.168.1.2") == 1


def test_start_links_run_iptables_before_sshd() -> None:
    links = centos.start_links()
    assert [Path(link.path).name for link in links] == ["S08iptables", "S55sshd"]
    assert all(link.path.startswith(nodeinit.RC_DIR + "/") for link in links)
    assert centos.RC_DIR == nodeinit.RC_DIR


def test_root_keys_are_exchanged_and_hosts_known_by_name(
    keys: dict[str, sshkeys.NodeKeys],
) -> None:
    master = {
        f.path: f
        for f in sshkeys.node_files(_host("master"), keys, [_host("master"), _host("slave")])
    }
    authorized = master["/root/.ssh/authorized_keys"].text
    assert keys["master"].root.public in authorized and keys["slave"].root.public in authorized
    known = master["/root/.ssh/known_hosts"].text.splitlines()
    slave_line = next(line for line in known if line.startswith("slave,"))
    assert slave_line.split()[0] == "slave,192.168.0.28,172.16.254.28"
    assert slave_line.split()[2] == keys["slave"].host.public.split()[1]
    assert master[sshkeys.HOST_KEY].text == keys["master"].host.private
    assert master[sshkeys.HOST_KEY].mode == 0o600
    assert master["/root/.ssh/id_ed25519"].mode == 0o600
    assert keys["master"].host.public != keys["slave"].host.public


@needs_root
def test_netns_blank_node_dir(tmp_path: Path, keys: dict[str, sshkeys.NodeKeys]) -> None:
    host = _host("slave")
    blank = centos.blank_node(host, REFERENCE, keys)
    rootfs.prepare_node_dir(tmp_path, REFERENCE, host, Impl.HEARTBEAT, "fast", {}, None, blank)
    etc = tmp_path / "etc" / "upper"
    for hidden in rootfs.HIDDEN_ON_BLANK:  # whiteouts: this machine's files are hidden
        mode = rootfs.host_path(tmp_path, hidden).lstat().st_mode
        assert stat.S_ISCHR(mode), hidden
    assert (etc / "sysconfig" / "heartbeat").read_text() == "HB_IMPL=heartbeat\n"
    assert (etc / "rc.d" / "rc3.d" / "S55sshd").readlink() == Path("/etc/init.d/sshd")
    assert (tmp_path / "doc/upper/heartbeat-3.0.4/haresources").exists()
    ssh = tmp_path / "root" / "upper" / ".ssh"
    assert stat.S_IMODE(ssh.stat().st_mode) == 0o700
    assert os.getxattr(ssh, "trusted.overlay.opaque") == b"y"
    assert stat.S_IMODE((ssh / "id_ed25519").stat().st_mode) == 0o600


def test_docker_blank_tar(keys: dict[str, sshkeys.NodeKeys]) -> None:
    host = _host("master")
    blank = centos.blank_node(host, REFERENCE, keys)
    data = docker_nodefiles.node_overlay_tar(REFERENCE, host, Impl.HBNODE, "fast", {}, None, blank)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        choice = tar.extractfile(members["etc/sysconfig/heartbeat"])
        assert choice is not None and choice.read() == b"HB_IMPL=hbnode\n"
    assert "etc/hosts" not in members  # Docker's own, bind-mounted
    assert not any(name.startswith("etc/ha.d") for name in members)
    assert members["root/.ssh"].isdir() and members["root/.ssh"].mode == 0o700
    assert members["etc/rc.d/rc3.d/S08iptables"].linkname == "/etc/init.d/iptables"
    assert members["usr/local/sbin/yum"].mode == 0o755


def test_boot_hostname_reads_sysconfig_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = tmp_path / "network"
    monkeypatch.setattr(nodeinit, "NETWORK_FILE", str(network))
    assert nodeinit.boot_hostname("master") == "master"  # no file: the lab's name
    network.write_text('NETWORKING=yes\nHOSTNAME="slave"\n')
    assert nodeinit.boot_hostname("master") == "slave"
    network.write_text("NETWORKING=yes\nHOSTNAME=\n")
    assert nodeinit.boot_hostname("master") == "master"


def _yum(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The node's yum with a dpkg-query that knows heartbeat and nginx-light only."""
    stub = tmp_path / "dpkg-query"
    stub.write_text(
        "#!/bin/sh\n"
        "for last; do :; done\n"
        'case "$last" in\n'
        '  heartbeat) echo "install ok installed 1:3.0.6-13+b2" ;;\n'
        '  nginx-light) echo "install ok installed 1.22.1-9" ;;\n'
        "  *) exit 1 ;;\n"
        "esac\n"
    )
    stub.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    return subprocess.run(["sh", str(YUM), *args], capture_output=True, text=True, env=env)


def test_yum_says_what_is_installed_and_downloads_nothing(tmp_path: Path) -> None:
    done = _yum(tmp_path, "install", "-y", "heartbeat*", "nginx")
    assert done.returncode == 0
    assert "Package heartbeat is already installed: Debian's heartbeat 1:3.0.6-13+b2" in done.stdout
    assert "Package nginx is already installed: Debian's nginx-light 1.22.1-9" in done.stdout
    assert done.stdout.rstrip().endswith("Nothing to do")
    assert "Downloading" not in done.stdout


def test_yum_refuses_what_it_does_not_have(tmp_path: Path) -> None:
    done = _yum(tmp_path, "install", "httpd")
    assert done.returncode == 1
    assert "No package httpd available." in done.stdout
    assert _yum(tmp_path, "install").returncode == 1
    assert _yum(tmp_path, "remove", "nginx").returncode == 1
