"""Statistics, targets and the /proc parsers of the bench (pure)."""

from __future__ import annotations

import pytest

from lab.bench.idle import cpu_share, cpu_ticks, pss_kib
from lab.bench.machine import cpu_model
from lab.bench.stats import Summary, ratio, summarize


def test_summarize_ignores_missing_values() -> None:
    assert summarize([3.0, None, 1.0, 2.0]) == Summary(3, 2.0, 1.0, 3.0)


def test_summarize_even_count_takes_the_middle_mean() -> None:
    assert summarize([4.0, 1.0, 2.0, 3.0]) == Summary(4, 2.5, 1.0, 4.0)


def test_summarize_nothing_is_none() -> None:
    assert summarize([]) is None
    assert summarize([None, None]) is None


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        (Summary(1, 0.5, 0.5, 0.5), Summary(1, 2.0, 2.0, 2.0), 0.25),
        (Summary(1, 0.5, 0.5, 0.5), Summary(1, 0.0, 0.0, 0.0), None),  # no ratio to zero
        (None, Summary(1, 2.0, 2.0, 2.0), None),
        (Summary(1, 0.5, 0.5, 0.5), None, None),
    ],
)
def test_ratio(ours: Summary | None, theirs: Summary | None, expected: float | None) -> None:
    assert ratio(ours, theirs) == expected


# A real /proc/PID/stat line; the command name has a space and a parenthesis in it.
STAT = (
    "117 (heartbeat: mas) S 1 116 116 0 -1 4194624 2000 300 0 0 "
    "25 17 3 4 -2 0 1 0 500 30000000 2900 18446744073709551615 "
    "1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0"
)


def test_cpu_ticks_sums_utime_stime_cutime_cstime() -> None:
    assert cpu_ticks(STAT) == 25 + 17 + 3 + 4
    odd = STAT.replace("(heartbeat: mas)", "(a) b (c)")
    assert cpu_ticks(odd) == 49


def test_pss_from_smaps_rollup() -> None:
    rollup = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss: 9000 kB\nPss: 4321 kB\n"
    assert pss_kib(rollup) == 4321
    assert pss_kib("Rss: 1 kB\n") == 0


def test_cpu_share_counts_new_processes_from_zero() -> None:
    import os

    tck = os.sysconf("SC_CLK_TCK")
    first = {10: 100, 11: 50}
    last = {10: 100 + tck, 11: 50, 12: tck}  # 12 appeared during the window (respawned)
    assert cpu_share(first, last, 10.0) == pytest.approx(20.0)
    assert cpu_share(first, last, 0.0) == 0.0


def test_cpu_model_from_cpuinfo() -> None:
    info = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n"
    assert cpu_model(info) == "AMD EPYC 7B13"
    assert cpu_model("") == "unknown CPU"
