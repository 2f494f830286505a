"""The bench table, BENCHMARKS.md and the targets, rendered from made-up results (pure)."""

from __future__ import annotations

from lab.bench import markdown, table, targets
from lab.bench.metrics import Metric
from lab.bench.model import BenchResult, Machine, RunResult

MACHINE = Machine("AMD EPYC", 2, "6.18.0", "3.11.2")
TIMERS = {"keepalive": 0.25, "deadtime": 1.5, "warntime": 0.75, "initdead": 3.0}


def run(impl: str, scenario: str, n: int, error: str | None = None, **figures: float) -> RunResult:
    return RunResult(impl, scenario, n, {f"{k}_s": v for k, v in figures.items()}, error)


def sample() -> BenchResult:
    result = BenchResult(
        MACHINE,
        "2026-01-01 00:00 UTC",
        "fast",
        3,
        ["heartbeat", "hbnode"],
        ["poweroff", "stop"],
        TIMERS,
    )
    result.results = [
        run("heartbeat", "poweroff", 1, outage=3.5, two_holders=0.0),
        run("heartbeat", "poweroff", 2, outage=3.0, two_holders=0.0),
        run("heartbeat", "poweroff", 3, outage=4.0, two_holders=0.0),
        run("hbnode", "poweroff", 1, outage=1.9, two_holders=0.0),
        run("hbnode", "poweroff", 2, outage=2.0, two_holders=0.0),
        run("hbnode", "poweroff", 3, error="not within 30 s: end state of poweroff"),
        run("heartbeat", "stop", 1, outage=1.3, two_holders=0.0),
        run("hbnode", "stop", 1, outage=0.2, two_holders=0.0),
    ]
    return result


def test_rows_skip_figures_no_run_produced_and_compute_ratios() -> None:
    rows = {(r.scenario, r.metric): r for r in table.rows(sample())}
    assert set(rows) == {
        ("poweroff", Metric.OUTAGE),
        ("poweroff", Metric.TWO_HOLDERS),
        ("stop", Metric.OUTAGE),
        ("stop", Metric.TWO_HOLDERS),
    }
    outage = rows[("poweroff", Metric.OUTAGE)]
    assert outage.cells["heartbeat"] is not None and outage.cells["heartbeat"].median == 3.5
    assert outage.cells["hbnode"] is not None and outage.cells["hbnode"].n == 2  # failed run out
    assert outage.ratio is not None and abs(outage.ratio - 1.95 / 3.5) < 1e-9
    assert rows[("poweroff", Metric.TWO_HOLDERS)].ratio is None  # 0 / 0


def test_text_table_shows_median_range_count_ratio_and_failures() -> None:
    text = table.render_text(sample())
    lines = text.splitlines()
    assert lines[0].split() == ["scenario", "figure", "heartbeat", "hbnode", "hbnode/heartbeat"]
    poweroff = next(line for line in lines if line.startswith("poweroff  HTTP outage"))
    assert "3.500 (3.000–4.000)" in poweroff
    assert "1.950 (1.900–2.000) n=2" in poweroff
    assert poweroff.rstrip().endswith("0.56")
    assert "hbnode poweroff run 3: not within 30 s: end state of poweroff" in text


def test_markdown_table_has_one_row_per_figure() -> None:
    md = table.render_markdown(sample()).splitlines()
    assert md[0] == "| scenario | figure | heartbeat | hbnode | hbnode/heartbeat |"
    assert md[1] == "|---|---|---|---|---|"
    assert len(md) == 2 + 4


def test_single_implementation_has_no_ratio_column() -> None:
    result = sample()
    result.impls = ["heartbeat"]
    assert table.grid(result)[0] == ["scenario", "figure", "heartbeat"]


def test_targets_poweroff_ratio_and_stop_bound() -> None:
    verdicts = {v.target.split(":")[0]: v for v in targets.check(sample())}
    poweroff = verdicts["poweroff"]
    # (1.95 - 1.5) / (3.5 - 1.5) = 0.225 <= 0.3
    assert poweroff.met is True and poweroff.measured.startswith("0.450 s vs 2.000 s")
    assert verdicts["stop"].met is True
    assert verdicts["failback"].met is None and verdicts["heal"].met is None


def test_benchmarks_md_names_the_machine_the_command_and_the_method() -> None:
    text = markdown.render(sample(), "hblab bench --runs 3")
    assert "AMD EPYC, 2 cores, Linux 6.18.0" in text
    assert "`hblab bench --runs 3`" in text
    assert "| poweroff | HTTP outage (s) | 3.500 (3.000–4.000) |" in text
    assert "## How each figure is measured" in text and "smaps_rollup" in text
    assert "- poweroff: (outage − deadtime) of hbnode ≤ 0.3 × that of heartbeat: met" in text
