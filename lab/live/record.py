"""`hblab web --record FILE` and `--replay FILE`: the snapshot stream on disk.

A recording is JSON lines, gzip-compressed when the name ends in ``.gz``: first
the view's hello (the drawing), then one snapshot per line as the views got it.
A :class:`Replay` plays a recording back with its own timing, behind the same
interface as lab.live.collector.LiveModel, so both views show it unchanged. It
needs neither root nor a lab.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from lab.errors import LabError
from lab.live.model import FORMAT

Subscriber = Callable[[dict[str, Any]], None]
MAX_SECONDS = 12 * 3600.0
END_PAUSE = 3.0  # with --loop: the last picture stays this long before it starts again


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return path.open(mode, encoding="utf-8")


class Recorder:
    """Write the hello, then every snapshot handed to it (a model subscriber)."""

    def __init__(self, path: Path, hello: dict[str, Any]) -> None:
        self.path = path
        self._file = _open(path, "w")
        self._lock = threading.Lock()
        self.count = 0
        self._file.write(json.dumps({**hello, "recorded": time.time()}) + "\n")

    def __call__(self, snapshot: dict[str, Any]) -> None:
        with self._lock:
            if self._file.closed:
                return
            self._file.write(json.dumps(snapshot, separators=(",", ":")) + "\n")
            self.count += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()


def load(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The hello and the snapshots of a recording; a LabError names what is wrong."""
    try:
        with _open(path, "r") as handle:
            lines = [line for line in handle if line.strip()]
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise LabError(f"cannot read the recording {path}: {exc}") from None
    try:
        hello, *snapshots = (json.loads(line) for line in lines)
    except (ValueError, TypeError):
        raise LabError(f"{path}: not a recording of hblab web (bad JSON)") from None
    if not isinstance(hello, dict) or hello.get("format") != FORMAT or not snapshots:
        raise LabError(f"{path}: not a recording of hblab web (format {FORMAT})")
    return hello, snapshots


class Replay:
    """A recording played back as if it were live (LiveModel's interface)."""

    def __init__(
        self, path: Path, speed: float = 1.0, loop: bool = False, max_seconds: float = MAX_SECONDS
    ) -> None:
        self.path = path
        recorded, self.snapshots = load(path)
        self._hello = {**recorded, "mode": "replay", "controls": False, "source": path.name}
        self.speed, self.loop, self.max_seconds = speed, loop, max_seconds
        self.latest: dict[str, Any] | None = None
        self.position = 0
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hello(self) -> dict[str, Any]:
        return self._hello

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._subscribers.remove(subscriber)

        return unsubscribe

    def note(self, text: str) -> None:
        """Nothing happens in a replay: the page's buttons are off."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="live-replay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._play_once(deadline)
            if not self.loop or self._stop.wait(END_PAUSE):
                return

    def _play_once(self, deadline: float) -> None:
        first_t = float(self.snapshots[0]["t"])
        started = time.monotonic()
        for index, snapshot in enumerate(self.snapshots):
            due = started + (float(snapshot["t"]) - first_t) / self.speed
            if self._stop.wait(max(0.0, due - time.monotonic())) or time.monotonic() > deadline:
                return
            self.position = index
            data = {**snapshot, "lab": "replay", "replay": [index + 1, len(self.snapshots)]}
            self.latest = data
            with self._lock:
                subscribers = list(self._subscribers)
            for subscriber in subscribers:
                with contextlib.suppress(Exception):
                    subscriber(data)
