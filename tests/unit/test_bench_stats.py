"""Statistics, targets and the /proc parsers of the bench (pure)."""

from __future__ import annotations

import pytest

from lab.bench.idle import (
    ProcSample,
    child_ticks,
    cpu_share,
    cpu_ticks,
    process_label,
    pss_kib,
    schedstat_ns,
    slice_result,
)
from lab.bench.idletable import per_process, render_markdown
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


def test_child_ticks_are_cutime_and_cstime() -> None:
    assert child_ticks(STAT) == 3 + 4


def test_schedstat_first_field_is_ns_on_cpu() -> None:
    assert schedstat_ns("123456789 5000 42\n") == 123456789


def test_cpu_share_counts_new_processes_from_zero() -> None:
    second = 1_000_000_000
    first = {10: 100, 11: 50}
    last = {10: 100 + second, 11: 50, 12: second}  # 12 appeared during the window (respawned)
    assert cpu_share(first, last, 10.0) == pytest.approx(20.0)
    assert cpu_share(first, last, 0.0) == 0.0


@pytest.mark.parametrize(
    ("cmdline", "label"),
    [
        (b"heartbeat: master control process\0", "master control process"),
        (b"heartbeat: write: ucast eth1\0\0", "write: ucast eth1"),
        (b"/usr/lib64/heartbeat/ipfail\0", "ipfail"),
        (b"/usr/bin/python3\0-m\0hbnode\0start\0", "hbnode"),
        (b"/usr/bin/python3\0-I\0-S\0/src/hbnode/tools/ipfail.py\0--user\0x\0", "ipfail"),
        (b"/usr/sbin/other\0arg\0", "other"),
        (b"", "?"),
    ],
)
def test_process_label(cmdline: bytes, label: str) -> None:
    assert process_label(cmdline) == label


def test_slice_result_has_each_process_and_the_count() -> None:
    second = 1_000_000_000
    first = {1: ProcSample("hbnode", 0, 9000), 2: ProcSample("ipfail", 0, 3000)}
    last = {1: ProcSample("hbnode", second // 10, 9000), 2: ProcSample("ipfail", 0, 3000)}
    result = slice_result("hbnode", "master", 1, first, last, [12000, 11000, 12000], 10.0)
    assert result.ok
    assert result.metrics == {"cpu_pct": 1.0, "pss_kib": 12000.0, "processes": 2.0}
    assert result.notes["processes"] == [
        {"label": "hbnode", "cpu_pct": 1.0, "pss_kib": 9000},
        {"label": "ipfail", "cpu_pct": 0.0, "pss_kib": 3000},
    ]
    gone = slice_result("hbnode", "slave", 1, {}, {}, [0], 10.0)
    assert gone.error == "no slave daemon processes found"


def test_per_process_table() -> None:
    from lab.bench.model import BenchResult, Machine

    bench = BenchResult(Machine("cpu", 2, "6.1", "3.11"), "now", "fast", 0, ["hbnode"], [], {})
    for node, cpu in (("master", 0.2), ("slave", 0.4)):
        last = {1: ProcSample("hbnode", int(cpu * 1e8), 10240)}  # cpu % over 10 s
        bench.results.append(slice_result("hbnode", node, 1, {}, last, [10240], 10.0))
    assert per_process(bench) == {"hbnode": {"hbnode": ([0.2, 0.4], [10240.0, 10240.0])}}
    assert "| hbnode | hbnode | 0.300 (0.200–0.400) | 10.0 |" in render_markdown(bench)


def test_cpu_model_from_cpuinfo() -> None:
    info = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n"
    assert cpu_model(info) == "AMD EPYC 7B13"
    assert cpu_model("") == "unknown CPU"
