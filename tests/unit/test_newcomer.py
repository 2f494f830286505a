"""What a newcomer meets, checked without a lab: the repo stands alone, one --impl
syntax, --backend anywhere, one-line errors, and `up`'s wait for a ready cluster."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lab import cli, ready
from lab.errors import LabError
from lab.impls import Impl, ImplError, parse_impl_list, parse_impls, spec
from lab.node import NodeError
from lab.source import NODE_SOURCE, source_info, source_root
from lab.topology import REFERENCE
from lab.wiring import WiringError
from tests.pcap_util import capture_path

REPO = Path(__file__).resolve().parents[2]
NODES = ["master", "slave"]


def _tracked_files() -> list[Path]:
    done = subprocess.run(
        ["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:  # not a checkout (an sdist): nothing to scan
        pytest.skip("not a git checkout")
    return [REPO / name for name in done.stdout.split()]


def test_the_golden_capture_is_in_the_repo() -> None:
    path = capture_path()
    assert path.is_file() and path.is_relative_to(REPO / "tests" / "fixtures")
    assert path.stat().st_size > 10_000


def test_protocol_citations_point_to_sections_that_exist() -> None:
    headings = (REPO / "docs" / "protocol.md").read_text()
    for section in ("1.4", "2.3", "3.3", "3.4", "4.1", "4.3", "4.5", "4.6", "4.7", "5.3", "6", "8"):
        marker = f"## {section}." if "." not in section else f"### {section} "
        assert marker in headings, section


def test_no_bytecode_is_tracked() -> None:
    assert [p for p in _tracked_files() if p.suffix == ".pyc"] == []


# -- which code the nodes run ------------------------------------------------------


def test_the_nodes_run_the_tree_this_hblab_comes_from() -> None:
    assert (source_root() / "hbnode" / "__init__.py").is_file()
    assert (source_root() / "lab" / "source.py").is_file()
    info = source_info()
    assert info.path == str(source_root()) and info.version
    # The node's own /run: never a path on the host.
    assert NODE_SOURCE.startswith("/run/")


def test_hbnode_wrappers_put_the_bound_tree_first() -> None:
    chosen = spec(Impl.HBNODE, python="/usr/bin/python3", prefix="/usr", pythonpath=NODE_SOURCE)
    assert chosen.init_script is not None
    assert f"env PYTHONPATH={NODE_SOURCE} /usr/bin/python3 -m hbnode" in chosen.init_script
    assert chosen.runner == f"env PYTHONPATH={NODE_SOURCE} /usr/bin/python3"
    # ipfail too: the console script under the prefix imports whatever pip installed.
    assert chosen.ipfail == "/usr/local/sbin/hbnode-ipfail"
    assert chosen.tools["hbnode-ipfail"] == "hbnode.tools.ipfail"
    # The container images install a wheel: no path games there.
    image = spec(Impl.HBNODE, python="/opt/hbnode/bin/python", prefix="/opt/hbnode")
    assert image.init_script is not None and "PYTHONPATH" not in image.init_script
    assert image.ipfail == "/opt/hbnode/bin/hbnode-ipfail"


# -- one --impl syntax ---------------------------------------------------------------


def test_one_cluster_spec_everywhere() -> None:
    assert parse_impls("master=heartbeat,slave=hbnode", NODES) == {
        "master": Impl.HEARTBEAT,
        "slave": Impl.HBNODE,
    }
    assert parse_impl_list("hbnode heartbeat master=heartbeat,slave=hbnode", NODES) == [
        "hbnode",
        "heartbeat",
        "master=heartbeat,slave=hbnode",
    ]
    # A mixed spec that names every node alike is that implementation.
    assert parse_impl_list("master=hbnode,slave=hbnode", NODES) == ["hbnode"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("heartbeat,hbnode", ["heartbeat", "hbnode"]),
        (
            "hbnode,master=heartbeat;slave=hbnode",
            ["hbnode", "master=heartbeat,slave=hbnode"],
        ),
        ("master=heartbeat;slave=hbnode", ["master=heartbeat,slave=hbnode"]),
    ],
)
def test_old_forms_are_read_with_a_deprecation_line(
    old: str, new: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert parse_impl_list(old, NODES) == new
    assert "hblab: deprecated:" in capsys.readouterr().err


def test_old_per_node_separator_in_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_impls("master=heartbeat;slave=hbnode", NODES)["master"] is Impl.HEARTBEAT
    assert "separate nodes with ','" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["", "nope", "master=nope", "client=hbnode"])
def test_bad_specs_are_refused(text: str) -> None:
    with pytest.raises(ImplError):
        parse_impl_list(text, NODES)


# -- --backend and --debug anywhere ------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--backend", "docker", "up"],
        ["up", "--backend", "docker"],
        ["--backend", "docker", "status", "--json"],
        ["status", "--json", "--backend", "docker"],
        ["bench", "--backend", "docker", "--quick"],
    ],
)
def test_backend_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = cli.make_parser().parse_args(argv)
    assert args.backend == "docker"


def test_backend_defaults_to_none_and_debug_to_off() -> None:
    args = cli.make_parser().parse_args(["status"])
    assert args.backend is None and args.debug is False
    assert cli.make_parser().parse_args(["down", "--all", "--debug"]).debug is True


# -- every failure is one line ------------------------------------------------------------


class _DockerLike(Exception):
    pass


_DockerLike.__module__ = "docker.errors"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (LabError("the lab is not up (run: hblab up)"), "the lab is not up (run: hblab up)"),
        (NodeError("slave is powered off"), "slave is powered off"),
        (WiringError("network namespace hblab-sw already exists"), "already exists"),
        (ImplError("unknown implementation 'x'"), "unknown implementation"),
        (subprocess.TimeoutExpired(["service", "heartbeat", "start"], 120), "no answer within"),
        (subprocess.CalledProcessError(3, ["ip", "link"]), "exit code 3"),
        (_DockerLike("Error while fetching server API version\nmore"), "Docker: Error while"),
        (PermissionError(13, "Permission denied", "/var/lib/hblab"), "permission denied"),
        (KeyError("x"), "unexpected KeyError"),
    ],
)
def test_every_failure_is_one_line(exc: BaseException, expected: str) -> None:
    line = cli._one_line(exc)
    assert expected in line and "\n" not in line


def test_lab_errors_are_one_hierarchy() -> None:
    for kind in (NodeError, WiringError, ImplError):
        assert issubclass(kind, LabError)


# -- up waits for a ready cluster ---------------------------------------------------------


class FakeLab:
    """Answers like a lab whose VIP arrives at ``vip_at`` (virtual seconds)."""

    topo = REFERENCE

    def __init__(
        self, clock: list[float], vip_at: float, page_at: float, settled_at: float = 0.0
    ) -> None:
        self.clock, self.vip_at, self.page_at = clock, vip_at, page_at
        self.settled_at = max(settled_at, vip_at)  # both daemons out of "transition"
        self.looked: list[str] = []

    def vip_holders(self) -> list[str]:
        return ["master"] if self.clock[0] >= self.vip_at else []

    def status(self) -> dict[str, Any]:
        on = {"power": "on", "daemon": "running"}
        return {"vip_holders": self.vip_holders(), "nodes": {"master": on, "slave": on}}

    def record(self, name: str) -> Any:
        return SimpleNamespace(impl=Impl.HEARTBEAT.value)

    def run(self, name: str, argv: list[str], timeout: float = 0, check: bool = False) -> Any:
        self.looked.append(argv[1])
        if argv[1] == "rscstatus":
            settled = self.clock[0] >= self.settled_at
            word = ("all" if name == "master" else "none") if settled else "transition"
        else:
            word = "active"
        return subprocess.CompletedProcess(argv, 0, word + "\n", "")

    def node_file(self, name: str, path: str) -> Path:
        raise OSError("no node files in a unit test")

    def netns_of(self, name: str) -> str:
        return f"netns-of-{name}"


def _wait(lab: FakeLab, clock: list[float], timeout: float) -> tuple[float, list[str]]:
    lines: list[str] = []

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    def page(netns: str, vip: str, timeout: float = 0) -> str | None:
        return "master" if clock[0] >= lab.page_at else None

    original = ready.fetch_page
    ready.fetch_page = page  # type: ignore[assignment]
    try:
        took = ready.wait_ready(lab, timeout, lines.append, clock=lambda: clock[0], sleep=sleep)
    finally:
        ready.fetch_page = original  # type: ignore[assignment]
    return took, lines


def test_up_returns_once_the_owner_serves_the_page() -> None:
    clock = [0.0]
    lab = FakeLab(clock, vip_at=10.0, page_at=10.3)
    took, lines = _wait(lab, clock, timeout=60)
    assert 10.3 <= took < 10.5
    assert (
        lines[0] == "waiting for the cluster: master active, slave active, VIP negotiating (2.0s)"
    )
    assert len(lines) == 5  # every 2 s of the 10 s


def test_up_waits_until_no_daemon_is_in_transition() -> None:
    """Served is not settled: a real Heartbeat peer still reporting its holdings through
    its FIFO would lose that report, and an hb_takeover run then, to the interleaving."""
    clock = [0.0]
    lab = FakeLab(clock, vip_at=10.0, page_at=10.0, settled_at=12.0)
    took, _ = _wait(lab, clock, timeout=60)
    assert 12.0 <= took < 12.0 + ready.SETTLE_POLL + 1e-9
    # rscstatus is asked only once the page is served, not at every look before.
    assert lab.looked.count("rscstatus") <= 2 * (2.0 / ready.SETTLE_POLL + 2)


def test_up_names_the_node_still_in_transition() -> None:
    clock = [0.0]
    lab = FakeLab(clock, vip_at=1.0, page_at=1.0, settled_at=1e9)
    with pytest.raises(ready.NotReady) as caught:
        _wait(lab, clock, timeout=5)
    assert "VIP held by master, master and slave still in transition" in str(caught.value)


class HbnodeLab(FakeLab):
    """hbnode on both nodes, each daemon's control socket at ``sockets[node]``."""

    def __init__(self, sockets: dict[str, Path]) -> None:
        super().__init__([0.0], vip_at=0.0, page_at=0.0)
        self.sockets = sockets

    def record(self, name: str) -> Any:
        return SimpleNamespace(impl=Impl.HBNODE.value)

    def node_file(self, name: str, path: str) -> Path:
        assert path == "/run/heartbeat/hbnode.ctl"
        return self.sockets[name]


