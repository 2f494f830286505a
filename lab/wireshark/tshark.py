"""Running tshark with the Heartbeat dissector: ``hblab dump --tshark``, field extraction.

tshark prints one JSON object per packet with ``-T ek -e FIELD…`` (a field's dots
become underscores there), which suits a file and a live pipe alike. The dump
builds the same :class:`lab.dumpfmt.HeartbeatRecord` as the scapy view, so

    diff <(hblab dump --read x.pcap) <(hblab dump --tshark --read x.pcap)

compares the two decoders line for line.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from lab import livecap
from lab.dumpfmt import HeartbeatRecord, load_keys, quiet_broken_pipe, write_records
from lab.errors import LabError
from lab.wireshark.plugin import PLUGIN, tshark_binary

if TYPE_CHECKING:
    from lab.labcore import LabBase

DUMP_FIELDS = (
    "frame.time_epoch",
    "ip.src",
    "udp.srcport",
    "ip.dst",
    "udp.dstport",
    "udp.length",
    "heartbeat.encoding",
    "heartbeat.t",
    "heartbeat.src",
    "heartbeat.seq.raw",
    "heartbeat.auth_ok",
    "heartbeat.auth_error",
    "heartbeat.malformed.reason",
)
# tshark's chatter on stderr that says nothing about this run.
_NOISE = (
    "Running as user",
    "Capturing on",
    "packets captured",
    "packet captured",
    "[Main MESSAGE]",
)
_TRUE = ("1", "True", "true")
STOP_TIMEOUT = 30.0  # tshark's time to finish the packets it holds after its input ends


def tshark_argv(authkeys: Path | None, *args: str) -> list[str]:
    """tshark with the dissector loaded and, given an authkeys file, signatures checked.

    The dissector is always named with ``-X lua_script``; when the installed plugin
    is loaded too, the second copy steps aside (see the top of heartbeat.lua).
    """
    argv = [tshark_binary(), "-n", "-X", f"lua_script:{PLUGIN}"]
    if authkeys is not None:
        argv += ["-o", f"heartbeat.authkeys:{authkeys.resolve()}"]
    return argv + list(args)


def field_args(fields: Iterable[str]) -> list[str]:
    return [arg for name in fields for arg in ("-e", name)]


def ek_key(field: str) -> str:
    """How ``-T ek`` names a field: ``heartbeat.seq.raw`` → ``heartbeat_seq_raw``."""
    return field.replace(".", "_")


def ek_layers(lines: Iterable[str]) -> Iterator[dict[str, list[Any]]]:
    """The ``layers`` object of every packet line of ``-T ek`` output (index lines skipped)."""
    for line in lines:
        if not line.startswith('{"timestamp"'):
            continue
        layers = json.loads(line).get("layers", {})
        yield {key: value if isinstance(value, list) else [value] for key, value in layers.items()}


def first(layers: dict[str, list[Any]], field: str) -> str | None:
    values = layers.get(ek_key(field))
    return None if not values else str(values[0])


def is_true(value: str | None) -> bool:
    return value in _TRUE


def record_of(layers: dict[str, list[Any]]) -> HeartbeatRecord:
    """The dump record of one packet as tshark decoded it (cf. lab.dump.record)."""
    auth_ok = first(layers, "heartbeat.auth_ok")
    auth = "unchecked" if auth_ok is None else ("ok" if is_true(auth_ok) else "bad")
    malformed = first(layers, "heartbeat.malformed.reason")
    rec = HeartbeatRecord(
        time=float(first(layers, "frame.time_epoch") or 0.0),
        ip_src=first(layers, "ip.src") or "-",
        sport=int(first(layers, "udp.srcport") or 0),
        ip_dst=first(layers, "ip.dst") or "-",
        dport=int(first(layers, "udp.dstport") or 0),
        # The scapy view shows nothing of a datagram that does not decode.
        t=None if malformed else first(layers, "heartbeat.t"),
        src=None if malformed else first(layers, "heartbeat.src"),
        seq=None if malformed else first(layers, "heartbeat.seq.raw"),
        auth=auth,
        size=max(0, int(first(layers, "udp.length") or 8) - 8),
    )
    if malformed:
        rec.reason = f"undecodable: {malformed}"
    else:
        rec.encoding = first(layers, "heartbeat.encoding")
        rec.reason = first(layers, "heartbeat.auth_error") if auth == "bad" else None
    return rec


class Tshark:
    """A running tshark: its stdout read line by line, its stderr kept (minus chatter)."""

    def __init__(self, argv: Sequence[str], stdin: int | None = None) -> None:
        # Bytes in (pcapng on stdin), text out: the pipes are wrapped by hand.
        self.proc = subprocess.Popen(
            list(argv), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._out = io.TextIOWrapper(self.proc.stdout, encoding="utf-8", errors="replace")
        self._err = io.TextIOWrapper(self.proc.stderr, encoding="utf-8", errors="replace")
        self.errors: list[str] = []
        # Drained on a thread so that a chatty stderr can never block tshark.
        self._drain = threading.Thread(target=self._read_errors, daemon=True)
        self._drain.start()

    def _read_errors(self) -> None:
        for line in self._err:
            text = line.strip()
            if text and not any(noise in text for noise in _NOISE) and text != "tshark:":
                self.errors.append(text)

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    def lines(self) -> Iterator[str]:
        yield from self._out

    def wait(self) -> int:
        """tshark's exit code, once it ends (killed after STOP_TIMEOUT)."""
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._drain.join(5.0)
        return code

    def failure(self, code: int) -> str:
        why = self.errors[0] if self.errors else "no message"
        return f"tshark failed with exit code {code}: {why}"

    def finish(self) -> int:
        """Wait for tshark; LabError if it failed."""
        code = self.wait()
        if code != 0:
            raise LabError(self.failure(code))
        return code

    def stop(self) -> None:
        """End tshark early (its reader left): terminate, wait, reap."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.wait()


def dump_file(
    path: Path, authkeys: Path | None, as_json: bool = False, out: TextIO | None = None
) -> int:
    """``hblab dump --tshark --read FILE``: the dump's lines, decoded by tshark."""
    load_keys(authkeys)  # the same one-line errors as the scapy view
    if not path.is_file():
        raise LabError(f"cannot read pcap {path}: no such file")
    argv = tshark_argv(authkeys, "-r", str(path), "-Y", "heartbeat", "-T", "ek")
    tshark = Tshark(argv + field_args(DUMP_FIELDS))
    if not _print_records(tshark, as_json, out or sys.stdout):
        tshark.stop()  # `hblab dump --tshark … | head`: the reader left
        return 0
    return tshark.finish()


