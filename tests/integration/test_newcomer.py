"""A newcomer's lab, through the real `hblab` command: a copy of the code anywhere
runs its own code in the nodes, `up` returns when the cluster serves, every failure
is one line with exit 2, and `down --all` cleans up after a lost record.

Each test runs its labs under a prefix of its own, so a user's lab is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import cleanup

# Every test here shares the prefix below: one xdist worker runs them all.
pytestmark = pytest.mark.xdist_group("newcomer")
REPO = Path(__file__).resolve().parents[2]
PREFIX = "hbnew"
STATE = Path("/var/lib/hbnew")
D_STATE = Path("/var/lib/hbnew-d")
ENV = {
    **os.environ,
    "HBLAB_PREFIX": PREFIX,
    "HBLAB_STATE_DIR": str(STATE),
    "HBLAB_D_STATE_DIR": str(D_STATE),
    "LAB": "netns",
}


def hblab(*argv: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "lab", *argv],
        cwd=cwd,
        env=env or ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _sweep() -> None:
    cleanup.sweep_netns(PREFIX, STATE)


@pytest.fixture
def swept() -> Iterator[None]:
    """Whatever a test leaves, its prefix is swept (by name and namespace, not by a record)."""
    _sweep()
    yield
    _sweep()
    shutil.rmtree(D_STATE, ignore_errors=True)


@pytest.fixture
def copy_in_tmp() -> Iterator[Path]:
    """The code copied to a fresh directory under /tmp, marked so we can tell it runs."""
    top = Path(tempfile.mkdtemp(prefix="hbnode-copy-", dir="/tmp"))
    for package in ("hbnode", "lab"):
        shutil.copytree(REPO / package, top / package, ignore=shutil.ignore_patterns("__pycache__"))
    init = top / "hbnode" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "', '__version__ = "copy-'))
    yield top
    shutil.rmtree(top, ignore_errors=True)


def test_a_copy_in_tmp_runs_its_own_code_and_up_waits_for_the_page(
    swept: None, copy_in_tmp: Path
) -> None:
    done = hblab("up", cwd=copy_in_tmp, timeout=90)
    assert done.returncode == 0, done.stderr
    assert "cluster ready" in done.stdout
    # The lines while it waited say what the cluster is doing, never "held by nobody".
    waiting = [line for line in done.stdout.splitlines() if line.startswith("waiting for")]
    assert all("negotiating" in line or "held by" in line for line in waiting), waiting
    status = json.loads(hblab("status", "--json", cwd=copy_in_tmp).stdout)
    # Ready means: the owner alone holds the VIP when `up` returns.
    assert status["vip_holders"] == ["master"]
    assert status["source"]["path"] == str(copy_in_tmp)
    assert status["source"]["version"].startswith("copy-")
    inside = hblab(
        "exec", "master", "--", "sh", "-c",
        f"test -e {copy_in_tmp} && echo visible;"
        " python3 -c 'import hbnode; print(hbnode.__version__)';"
        " tr '\\0' '\\n' < /proc/$(cat /run/heartbeat.pid)/environ | grep ^PYTHONPATH",
        cwd=copy_in_tmp,
    )  # fmt: skip
    lines = inside.stdout.split()
    # The host's /tmp is hidden in a node: the copy reaches it only through the bind.
    assert "visible" not in lines
    assert lines[0].startswith("copy-")
    assert lines[1] == "PYTHONPATH=/run/hblab/src"
    assert hblab("down", cwd=copy_in_tmp).returncode == 0


def test_no_wait_returns_at_once_and_status_says_starting(swept: None) -> None:
    # The real Heartbeat negotiates for some 10 s (hbnode pairs are done within a second).
    done = hblab("up", "--no-wait", "--impl", "heartbeat")
    assert done.returncode == 0, done.stderr
    assert "waiting for" not in done.stdout
    # The status `up` printed as it returned, in its own process: a second `hblab
    # status` is a new interpreter, which on a loaded machine (CI of 55f1885,
    # 10 lab workers on 2 cores) came after Heartbeat's negotiation had ended.
    said = [line for line in done.stdout.splitlines() if line.startswith("backend ")]
    assert said and "starting" in said[0] and "nobody" not in said[0], done.stdout
    # Later looks say the same or name the holder; never "held by nobody".
    later = hblab("status").stdout.splitlines()[0]
    assert "nobody" not in later and ("starting" in later or "held by master" in later), later
    hblab("down")


def test_down_all_removes_a_lab_whose_record_is_lost(swept: None) -> None:
    assert hblab("up", "--no-wait").returncode == 0
    (STATE / "state.json").unlink()
    assert cleanup.lab_namespaces(PREFIX)  # the lab runs on, unrecorded
    assert "not up" in hblab("status").stderr
    done = hblab("down", "--all")
    assert done.returncode == 0, done.stderr
    assert "processes" in done.stdout
    assert cleanup.lab_namespaces(PREFIX) == []
    assert not (STATE / "nodes").exists()
    assert hblab("down", "--all").returncode == 0  # and again: nothing left, no error


# -- every failure, every command: one line, exit 2 ---------------------------------------

NODE_COMMANDS = [
    ["exec", "{node}", "--", "true"],
    ["shell", "{node}"],
    ["poweron", "{node}"],
    ["crash", "{node}"],
    ["link", "{node}", "eth1", "down"],
    ["netem", "{node}", "eth1", "loss", "10%"],
    ["capture", "{node}", "eth1", "-w", "/tmp/hbnew-x.pcap", "--seconds", "1"],
    ["dump", "{node}", "eth1", "--count", "1", "--seconds", "1"],
]
IFACE_COMMANDS = [c for c in NODE_COMMANDS if "eth1" in c]
ALL_COMMANDS = [["status"], ["poweroff", "{node}"], *NODE_COMMANDS]


def _cases() -> list[tuple[str, list[str]]]:
    cases = [("no lab", [a.replace("{node}", "master") for a in c]) for c in ALL_COMMANDS]
    cases += [
        ("unknown node", [a.replace("{node}", "nobody") for a in c])
        for c in ALL_COMMANDS
        if "{node}" in c
    ]
    cases += [
        ("unknown interface", [a.replace("{node}", "master").replace("eth1", "eth7") for a in c])
        for c in IFACE_COMMANDS
    ]
    # poweron of an off node is what it is for; everything else refuses an off node.
    cases += [
        ("powered off", [a.replace("{node}", "slave") for a in c])
        for c in NODE_COMMANDS
        if c[0] != "poweron"
    ]
    cases += [("bad argument", ["netem", "master", "eth1", "jitter", "5"])]
    cases += [("bad argument", ["up", "--impl", "master=nope"])]
    cases += [("bad argument", ["up", "--backend", "zfs"])]
    return cases


@pytest.fixture(scope="module")
def half_lab() -> Iterator[None]:
    """A lab with master on and slave powered off (daemons not started: cheap)."""
    _sweep()
    assert hblab("up", "--no-start").returncode == 0
    assert hblab("poweroff", "slave").returncode == 0
    yield
    _sweep()


def _assert_one_line(done: subprocess.CompletedProcess[str], case: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (case, done.returncode, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("hblab: "), (case, done.stderr)
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("case", "argv"), _cases(), ids=lambda v: v if isinstance(v, str) else "-".join(v)
)
def test_every_failure_is_one_line_exit_2(
    case: str, argv: list[str], request: pytest.FixtureRequest
) -> None:
    if case == "no lab":
        _sweep()
    elif argv[0] != "up":
        request.getfixturevalue("half_lab")
    done = hblab(*argv)
    _assert_one_line(done, case)
    if case == "powered off":
        assert "slave is powered off" in done.stderr


def test_debug_adds_the_traceback(swept: None) -> None:
    done = hblab("--debug", "exec", "master", "--", "true")
    assert done.returncode == 2 and "lab is not up" in done.stderr
    # A LabError is expected: --debug still prints where it came from.
    assert "Traceback" in done.stderr


def test_a_failing_start_in_a_node_is_one_line(swept: None, tmp_path: Path) -> None:
    """A NodeError with the daemon's own output (file:line) folded into one line."""
    (tmp_path / "ha.cf").write_text("keepalive 2\ndeadtime nonsense\nnode master\nnode slave\n")
    done = hblab("up", "--config", str(tmp_path))
    _assert_one_line(done, "node error")
    assert "service heartbeat start failed" in done.stderr and "ha.cf:2" in done.stderr