def _daemon_socket(path: Path, rscstatus: str) -> threading.Thread:
    """A control socket that answers one status request as hbnode's daemon does."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(5.0)

    def answer() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                assert json.loads(conn.recv(65536))["cmd"] == "status"
                conn.sendall(json.dumps({"rscstatus": rscstatus}).encode())

    thread = threading.Thread(target=answer)
    thread.start()
    return thread


def test_hbnode_says_transition_through_its_control_socket(tmp_path: Path) -> None:
    sockets = {"master": tmp_path / "m.ctl", "slave": tmp_path / "s.ctl"}
    threads = [
        _daemon_socket(sockets["master"], "all"),
        _daemon_socket(sockets["slave"], "transition"),
    ]
    lab = HbnodeLab(sockets)
    assert ready.in_transition(lab) == ["slave"]  # type: ignore[arg-type]
    for thread in threads:
        thread.join(5.0)
    assert lab.looked == []  # no cl_status started in a node


def test_a_silent_control_socket_falls_back_to_cl_status(tmp_path: Path) -> None:
    lab = HbnodeLab({"master": tmp_path / "none.ctl", "slave": tmp_path / "none.ctl"})
    assert ready.in_transition(lab) == []  # type: ignore[arg-type]
    assert lab.looked == ["rscstatus", "rscstatus"]  # each asked with cl_status instead


def test_up_gives_up_with_one_line_naming_what_is_missing() -> None:
    clock = [0.0]
    lab = FakeLab(clock, vip_at=1e9, page_at=1e9)
    with pytest.raises(ready.NotReady) as caught:
        _wait(lab, clock, timeout=5)
    assert str(caught.value).startswith("the cluster was not ready after 5 s: wanted the VIP on")
    assert "VIP negotiating" in str(caught.value) and "\n" not in str(caught.value)


def test_status_says_starting_while_the_nodes_negotiate() -> None:
    lab = FakeLab([0.0], vip_at=10.0, page_at=10.0)
    assert ready.vip_state(lab, lab.status()).startswith("starting")
    lab.clock[0] = 11
    assert ready.vip_state(lab, lab.status()) == "held by master"
    both = {"vip_holders": ["master", "slave"], "nodes": {}}
    assert ready.vip_state(lab, both) == "held by master and slave (two holders)"
    off = {"vip_holders": [], "nodes": {"master": {"power": "off"}}}
    assert ready.vip_state(lab, off) == "held by nobody"
