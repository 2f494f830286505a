"""Real packets of the running cluster, sniffed on the target's heartbeat interface.

Both directions are kept (a packet socket of ETH_P_ALL also sees what the node
sends), in arrival order: replaying them later tests the duplicate, out-of-window
and own-echo checks with packets of this very generation.
"""

from __future__ import annotations

import select
import time

from lab import netsock

HB_PORT = 694


def sniff_heartbeats(
    netns: str, iface: str, sources: set[str], seconds: float, limit: int = 2000
) -> list[bytes]:
    """UDP payloads to port 694 from ``sources`` (IPv4 addresses), for ``seconds``."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    sock = netsock.packet_socket(netns, iface)
    found: list[bytes] = []
    try:
        deadline = time.monotonic() + seconds
        while len(found) < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([sock], [], [], min(left, 0.2))
            if not ready:
                continue
            frame = Ether(sock.recv(65535))
            if UDP in frame and frame[UDP].dport == HB_PORT and frame[IP].src in sources:
                found.append(bytes(frame[UDP].payload))
    finally:
        sock.close()
    return found
