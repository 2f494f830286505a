"""What a dump shows of a packet, and how: shared by the scapy view and the tshark view.

Kept apart from :mod:`lab.dump` so that ``hblab dump --tshark`` needs no scapy.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from lab.errors import LabError
from lab.hbcodec import AuthkeysError, Keyring, load_authkeys


@dataclass(slots=True)
class HeartbeatRecord:
    """What a dump shows of one packet; ``asdict`` of it is the ``--json`` object."""

    time: float  # seconds since the epoch (capture or receive time)
    ip_src: str
    sport: int
    ip_dst: str
    dport: int
    t: str | None
    src: str | None
    seq: str | None
    auth: str  # ok | bad | unchecked
    reason: str | None = None  # why auth=bad, or why the payload did not decode
    encoding: str | None = None
    size: int = 0
    fields: list[tuple[str, Any]] = field(default_factory=list)


def load_keys(path: Path | None) -> Keyring | None:
    """The authkeys to verify with, or None.

    Read by the lab's own reader, which has no mode-600 rule: that rule protects
    a running node, while a dump often reads a copy taken out of the lab.
    """
    if path is None:
        return None
    try:
        return load_authkeys(path)
    except OSError as exc:
        raise LabError(f"cannot read {path}: {exc.strerror}") from exc
    except AuthkeysError as exc:
        raise LabError(str(exc)) from exc


def format_line(rec: HeartbeatRecord) -> str:
    """``TIME SRC:PORT→DST:PORT t= src= seq= auth=`` (``-`` for an absent field)."""
    stamp = datetime.fromtimestamp(rec.time).strftime("%H:%M:%S.%f")
    line = (
        f"{stamp} {rec.ip_src}:{rec.sport}→{rec.ip_dst}:{rec.dport}"
        f" t={rec.t or '-'} src={rec.src or '-'} seq={rec.seq or '-'} auth={rec.auth}"
    )
    return f"{line} ({rec.reason})" if rec.reason else line


def format_json(rec: HeartbeatRecord) -> str:
    """One JSON object per line (``t``, ``src``, ``seq``, ``auth``, ``time``, ``ip_*``…)."""
    return json.dumps(asdict(rec), ensure_ascii=False)


def write_records(recs: Iterable[HeartbeatRecord], as_json: bool, out: TextIO) -> int:
    """Print each record as it comes (live dumps must not buffer); returns the count."""
    count = 0
    for rec in recs:
        out.write((format_json(rec) if as_json else format_line(rec)) + "\n")
        out.flush()
        count += 1
    return count


@contextlib.contextmanager
def quiet_broken_pipe() -> Iterator[None]:
    """``hblab dump … | head`` is normal use: a closed reader ends the dump quietly."""
    try:
        yield
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
