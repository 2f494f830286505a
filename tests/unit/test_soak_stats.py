"""The soak's outage distribution and failure runs (pure)."""

from __future__ import annotations

import pytest

from lab.soak.stats import Distribution, distribution, failure_runs, percentile


def test_percentile_is_nearest_rank_on_measured_values() -> None:
    values = [float(v) for v in range(1, 201)]  # 200 cycles: 1 … 200
    assert percentile(values, 50) == 100.0
    assert percentile(values, 90) == 180.0
    assert percentile(values, 99) == 198.0
    assert percentile(values, 100) == 200.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_raises() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


def test_distribution_ignores_missing_values_and_sorts() -> None:
    spread = distribution([3.0, None, 1.0, 2.0, 10.0])
    assert spread == Distribution(
        n=4, minimum=1.0, median=2.5, p90=10.0, p99=10.0, maximum=10.0, total=16.0
    )
    assert distribution([None, None]) is None
    assert distribution([]) is None


def test_distribution_json_rounds() -> None:
    spread = distribution([0.123456, 0.2])
    assert spread is not None
    assert spread.to_json()["minimum"] == 0.1235
    assert spread.to_json()["n"] == 2


def test_failure_runs_first_failure_to_next_success() -> None:
    samples = [(0.0, True), (0.1, False), (0.2, False), (0.5, True), (0.6, False), (0.7, True)]
    assert failure_runs(samples, end=1.0) == pytest.approx([0.4, 0.1])


def test_failure_run_still_failing_counts_to_the_end() -> None:
    assert failure_runs([(0.0, True), (0.5, False), (0.6, False)], end=2.0) == [1.5]


def test_no_failure_no_run() -> None:
    assert failure_runs([(0.0, True), (0.1, True)], end=1.0) == []
    assert failure_runs([], end=1.0) == []