def test_a_namespace_in_the_way_is_one_line(swept: None) -> None:
    subprocess.run(["ip", "netns", "add", f"{PREFIX}-sw"], check=True)
    try:
        done = hblab("up", "--no-start")
        _assert_one_line(done, "wiring error")
        assert "already exists" in done.stderr
    finally:
        subprocess.run(["ip", "netns", "del", f"{PREFIX}-sw"], check=False)


def test_a_stopped_docker_engine_is_one_line(swept: None) -> None:
    """A docker lab recorded against an engine that is gone: every command, one line."""
    gone = "unix:///run/hbnew-no-engine.sock"
    env = {**ENV, "LAB": "docker", "DOCKER_HOST": gone}
    _assert_one_line(hblab("up", env=env), "no engine for up")
    D_STATE.mkdir(parents=True, exist_ok=True)
    record = {
        "backend": "docker",
        "profile": "fast",
        "engine": gone,
        "nodes": {"master": {"name": "master", "container": f"{PREFIX}-d-master",
                             "log_dir": str(D_STATE / "log"), "impl": "hbnode"}},
    }  # fmt: skip
    (D_STATE / "state.json").write_text(json.dumps(record))
    for argv in (["poweroff", "master"], ["poweron", "master"], ["down"]):
        done = hblab(*argv, env=env)
        _assert_one_line(done, f"stopped engine: {argv}")
