"""The daemon's ``ld``: /proc/loadavg read at most once a second, on a file kept open."""

from __future__ import annotations

from pathlib import Path

from hbnode.loadavg import UNKNOWN, LoadAvg, read_loadavg


def test_a_reading_is_reused_for_a_second(tmp_path: Path) -> None:
    source = tmp_path / "loadavg"
    source.write_text("0.50 0.40 0.30 2/100 1234\n")
    clock = [10.0]
    load = LoadAvg(source, clock=lambda: clock[0])
    assert load() == "0.50 0.40 0.30 2/100 1234"
    source.write_text("0.90 0.40 0.30 3/100 1240\n")  # the same inode, rewritten
    clock[0] = 10.9
    assert load() == "0.50 0.40 0.30 2/100 1234"
    clock[0] = 11.0
    assert load() == "0.90 0.40 0.30 3/100 1240"  # read again from offset 0
    assert load.fd is not None
    load.close()
    assert load.fd is None


def test_no_file_says_unknown_and_tries_again(tmp_path: Path) -> None:
    clock = [0.0]
    load = LoadAvg(tmp_path / "missing", clock=lambda: clock[0])
    assert load() == UNKNOWN and load.fd is None
    (tmp_path / "missing").write_text("1.00 1.00 1.00 1/1 1\n")
    clock[0] = 1.0
    assert load() == "1.00 1.00 1.00 1/1 1"
    load.close()


def test_the_real_file_reads_like_read_loadavg() -> None:
    load = LoadAvg()
    assert len(load().split()) == len(read_loadavg().split()) == 5
    load.close()
