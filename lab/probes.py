"""What the client sees: who answers ARP for the VIP, and whether the page loads.

Both probes run on a thread of the caller, with sockets opened inside the
client's namespace (lab.netsock), and record timestamped samples. They send only
to the VIP inside the lab, are bounded in time and count, and stop on request.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scapy.layers.l2 import ARP, Ether

from lab import netsock
from lab.errors import LabError

MAX_SECONDS = 600.0  # no probe outlives this, whatever the caller forgets
MAX_FRAMES_PER_READ = 256  # frames one read of the ARP socket takes at most


@dataclass(frozen=True, slots=True)
class ArpSample:
    sent_at: float  # time.monotonic() of the request
    macs: frozenset[str]  # every MAC that answered within the interval


@dataclass(frozen=True, slots=True)
class HttpSample:
    sent_at: float
    ok: bool
    server: str | None  # the node named by the page, e.g. "master"


@dataclass
class Windows:
    """Durations, in seconds, derived from a run of samples."""

    two_holders: float = 0.0
    no_holder: float = 0.0
    longest_no_holder: float = 0.0
    holders_seen: list[frozenset[str]] = field(default_factory=list)


class _Prober:
    def __init__(self, interval: float, max_seconds: float) -> None:
        self.interval = interval
        self.max_seconds = min(max_seconds, MAX_SECONDS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None  # what stopped the thread, if not stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread; if something other than stop() ended it, say so (LabError):
        what it recorded stops there, and a verdict on it would be on half a run."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self.error is not None:
            error, self.error = self.error, None
            raise LabError(f"{type(self).__name__} stopped early: {error!r}") from error

    def __enter__(self) -> _Prober:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                self.probe_once(started)
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
        except Exception as exc:  # kept for stop(): a test must not judge half a record
            self.error = exc

    def probe_once(self, now: float) -> None:
        raise NotImplementedError


class ArpWatch(_Prober):
    """ARP who-has VIP from the client every ``interval``; records who answers.

    It works on any datagram socket that carries Ethernet frames (``sock``, the
    client's ``mac``): :meth:`on` opens the packet socket on a lab interface."""

    def __init__(
        self,
        sock: socket.socket,
        mac: str,
        vip: str,
        client_ip: str,
        interval: float = 0.05,
        max_seconds: float = 300.0,
    ) -> None:
        super().__init__(interval, max_seconds)
        ensure_lab_target(vip)
        self.vip, self.client_ip = vip, client_ip
        self.sock, self.mac = sock, mac
        self.samples: list[ArpSample] = []
        # The same who-has every time: built once, not at 20 probes a second.
        self._request = bytes(
            Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=client_ip, pdst=vip)
        )

    @classmethod
    def on(
        cls,
        netns: str,
        iface: str,
        vip: str,
        client_ip: str,
        interval: float = 0.05,
        max_seconds: float = 300.0,
    ) -> ArpWatch:
        """Watch from ``iface`` in the lab namespace ``netns`` (the client's eth0)."""
        ensure_lab_target(vip)  # before a socket is opened for it
        sock = netsock.packet_socket(netns, iface, netsock.ETH_P_ARP)
        mac = netsock.interface_mac(netns, iface)
        return cls(sock, mac, vip, client_ip, interval, max_seconds)

    def probe_once(self, now: float) -> None:
        # Replies still queued arrived before this who-has goes out, so they answer an
        # earlier one: this thread ran late, and that window closed before it read
        # them. Read with this one's answers, the old holder's late reply and the new
        # holder's answer made two holders of a handover in order (0.042 s in one
        # soak cycle of 300, on a loaded machine). They count where they belong.
        late = self._answers(time.monotonic())
        if late and self.samples:
            last = self.samples[-1]
            self.samples[-1] = ArpSample(last.sent_at, last.macs | late)
        self.sock.send(self._request)
        self.samples.append(ArpSample(now, self._answers(now + self.interval * 0.9)))

    def _answers(self, until: float) -> frozenset[str]:
        """The MACs of the answers read until ``until`` (now: only those queued)."""
        macs: set[str] = set()
        for _ in range(MAX_FRAMES_PER_READ):  # bounded: a flood cannot hold the prober
            left = max(0.0, until - time.monotonic())
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                break
            frame = Ether(self.sock.recv(2048))
            if ARP in frame and self.answers(frame[ARP]):
                macs.add(frame[ARP].hwsrc)
        return frozenset(macs)

    def answers(self, arp: ARP) -> bool:
        """Is this ARP packet the VIP holder's reply to the client's own who-has?

        Only a reply addressed to the client counts. A gratuitous ARP (the new holder
        announcing itself, addressed to the VIP) that lands in the same window as the
        old holder's last reply would read as two holders at once, though the old one
        had let go first (a lesson failed on 0.020 s of such "overlap" in CI)."""
        return bool(arp.op == 2 and arp.psrc == self.vip and arp.pdst == self.client_ip)

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.sock.close()

    def windows(self) -> Windows:
        return windows_of([(s.sent_at, s.macs) for s in self.samples], self.interval)


