"""The local control socket: how cl_status, hb_standby and `hbnode status` ask the daemon.

One JSON request per connection, one JSON reply. Heartbeat's own API socket
(/run/heartbeat/register) speaks an IPC protocol of its own; hbnode keeps its
tools on a socket beside it instead (docs/differences.md).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

CONTROL_SOCKET = Path("/run/heartbeat/hbnode.ctl")
MAX_REQUEST = 64 * 1024


class ControlError(OSError):
    """The daemon cannot be reached, or it answered nonsense."""


def request(
    command: str, socket_path: Path = CONTROL_SOCKET, timeout: float = 5.0, **args: Any
) -> dict[str, Any]:
    """Send one command to the running daemon and return its reply."""
    payload = json.dumps({"cmd": command, **args}).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            for _ in range(1024):  # bounded: replies are small
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError as exc:
        raise ControlError(exc.errno, f"cannot reach hbnode at {socket_path}: {exc}") from exc
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise ControlError(0, f"bad reply from hbnode: {exc}") from exc
    if not isinstance(reply, dict):
        raise ControlError(0, "bad reply from hbnode: not an object")
    return reply


def parse_request_untrusted(data: bytes) -> dict[str, Any]:
    """Decode a request read from the socket; raises ValueError on anything odd."""
    if len(data) > MAX_REQUEST:
        raise ValueError("request too large")
    decoded = json.loads(data)
    if not isinstance(decoded, dict) or not isinstance(decoded.get("cmd"), str):
        raise ValueError("request must be an object with a string 'cmd'")
    return decoded
