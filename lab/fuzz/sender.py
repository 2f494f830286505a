"""A paced UDP sender inside a lab namespace.

The datagrams are built with scapy (templates) and mutated in Python, but sent
through a plain kernel UDP socket: scapy's send() manages a few thousand packets
a second, the flood needs 20 000. The socket is opened inside the sending node's
network namespace (lab.netsock), so nothing leaves the lab.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lab.fuzz.corpus import Category

BATCH = 64  # datagrams sent between two looks at the clock


@dataclass
class SendReport:
    target: str
    rate_asked: float
    count_asked: int
    seconds_asked: float
    sent: int = 0
    errors: int = 0  # sendto refused (ENOBUFS, EMSGSIZE…): not on the wire
    bytes: int = 0
    seconds: float = 0.0
    by_category: Counter[str] = field(default_factory=Counter)
    errors_by_category: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "rate_asked": self.rate_asked,
            "count_asked": self.count_asked,
            "seconds_asked": self.seconds_asked,
            "sent": self.sent,
            "errors": self.errors,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 1),
            "by_category": dict(self.by_category),
            "errors_by_category": dict(self.errors_by_category),
        }


def send_paced(
    sock: socket.socket,
    dest: tuple[str, int],
    stream: Iterator[tuple[Category, bytes]],
    rate: float,
    count: int,
    seconds: float,
    stop: threading.Event | None = None,
) -> SendReport:
    """Send up to ``count`` datagrams at ``rate``/s for at most ``seconds``.

    Paced by the clock (what should have gone by now), so a slow moment is made
    up for, bounded by the rate. ``rate`` 0 sends as fast as it can.
    """
    report = SendReport(f"{dest[0]}:{dest[1]}", rate, count, seconds)
    started = time.monotonic()
    deadline = started + seconds
    while report.sent + report.errors < count:
        now = time.monotonic()
        if now >= deadline or (stop is not None and stop.is_set()):
            break
        done = report.sent + report.errors
        due = count if rate <= 0 else min(count, int((now - started) * rate) + 1)
        if due <= done:
            time.sleep(min(0.002, deadline - now))
            continue
        for _ in range(min(BATCH, due - done)):
            category, data = next(stream)
            try:
                sock.sendto(data, dest)
            except OSError:
                report.errors += 1
                report.errors_by_category[category.value] += 1
                continue
            report.sent += 1
            report.bytes += len(data)
            report.by_category[category.value] += 1
    report.seconds = time.monotonic() - started
    return report
