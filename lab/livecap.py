"""``hblab capture --live``: frames of several lab interfaces as one pcapng stream.

    hblab capture --live master:eth1,slave:eth1,client:eth0 -w - | tshark -i -

Each interface is a packet socket opened inside its node's network namespace
(:func:`lab.netsock.packet_socket`), so it works alike on the netns and docker
backends, starts no process and leaves nothing behind: closing the sockets is
all there is to stop. Each interface becomes a pcapng interface named
``node:iface``; frames carry kernel timestamps (SO_TIMESTAMPNS) and direction.

It stops at ``--seconds``, on Ctrl-C or SIGTERM, or when the reader of the
stream goes away (SIGPIPE, e.g. ``tshark -c 10`` has seen enough).
"""

from __future__ import annotations

import contextlib
import errno
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import IO, TYPE_CHECKING

from lab import netsock
from lab.errors import LabError
from lab.pcapng import Direction, Interface, PcapNgWriter

if TYPE_CHECKING:
    from lab.labcore import LabBase

MAX_SECONDS = 24 * 3600.0  # a forgotten capture still ends
SNAPLEN = 262144  # GRO can hand a packet socket frames far above the MTU
POLL_SECONDS = 0.25  # how often a quiet capture looks at its deadline and signals
BURST = 256  # frames read from one socket per round, so one busy link cannot starve others
MAX_ERRORS = 50  # consecutive socket errors before an interface is given up
SO_TIMESTAMPNS = 35  # asm-generic/socket.h (SO_TIMESTAMPNS_OLD); SCM_TIMESTAMPNS too
PACKET_OUTGOING = 4  # linux/if_packet.h sll_pkttype of a frame we sent
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
# An interface that went down (poweroff, link down) or away (a container stopped).
_GONE_ERRNOS = (errno.ENETDOWN, errno.ENXIO, errno.ENODEV)


@dataclass(frozen=True, slots=True)
class Tap:
    """One interface of one node; ``label`` names it in the capture."""

    node: str
    iface: str

    @property
    def label(self) -> str:
        return f"{self.node}:{self.iface}"


def parse_taps(spec: str) -> list[Tap]:
    """``master:eth1,slave:eth1,client:eth0`` as Taps; LabError for a bad spec."""
    taps: list[Tap] = []
    for part in spec.split(","):
        node, colon, iface = part.strip().partition(":")
        if not (colon and node and iface):
            raise LabError(f"--live wants NODE:IFACE[,NODE:IFACE…], not {part.strip()!r}")
        tap = Tap(node, iface)
        if tap in taps:
            raise LabError(f"--live names {tap.label} twice")
        taps.append(tap)
    return taps


def is_heartbeat_frame(frame: bytes, port: int = 694) -> bool:
    """An Ethernet/IPv4/UDP frame to or from ``port`` (what ``dump`` feeds tshark)."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return False
    start = 14 + (frame[14] & 0x0F) * 4
    if len(frame) < start + 4:
        return False
    sport, dport = struct.unpack_from("!HH", frame, start)
    return port in (sport, dport)


@dataclass
class _Source:
    tap: Tap
    index: int
    sock: socket.socket
    count: int = 0
    errors: int = 0


@dataclass
class CaptureResult:
    """What a capture did, for the closing line on stderr."""

    counts: dict[str, int] = field(default_factory=dict)
    stopped_by: str = "deadline"  # deadline, interrupt, reader-gone, count
    lost: list[str] = field(default_factory=list)  # interfaces given up

    def summary(self) -> str:
        total = sum(self.counts.values())
        parts = ", ".join(f"{label} {n}" for label, n in self.counts.items())
        lost = f"; gave up on {', '.join(self.lost)}" if self.lost else ""
        return f"{total} packets ({parts}){lost}"


def open_sources(lab: LabBase, taps: list[Tap]) -> list[_Source]:
    """A packet socket per tap, inside the tap's node; all closed again on failure."""
    sources: list[_Source] = []
    try:
        for index, tap in enumerate(taps):
            lab.interface(tap.node, tap.iface)  # one-line LabError for an unknown one
            netns = lab.netns_of(tap.node)  # one-line LabError for a node that is off
            try:
                sock = netsock.packet_socket(netns, tap.iface)
            except OSError as exc:
                raise LabError(f"cannot capture on {tap.label}: {exc}") from exc
            sources.append(_Source(tap, index, sock))
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setblocking(False)
    except BaseException:
        close_sources(sources)
        raise
    return sources