def _print_records(tshark: Tshark, as_json: bool, out: TextIO) -> bool:
    """Print tshark's packets as dump lines; False when our own reader went away."""
    with quiet_broken_pipe():
        write_records((record_of(layers) for layers in ek_layers(tshark.lines())), as_json, out)
        return True
    return False


def dump_live(
    lab: LabBase,
    node: str,
    iface: str,
    authkeys: Path | None,
    as_json: bool = False,
    count: int | None = None,
    seconds: float | None = None,
    out: TextIO | None = None,
) -> int:
    """``hblab dump --tshark NODE IFACE``: the live link through ``tshark -i -``.

    The frames come from the same packet socket as ``capture --live`` (so both
    backends work) and only UDP 694 frames are passed on; ``count`` stops after
    that many of them, ``seconds`` after that long, Ctrl-C at once.
    """
    load_keys(authkeys)
    sources = livecap.open_sources(lab, [livecap.Tap(node, iface)])
    try:
        argv = tshark_argv(authkeys, "-i", "-", "-l", "-Y", "heartbeat", "-T", "ek")
        tshark = Tshark(argv + field_args(DUMP_FIELDS), stdin=subprocess.PIPE)
    except BaseException:
        livecap.close_sources(sources)
        raise

    def printer() -> None:
        if not _print_records(tshark, as_json, out or sys.stdout):
            tshark.stop()  # our writes to its stdin then fail, which ends the capture

    thread = threading.Thread(target=printer, name="tshark-printer", daemon=True)
    thread.start()
    try:
        result = livecap.capture(
            sources, tshark.stdin, seconds, keep=livecap.is_heartbeat_frame, max_packets=count
        )
    finally:
        livecap.close_sources(sources)
        with contextlib.suppress(OSError):
            tshark.stdin.close()  # end of input: tshark prints what it holds and exits
    interrupted = result.stopped_by in ("interrupt", "reader-gone")
    code = tshark.wait()
    thread.join(STOP_TIMEOUT)
    if code != 0 and not interrupted:
        raise LabError(tshark.failure(code))
    return 0
