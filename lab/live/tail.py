"""Follow a log file from a poller: the whole file first, then what is appended.

Like lab.bench.watchers.LogTail, but for a view that lives as long as the lab and
longer: a file that shrinks or is replaced (the lab went down and came up again)
is read again from its start.
"""

from __future__ import annotations

import os
from pathlib import Path

CHUNK = 1 << 20  # read at most this much per poll: a huge old log is taken in steps


class Follow:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.partial = b""

    def new_lines(self) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                info = os.fstat(handle.fileno())
                if info.st_ino != self.inode or info.st_size < self.offset:
                    self.inode, self.offset, self.partial = info.st_ino, 0, b""
                if info.st_size == self.offset:
                    return []
                handle.seek(self.offset)
                chunk = handle.read(CHUNK)
        except OSError:
            return []
        self.offset += len(chunk)
        *complete, self.partial = (self.partial + chunk).split(b"\n")
        return [line.decode(errors="replace") for line in complete]
