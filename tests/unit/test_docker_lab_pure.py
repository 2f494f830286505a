"""The containerized lab's pure parts: compose.yaml against the topology, the files
a node gets, the rootfs stamp, the interface renaming rule, the state record."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import ipaddress
import os
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lab import docker_engine, docker_images, docker_nodefiles
from lab.docker_backend import IMAGE_OF_ROLE, gateway_of
from lab.errors import LabError
from lab.impls import Impl
from lab.proc import ProcessId
from lab.state import LabState, NodeRecord, who_brings_it_up
from lab.topology import REFERENCE

REPO = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_hosts_match_the_reference_topology() -> None:
    services = _compose()["services"]
    assert set(services) == {h.name for h in REFERENCE.hosts}
    for host in REFERENCE.hosts:
        service = services[host.name]
        assert service["hostname"] == host.name
        assert service["image"] == docker_images.image_name(IMAGE_OF_ROLE[host.role])
        assert {"NET_ADMIN", "NET_RAW"} <= set(service["cap_add"])
        wanted = {i.segment: str(i.address.ip) for i in host.interfaces}
        got = {net: cfg["ipv4_address"] for net, cfg in service["networks"].items()}
        assert got == wanted


def test_compose_networks_keep_lab_addresses_free_and_add_none_to_the_bridge() -> None:
    networks = _compose()["networks"]
    # Docker orders a container's interfaces by network name: eth0's must sort first.
    assert sorted(networks) == [s.name for s in REFERENCE.segments]
    lab_ips = {str(i.address.ip) for h in REFERENCE.hosts for i in h.interfaces}
    for seg in REFERENCE.segments:
        net = networks[seg.name]
        assert net["internal"] is True
        assert net["driver_opts"]["com.docker.network.bridge.inhibit_ipv4"] == "true"
        (pool,) = net["ipam"]["config"]
        assert ipaddress.ip_network(pool["subnet"]) == seg.subnet
        assert pool["gateway"] == gateway_of(seg)
        assert pool["gateway"] not in lab_ips


def test_gateway_is_never_the_ping_node() -> None:
    eth1 = next(s for s in REFERENCE.segments if s.name == "eth1")
    assert gateway_of(eth1) == "172.16.254.254"


def test_node_overlay_tar_has_the_ha_d_files_and_the_impl() -> None:
    master = REFERENCE.host("master")
    assert master is not None
    data = docker_nodefiles.node_overlay_tar(
        REFERENCE, master, Impl.HBNODE, "fast", {"keepalive": "500ms"}, None
    )
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {
            "etc/ha.d/authkeys",
            "etc/ha.d/ha.cf",
            "etc/ha.d/haresources",
            "etc/sysconfig/heartbeat",
        }
        assert members["etc/ha.d/authkeys"].mode & 0o777 == 0o600
        assert members["etc/ha.d/ha.cf"].uid == 0
        hacf = _read(tar, "etc/ha.d/ha.cf")
        assert "keepalive 500ms" in hacf and "ucast eth1 172.16.254.28" in hacf
        assert _read(tar, "etc/sysconfig/heartbeat") == "HB_IMPL=hbnode\n"


def _read(tar: tarfile.TarFile, name: str) -> str:
    handle = tar.extractfile(name)
    assert handle is not None
    return handle.read().decode()


def test_image_files_switch_ipfail_and_tools(tmp_path: Path) -> None:
    docker_nodefiles.install_into(tmp_path)
    switch = (tmp_path / "usr/local/sbin/hblab-impl").read_text()
    assert "ln -sfn /usr/libexec/heartbeat/ipfail /usr/lib64/heartbeat/ipfail" in switch
    assert "ln -sfn /opt/hbnode/bin/hbnode-ipfail /usr/lib64/heartbeat/ipfail" in switch
    init = (tmp_path / "etc/hblab/init.d/hbnode").read_text()
    assert 'HBNODE="/opt/hbnode/bin/python -m hbnode"' in init
    cl_status = (tmp_path / "etc/hblab/hbnode-tools/cl_status").read_text()
    assert "/opt/hbnode/bin/python -m hbnode.tools.cl_status" in cl_status
    for profile in ("fast", "seed"):
        hacf = (tmp_path / f"usr/share/hblab/ha.d/{profile}/slave/ha.cf").read_text()
        assert "ucast eth1 172.16.254.18" in hacf


def test_both_backends_get_the_same_implementation_files(tmp_path: Path) -> None:
    """The netns node's overlays hold what the image holds, its interpreter aside."""
    from lab import implfiles, rootfs

    node_dir = tmp_path / "node"
    rootfs.install_impl(node_dir, Impl.HEARTBEAT)
    image = tmp_path / "image"
    docker_nodefiles.install_into(image)
    for node_file in implfiles.install_files("/usr/bin/python3", "/usr"):
        assert rootfs.host_path(node_dir, node_file.path).exists(), node_file.path
        assert (image / node_file.path.lstrip("/")).exists(), node_file.path
    choice = rootfs.host_path(node_dir, implfiles.CHOICE).read_text()
    assert choice == "HB_IMPL=heartbeat\n"
    dispatcher = rootfs.host_path(node_dir, implfiles.DISPATCHER).read_text()
    assert dispatcher == (image / "etc/init.d/heartbeat").read_text()