def close_sources(sources: list[_Source]) -> None:
    for source in sources:
        source.sock.close()


def _timestamp_ns(ancillary: list[tuple[int, int, bytes]]) -> int:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return int(seconds) * 1_000_000_000 + int(nanoseconds)
    return time.time_ns()


def _read_burst(source: _Source) -> Iterator[tuple[int, bytes, Direction]]:
    """Up to BURST frames waiting on one socket: (timestamp ns, frame, direction)."""
    for _ in range(BURST):
        try:
            frame, ancillary, _flags, address = source.sock.recvmsg(SNAPLEN, _ANCILLARY)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno not in _GONE_ERRNOS:
                raise
            source.errors += 1  # the link went down: it may come back (poweron)
            return
        source.errors = 0
        # AF_PACKET: (ifname, proto, pkttype, hatype, addr); other sockets (tests) differ.
        outgoing = isinstance(address, tuple) and len(address) > 2 and address[2] == PACKET_OUTGOING
        yield _timestamp_ns(ancillary), frame, Direction.OUTBOUND if outgoing else Direction.INBOUND


class _Stop(Exception):
    """SIGTERM, raised where the loop can clean up as for Ctrl-C."""


@contextlib.contextmanager
def _signals_stop() -> Iterator[None]:
    """SIGTERM and SIGINT end the capture like Ctrl-C (only the main thread may set
    handlers). SIGINT explicitly: a command a script starts in the background
    (``cmd &`` without job control) inherits SIGINT ignored, and Python then leaves it
    ignored; the capture would run on to its deadline (CI's docker stage, started so,
    saw the live-pipe test's Ctrl-C do nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def capture(
    sources: list[_Source],
    out: IO[bytes],
    seconds: float | None,
    keep: Callable[[bytes], bool] | None = None,
    max_packets: int | None = None,
) -> CaptureResult:
    """Stream the sources' frames to ``out`` as pcapng until a stop condition."""
    interfaces = [Interface(s.tap.label, f"{s.tap.iface} of {s.tap.node}") for s in sources]
    result = CaptureResult({s.tap.label: 0 for s in sources})
    deadline = time.monotonic() + min(seconds if seconds is not None else MAX_SECONDS, MAX_SECONDS)
    live = list(sources)
    written = 0
    try:
        with _signals_stop():
            writer = PcapNgWriter(out, interfaces)
            out.flush()  # the header now: a reader learns the interfaces at once
            while live and (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([s.sock for s in live], [], [], min(left, POLL_SECONDS))
                batch: list[tuple[int, int, bytes, Direction]] = []
                for source in live:
                    if source.sock in ready:
                        for stamp, frame, way in _read_burst(source):
                            if keep is None or keep(frame):
                                batch.append((stamp, source.index, frame, way))
                                source.count += 1
                    if source.errors >= MAX_ERRORS:
                        result.lost.append(source.tap.label)
                live = [s for s in live if s.errors < MAX_ERRORS]
                # Across interfaces, frames of one round go out in time order.
                for stamp, index, frame, way in sorted(batch, key=lambda item: item[0]):
                    writer.write(index, stamp, frame, direction=way)
                    written += 1
                    if max_packets is not None and written >= max_packets:
                        result.stopped_by = "count"
                        return result
                if batch:
                    writer.flush()
    except (KeyboardInterrupt, _Stop):
        result.stopped_by = "interrupt"
    except BrokenPipeError:
        result.stopped_by = "reader-gone"
    finally:
        result.counts = {s.tap.label: s.count for s in sources}
        with contextlib.suppress(OSError):
            out.flush()
    return result
