"""Background recorders for a bench run: log lines, the client's ARP entry, a capture.

Each one is bounded in time (MAX_SECONDS), polls at a fixed interval, and is
stopped by the runner in a ``finally``. Nothing here sends a packet.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from lab.backends import Lab
from lab.labcore import capture_argv
from lab.proc import ProcessId
from lab.wiring import in_netns

MAX_SECONDS = 600.0
NUD_FAILED, NUD_INCOMPLETE = 0x20, 0x01  # neighbour states without a usable MAC


class _Poller:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _loop(self) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        self.setup()
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                self.poll(time.monotonic())
                self._stop.wait(self.interval)
            self.poll(time.monotonic())  # what was written just before the stop
        finally:
            self.teardown()

    def setup(self) -> None:
        pass

    def teardown(self) -> None:
        pass

    def poll(self, now: float) -> None:
        raise NotImplementedError


class LogTail(_Poller):
    """Every new line of each node's /var/log/ha-log, stamped when first seen.

    Heartbeat's own timestamps have one-second resolution; polling every 10 ms
    stamps a line within ~10 ms of its write. The same files are read for both
    implementations, so the method is the same. hbnode's ha-events.jsonl (ms
    timestamps of its own) is collected alongside, with the source node.
    """

    def __init__(self, log_dirs: dict[str, Path], interval: float = 0.01) -> None:
        super().__init__(interval)
        self.files = {node: d / "ha-log" for node, d in log_dirs.items()}
        self.event_files = {node: d / "ha-events.jsonl" for node, d in log_dirs.items()}
        self.offsets: dict[Path, int] = {}
        self.partial: dict[Path, bytes] = {}
        self.lines: list[tuple[float, str, str]] = []  # monotonic, node, line
        self.events: list[dict[str, Any]] = []  # as written, plus "source"

    def _new_lines(self, path: Path) -> list[str]:
        try:
            with path.open("rb") as handle:
                handle.seek(self.offsets.get(path, 0))
                chunk = handle.read(1 << 20)
        except OSError:
            return []
        self.offsets[path] = self.offsets.get(path, 0) + len(chunk)
        data = self.partial.pop(path, b"") + chunk
        *complete, rest = data.split(b"\n")
        if rest:
            self.partial[path] = rest
        return [line.decode(errors="replace") for line in complete]

    def poll(self, now: float) -> None:
        for node, path in self.files.items():
            fresh = self._new_lines(path)
            # Stamped once read, not when the round began: a line written in between
            # would be dated before its own write, and miss a window that opened in
            # between. A scenario's step so missed hbnode's rate-limited (once) line
            # `authentication failed` in CI's docker stage, the read delayed under load.
            seen = max(now, time.monotonic())
            self.lines += [(seen, node, line) for line in fresh]
        for node, path in self.event_files.items():
            for line in self._new_lines(path):
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if isinstance(entry, dict) and "ts" in entry:
                        self.events.append({**entry, "source": node})


class NeighPoll(_Poller):
    """The client's ARP entry for the VIP (the MAC its kernel will send to)."""

    def __init__(self, netns: str, vip: str, interval: float = 0.02) -> None:
        super().__init__(interval)
        self.netns, self.vip = netns, vip
        self.samples: list[tuple[float, str | None]] = []
        self._ns = contextlib.ExitStack()
        self._handle: Any = None

    def setup(self) -> None:
        # Opened on the polling thread itself: one netlink handle, used by one thread.
        self._handle = self._ns.enter_context(in_netns(self.netns))

    def teardown(self) -> None:
        self._ns.close()

    def poll(self, now: float) -> None:
        mac: str | None = None
        for entry in self._handle.get_neighbours(family=2):
            if entry.get("NDA_DST") == self.vip and not entry["state"] & (
                NUD_FAILED | NUD_INCOMPLETE
            ):
                mac = entry.get("NDA_LLADDR")
        self.samples.append((now, mac))


class Capture:
    """tcpdump on a node's interface into a pcap file, recorded so ``down`` kills it."""

    READY_TIMEOUT = 5.0

    def __init__(self, lab: Lab, node: str, iface: str, out: Path, bpf: str) -> None:
        self.lab, self.out = lab, out
        self.argv = capture_argv(lab.netns_of(node), iface, out, bpf)
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: ProcessId | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.pid = ProcessId.of(self.proc.pid)
        if self.pid is not None:
            self.lab.track(self.pid)
        self._wait_listening()

    def _wait_listening(self) -> None:
        """tcpdump says "listening on" once its socket is open: wait for that line."""
        assert self.proc is not None and self.proc.stderr is not None
        deadline = time.monotonic() + self.READY_TIMEOUT
        seen = b""
        while b"listening on" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError(f"tcpdump did not start: {seen.decode(errors='replace')}")
            ready, _, _ = select.select([self.proc.stderr], [], [], left)
            if ready:
                seen += os.read(self.proc.stderr.fileno(), 4096)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # flushes the pcap and exits
            try:
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5.0)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        if self.pid is not None:
            self.lab.untrack(self.pid)
        self.proc = None


def read_packets(pcap: Path, names: dict[str, str]) -> list[tuple[float, str, str]]:
    """(wall time, sender, link) per packet: UDP 694 is "eth1", ICMP (pings) "eth1 icmp"."""
    from scapy.layers.inet import ICMP, IP
    from scapy.utils import PcapReader

    result: list[tuple[float, str, str]] = []
    if not pcap.exists() or pcap.stat().st_size == 0:
        return result
    with PcapReader(str(pcap)) as reader:
        for packet in reader:
            if IP not in packet:
                continue
            sender = names.get(packet[IP].src, packet[IP].src)
            link = "eth1 icmp" if ICMP in packet else "eth1"
            result.append((float(packet.time), sender, link))
    return result
