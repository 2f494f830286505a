"""State kept in /var/lib/heartbeat across restarts: the generation and the uuid.

Both files use Heartbeat's own formats, so hbnode and Heartbeat can take turns
on one node without a peer seeing the generation go backwards (which it would
drop as a replay until it restarts).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from hbnode.node import Persisted

STATE_DIR = Path("/var/lib/heartbeat")
GENERATION_FILE = "hb_generation"
UUID_FILE = "hb_uuid"
GENERATION_WIDTH = 16  # right-aligned decimal text, then a newline (hb_uuid.c)


class PersistError(OSError):
    pass


def next_generation(
    state_dir: Path = STATE_DIR, method: str = "file", clock: float | None = None
) -> int:
    """Increment, fsync and return the heartbeat generation (ha.cf `hbgenmethod`).

    A missing or unreadable file starts from time(NULL)+1, as Heartbeat does, which
    keeps the value above whatever a peer may remember for us.
    """
    now = int(clock if clock is not None else time.time())
    if method == "time":
        return now
    path = state_dir / GENERATION_FILE
    try:
        previous = int(path.read_text().strip())
        generation = previous + 1
    except (OSError, ValueError):
        generation = now + 1
    _write_synced(path, f"{generation:>{GENERATION_WIDTH}}\n".encode())
    return generation


def load_uuid(state_dir: Path = STATE_DIR) -> bytes:
    """Our node's 16-byte uuid (`srcuuid` on the wire), created once."""
    path = state_dir / UUID_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = b""
    if len(raw) == 16:
        return raw
    fresh = uuid.uuid4().bytes
    _write_synced(path, fresh)
    return fresh


def _write_synced(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise PersistError(exc.errno, f"cannot write {path}: {exc.strerror}") from exc


def load_persisted(hbgenmethod: str, state_dir: Path = STATE_DIR) -> Persisted:
    """What the node starts from: this run's generation (saved first) and our uuid."""
    return Persisted(next_generation(state_dir, method=hbgenmethod), load_uuid(state_dir))