def test_rootfs_hash_follows_its_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    first = docker_images.rootfs_hash("http://mirror.example/debian")
    assert first == docker_images.rootfs_hash("http://mirror.example/debian")
    assert first != docker_images.rootfs_hash("http://other.example/debian")
    monkeypatch.setattr(docker_images, "PACKAGES", (*docker_images.PACKAGES, "vim"))
    assert first != docker_images.rootfs_hash("http://mirror.example/debian")


def test_a_rootfs_tarball_already_made_is_not_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI makes it ahead (--prepare), and the image build must then only import it.
    monkeypatch.setattr(docker_images, "BUILD_DIR", tmp_path)
    made = tmp_path / f"rootfs-{docker_images.rootfs_hash('http://m.example/debian')}.tar"
    made.write_bytes(b"")
    report = docker_images.BuildReport("", {})
    assert docker_images.rootfs_tarball(report, "http://m.example/debian") == made
    assert report.rootfs == "tarball cached" and "debootstrap" not in report.seconds


@pytest.mark.parametrize(
    "text",
    [
        "Types: deb\nURIs: http://m.example/debian\nSuites: bookworm\n",
        "deb [signed-by=/k.gpg] http://m.example/debian bookworm main\n",
    ],
)
def test_apt_mirror_reads_both_source_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.delenv("HBLAB_D_MIRROR", raising=False)
    sources = tmp_path / "debian.sources"
    sources.write_text(text)
    assert docker_images.apt_mirror(sources) == "http://m.example/debian"


def _ifnames() -> ModuleType:
    path = REPO / "images" / "base" / "hblab-ifnames"
    loader = importlib.machinery.SourceFileLoader("hblab_ifnames", str(path))
    spec = importlib.util.spec_from_loader("hblab_ifnames", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    # No __pycache__ in images/base: the directory is the image's build context.
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


def _link(name: str, ip: str, mac: str = "02:42:00:00:00:01") -> dict[str, Any]:
    return {"ifname": name, "address": mac, "addr_info": [{"family": "inet", "local": ip}]}


def test_interfaces_are_named_by_subnet() -> None:
    ifnames = _ifnames()
    rule = "192.168.0.0/24=eth0 172.16.254.0/24=eth1"
    # Docker gave the ping node's only interface the name eth0.
    assert ifnames.wanted_names(rule, [_link("eth0", "172.16.254.1")]) == {"eth0": "eth1"}
    swapped = [_link("eth0", "172.16.254.18"), _link("eth1", "192.168.0.18")]
    assert ifnames.wanted_names(rule, swapped) == {"eth0": "eth1", "eth1": "eth0"}
    right = [_link("eth0", "192.168.0.18"), _link("eth1", "172.16.254.18")]
    assert ifnames.wanted_names(rule, right) == {}


def test_macs_are_the_topologys() -> None:
    ifnames = _ifnames()
    master = REFERENCE.host("master")
    assert master is not None
    links = [_link(i.name, str(i.address.ip)) for i in master.interfaces]
    assert ifnames.wanted_macs("02:4c:61:62", links) == {i.name: i.mac for i in master.interfaces}
    done = [_link(i.name, str(i.address.ip), i.mac) for i in master.interfaces]
    assert ifnames.wanted_macs("02:4c:61:62", done) == {}


def test_state_round_trips(tmp_path: Path) -> None:
    state = LabState("docker", "fast", {"ping": ""}, engine="unix:///run/hblab-d/docker.sock")
    state.networks = ["hblab-d-eth0"]
    rec = NodeRecord("master", "/x", "heartbeat", container="hblab-d-master")
    rec.init = ProcessId(1, 0)  # start time 0: never alive, so no netns
    state.nodes["master"] = rec
    path = tmp_path / "state.json"
    state.save(path)
    loaded = LabState.load(path)
    assert loaded is not None
    assert loaded.networks == ["hblab-d-eth0"] and loaded.overrides == {"ping": ""}
    assert loaded.nodes["master"].to_json() == rec.to_json()
    assert loaded.nodes["master"].netns == "" and not loaded.nodes["master"].on
    assert loaded.engine == "unix:///run/hblab-d/docker.sock"
    assert LabState.load(tmp_path / "missing.json") is None


def test_a_lab_names_the_process_and_test_that_brought_it_up(tmp_path: Path) -> None:
    state = LabState("netns", "fast")
    state.brought_up_by = who_brings_it_up()
    path = tmp_path / "state.json"
    state.save(path)
    loaded = LabState.load(path)
    assert loaded is not None and loaded.brought_up_by.startswith(f"pid {os.getpid()} (")
    assert "test_a_lab_names_the_process_and_test_that_brought_it_up" in loaded.brought_up_by


class _Client:
    """Stands in for the SDK's client: only its close is asked of it here."""

    closed = False

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (OSError("connection reset"), "image build failed: connection reset"),
        (LabError("the rootfs is missing"), "the rootfs is missing"),
    ],
)
def test_an_engine_session_names_the_work_and_always_closes(
    monkeypatch: pytest.MonkeyPatch, error: Exception, message: str
) -> None:
    opened = _Client()
    monkeypatch.setattr(docker_engine, "client", lambda url=None: opened)
    with pytest.raises(LabError) as caught, docker_engine.session("image build failed") as api:
        assert api is opened
        raise error
    assert str(caught.value) == message
    assert opened.closed
