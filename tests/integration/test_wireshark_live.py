"""A live multi-interface capture piped into tshark shows a failover, as Wireshark would.

    hblab capture --live master:eth1,slave:eth1,client:eth0 -w - | tshark -i - …

During a poweroff of the VIP holder (master) the stream must show the slave's
status messages going on, master falling silent, and the gratuitous ARPs for the
VIP that slave sends when it takes over, seen by the client. One cluster (the
first of HBLAB_IMPLS) is enough: what is tested is the pipe, on either backend.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lab import netsock
from lab.impls import parse_impl_list
from lab.topology import REFERENCE
from lab.wireshark.plugin import PLUGIN
from lab.wireshark.tshark import ek_layers
from tests.tshark_util import require_tshark

from .helpers import Cluster, wait_until

pytestmark = pytest.mark.failover

REPO = Path(__file__).resolve().parents[2]
TAPS = "master:eth1,slave:eth1,client:eth0"
FIELDS = (
    "frame.interface_name",
    "frame.time_epoch",
    "heartbeat.t",
    "heartbeat.src",
    "arp.src.proto_ipv4",
    "arp.dst.proto_ipv4",
    "arp.src.hw_mac",
)
HBLAB = (sys.executable, "-m", "lab")
READER_ARGS = ("-Y", "heartbeat or arp", "-T", "ek", *(a for f in FIELDS for a in ("-e", f)))
SPEC = parse_impl_list(
    os.environ.get("HBLAB_IMPLS", "hbnode"), [h.name for h in REFERENCE.cluster_nodes]
)[0]


class Rows:
    """tshark's packets as they come, read on a thread."""

    def __init__(self, stream: Any) -> None:
        self.rows: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        for layers in ek_layers(stream):
            row = {key: str(value[0]) for key, value in layers.items()}
            with self.lock:
                self.rows.append(row)

    def matching(self, predicate: Callable[[dict[str, str]], bool]) -> list[dict[str, str]]:
        with self.lock:
            return [row for row in self.rows if predicate(row)]


class Drain:
    """A process's stderr, read on a thread so that its pipe never fills."""

    def __init__(self, stream: Any) -> None:
        self.chunks: list[bytes] = []
        raw = getattr(stream, "buffer", stream)  # tshark's is a text stream
        self.thread = threading.Thread(target=self._read, args=(raw,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        for chunk in iter(lambda: stream.read1(4096), b""):
            self.chunks.append(chunk)

    def text(self) -> str:
        self.thread.join(5)
        return b"".join(self.chunks).decode(errors="replace")


def _ended(process: subprocess.Popen[Any], errors: Drain, what: str) -> int:
    """The process's exit status once it ends (30 s at most). One that does not end is
    asked where it is (SIGUSR1: the capture writes its threads' stacks to stderr),
    then killed, and the test fails with that and its kernel wait channel."""
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        wchan = Path(f"/proc/{process.pid}/wchan")
        where = wchan.read_text() if wchan.exists() else "?"
        process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 3.0  # faulthandler writes at once; then it is killed
        while time.monotonic() < deadline and b"most recent call first" not in b"".join(
            errors.chunks
        ):
            time.sleep(0.05)
        process.kill()
        process.wait(10)
        pytest.fail(f"{what} did not end 30 s after Ctrl-C (waiting in {where}):\n{errors.text()}")


def _at(row: dict[str, str]) -> float:
    return float(row.get("frame_time_epoch", "0"))


def test_live_pipe_shows_poweroff_failover(
    lab_factory: Callable[..., Cluster], tmp_path: Path, measure: Callable[..., None]
) -> None:
    tshark = require_tshark()
    cluster = lab_factory(SPEC)
    cluster.startup("master", 60.0)
    lab = cluster.lab
    vip = str(REFERENCE.vip.ip)
    slave_mac = netsock.interface_mac(lab.netns_of("slave"), "eth0")
    backend = os.environ.get("LAB") or "netns"
    capture = subprocess.Popen(
        [*HBLAB, "--backend", backend, "capture", "--live", TAPS, "-w", "-", "--seconds", "90"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    home = tmp_path / "home"
    home.mkdir()
    reader = subprocess.Popen(
        [tshark, "-n", "-l", "-i", "-", "-X", f"lua_script:{PLUGIN}", *READER_ARGS],
        stdin=capture.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )
    assert capture.stdout is not None and reader.stdout is not None
    capture.stdout.close()  # tshark holds the read end now
    rows = Rows(reader.stdout)
    # Both stderr pipes are read as they fill: a full one would stop its writer.
    capture_errors, reader_errors = Drain(capture.stderr), Drain(reader.stderr)
    try:
        wait_until(
            lambda: rows.matching(
                lambda r: (
                    r.get("frame_interface_name") == "slave:eth1"
                    and r.get("heartbeat_src") == "master"
                )
            ),
            20.0,
            "master's heartbeats through the pipe",
        )
        powered_off = time.time()
        lab.poweroff("master")
        # Off once poweroff returns: it may first wait for the lab's lock, and a
        # container's kill takes a while on a busy engine (master's status went out
        # more than 0.2 s after the call began in one CI run).
        off = time.time()
        took = cluster.wait_holder("slave", cluster.deadtime + 20.0)
        measure("live_pipe_takeover_s", took, impl=SPEC)

        def garps() -> list[dict[str, str]]:
            # From once master is surely off: until poweroff returns, master may still
            # send one of its own start-up announcements (10, one a second; one went
            # out after the call began in a docker CI run). Slave's come a deadtime later.
            return rows.matching(
                lambda r: (
                    r.get("frame_interface_name") == "client:eth0"
                    and r.get("arp_src_proto_ipv4") == vip
                    and r.get("arp_dst_proto_ipv4") == vip
                    and _at(r) > off + 0.2
                )
            )

        wait_until(garps, 15.0, "gratuitous ARPs for the VIP seen by the client")
        wait_until(
            lambda: rows.matching(
                lambda r: (
                    r.get("heartbeat_src") == "slave"
                    and r.get("heartbeat_t") == "status"
                    and _at(r) > powered_off + cluster.deadtime
                )
            ),
            10.0,
            "slave's status messages after the takeover",
        )
    finally:
        capture.send_signal(signal.SIGINT)  # Ctrl-C: the capture ends cleanly
        capture_rc = _ended(capture, capture_errors, "hblab capture --live")
        reader_rc = _ended(reader, reader_errors, "tshark")
        rows.thread.join(10)
    summary = capture_errors.text()
    assert capture_rc == 0, summary
    assert reader_rc == 0, reader_errors.text()
    assert "hblab capture:" in summary and "client:eth0" in summary
    assert all(r.get("arp_src_hw_mac") == slave_mac for r in garps())
    # Master falls silent: nothing from it after the plug is pulled (a few ms in flight).
    late = rows.matching(lambda r: r.get("heartbeat_src") == "master" and _at(r) > off + 0.2)
    assert late == []
    names = {r.get("frame_interface_name") for r in rows.matching(lambda r: True)}
    assert names == {"master:eth1", "slave:eth1", "client:eth0"}