class HttpProbe(_Prober):
    """GET http://VIP/ from the client every ``interval`` (fresh connection each)."""

    def __init__(
        self,
        netns: str,
        vip: str,
        interval: float = 0.02,
        timeout: float = 0.2,
        max_seconds: float = 300.0,
    ) -> None:
        super().__init__(interval, max_seconds)
        ensure_lab_target(vip)
        self.netns, self.vip, self.timeout = netns, vip, timeout
        self.samples: list[HttpSample] = []

    def probe_once(self, now: float) -> None:
        sock = netsock.inet_socket(self.netns)
        sock.settimeout(self.timeout)
        try:
            sock.connect((self.vip, 80))
            sock.sendall(b"GET / HTTP/1.0\r\nHost: " + self.vip.encode() + b"\r\n\r\n")
            body = sock.recv(4096).decode(errors="replace")
            ok = body.startswith("HTTP/1.1 200") or body.startswith("HTTP/1.0 200")
            server = body.rsplit("\n", 2)[-2].strip() if ok and "\n" in body else None
            self.samples.append(HttpSample(now, ok, server))
        except OSError:
            self.samples.append(HttpSample(now, False, None))
        finally:
            sock.close()

    def outage(self) -> float:
        """The longest run of failed probes, in seconds (first failure → next success)."""
        longest, started = 0.0, None
        for sample in self.samples:
            if not sample.ok and started is None:
                started = sample.sent_at
            elif sample.ok and started is not None:
                longest = max(longest, sample.sent_at - started)
                started = None
        return longest


def windows_of(samples: list[tuple[float, frozenset[str]]], interval: float) -> Windows:
    """Total time with two or more answering MACs, and with none (pure: unit-tested)."""
    result = Windows()
    gap_start: float | None = None
    for index, (at, macs) in enumerate(samples):
        step = samples[index + 1][0] - at if index + 1 < len(samples) else interval
        if len(macs) >= 2:
            result.two_holders += step
        if not macs:
            result.no_holder += step
            gap_start = at if gap_start is None else gap_start
            result.longest_no_holder = max(result.longest_no_holder, at + step - gap_start)
        else:
            gap_start = None
        if macs and (not result.holders_seen or result.holders_seen[-1] != macs):
            result.holders_seen.append(macs)
    return result


def is_lab_address(ip: str) -> bool:
    """Probes refuse anything outside the lab's two subnets."""
    addr = ipaddress.IPv4Address(ip)
    return any(addr in ipaddress.IPv4Network(n) for n in ("192.168.0.0/24", "172.16.254.0/24"))


def ensure_lab_target(ip: str) -> None:
    if not is_lab_address(ip):
        raise ValueError(f"{ip} is not a lab address: probes only talk inside the lab")


class AddrWatch(_Prober):
    """Samples which nodes have the VIP configured (``ip addr``, via netlink) every
    ``interval``: the node-side view of "two holders", next to ArpWatch's wire view."""

    def __init__(
        self,
        holders: Callable[[], list[str]],
        interval: float = 0.05,
        max_seconds: float = 300.0,
    ) -> None:
        super().__init__(interval, max_seconds)
        self.holders = holders
        self.samples: list[tuple[float, frozenset[str]]] = []

    def probe_once(self, now: float) -> None:
        self.samples.append((now, frozenset(self.holders())))

    def max_holders(self) -> int:
        return max((len(nodes) for _, nodes in self.samples), default=0)

    def both_samples(self) -> list[float]:
        """When (monotonic) more than one node had the VIP."""
        return [at for at, nodes in self.samples if len(nodes) > 1]
