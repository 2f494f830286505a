"""LogTail dates a line no earlier than its write, however late the read comes."""

from __future__ import annotations

import time
from pathlib import Path

from lab.bench.watchers import LogTail


def test_a_line_written_after_the_round_began_is_stamped_after_its_write(
    tmp_path: Path,
) -> None:
    tail = LogTail({"slave": tmp_path})
    round_began = time.monotonic()
    (tmp_path / "ha-log").write_text("ERROR: netstring authentication failed\n")
    written = time.monotonic()

    tail.poll(round_began)  # the round's time, taken before the line existed

    [(stamp, node, line)] = tail.lines
    assert node == "slave" and "authentication failed" in line
    assert stamp >= written


def test_lines_already_there_are_stamped_no_earlier_than_the_round(tmp_path: Path) -> None:
    (tmp_path / "ha-log").write_text("one\ntwo\npart")
    tail = LogTail({"master": tmp_path})
    later = time.monotonic() + 3600.0  # a round stamped in the future keeps its time

    tail.poll(later)

    assert [(t, line) for t, _, line in tail.lines] == [(later, "one"), (later, "two")]
