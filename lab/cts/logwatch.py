"""CTS's LogWatcher (cts/CTS.py), over the nodes' ha-log files read as one log.

CTS marks a place in the log (``setwatch``), then ``look`` returns the first new
line matching any of its regexes, tailing the file until a timeout, and
``lookforall`` waits until every regex has matched a line (each regex once). The
lab has one ha-log per node instead of one syslog file for all: the watcher reads
each file from its mark, in polling order, and matches every complete line
against every regex still unmatched, as CTS does line by line.

Differences from CTS, all in the watcher's plumbing: the timeout is not truncated
to whole seconds (CTS's ``int(timeout)`` would turn the lab's 1.5 s DeadTime into
1 s), and the clock and the pause are injected so that unit tests never sleep.
CTS's ``+ 1`` second on every look is kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

POLL = 0.025  # CTS's look() sleeps 25 ms at the end of the file
LOOK_EXTRA = 1.0  # CTS: done = time.time() + timeout + 1


@dataclass
class LogLines:
    """New complete lines of several files, each file from its own offset."""

    files: dict[str, Path]
    offsets: dict[str, int] = field(default_factory=dict)
    partial: dict[str, bytes] = field(default_factory=dict)

    def mark_end(self) -> None:
        """Start from what each file holds now (CTS ``setwatch()``)."""
        for node, path in self.files.items():
            self.offsets[node] = _size(path)
            self.partial[node] = b""

    def read(self) -> list[tuple[str, str]]:
        """(node, line) for every line completed since the last read."""
        found: list[tuple[str, str]] = []
        for node, path in self.files.items():
            offset = self.offsets.get(node, 0)
            size = _size(path)
            if size < offset:  # truncated: CTS starts again from the beginning
                offset, self.partial[node] = 0, b""
            if size == offset:
                continue
            try:
                with path.open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read(size - offset)
            except OSError:
                continue
            self.offsets[node] = offset + len(chunk)
            *complete, rest = (self.partial.get(node, b"") + chunk).split(b"\n")
            self.partial[node] = rest
            found += [(node, line.decode(errors="replace")) for line in complete]
        return found


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class LogWatcher:
    """Watch the logs for lines matching ``regexes`` (CTS's LogWatcher)."""

    def __init__(
        self,
        files: dict[str, Path],
        regexes: list[str],
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        for regex in regexes:
            re.compile(regex)  # CTS: "Validate our arguments.  Better sooner than later"
        self.regexes = list(regexes)
        self.timeout = timeout
        self.unmatched: list[str] = []
        self.matched: list[tuple[str, str, float]] = []  # (node, line, when seen)
        self._lines = LogLines(dict(files))
        self._pending: list[tuple[str, str]] = []
        self._clock, self._pause = clock, pause

    def setwatch(self) -> None:
        self._lines.mark_end()
        self._pending = []

    def look(self, timeout: float | None = None, regexes: list[str] | None = None) -> str | None:
        """The first new line matching one of the regexes, or None at the timeout.

        A timeout of 0 (or less) reads to the end of the logs once and returns None
        there, as CTS's BadNews watch does."""
        wanted = self.regexes if regexes is None else regexes
        limit = self.timeout if timeout is None else timeout
        done = self._clock() + limit + LOOK_EXTRA
        while True:
            if not self._pending:
                self._pending = self._lines.read()
            while self._pending:
                node, line = self._pending.pop(0)
                for regex in wanted:
                    if re.search(regex, line):
                        self.matched.append((node, line, self._clock()))
                        self.last_regex = regex
                        return line
            if limit <= 0 or self._clock() > done:
                return None
            self._pause(POLL)

    def lookforall(self, timeout: float | None = None) -> list[str] | None:
        """Every regex matched (each by one line), or None with ``unmatched`` set.

        As in CTS the timeout applies to each look, not to the whole wait."""
        remaining = list(self.regexes)
        found: list[str] = []
        while remaining:
            line = self.look(timeout, remaining)
            if line is None:
                self.unmatched = remaining
                return None
            found.append(line)
            remaining.remove(self.last_regex)
        self.unmatched = []
        return found

    last_regex: str = ""
