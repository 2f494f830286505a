"""The soak's growth report: per-cycle daemon samples and the slope over the last half."""

from __future__ import annotations

import pytest

from lab.soak.growth import DaemonSample, growth_report, linear_fit, long_lived


def test_linear_fit_recovers_a_line_and_its_error() -> None:
    xs = [float(x) for x in range(10)]
    fit = linear_fit(xs, [3.0 + 2.0 * x for x in xs])
    assert fit is not None
    assert fit.slope == pytest.approx(2.0)
    assert fit.stderr == pytest.approx(0.0, abs=1e-9)
    assert fit.growth == pytest.approx(18.0)
    assert linear_fit([1.0, 2.0], [1.0, 2.0]) is None
    assert linear_fit([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None


def _samples(rss: list[int], pids: list[int] | None = None) -> list[dict[str, DaemonSample]]:
    pids = pids or [7] * len(rss)
    return [
        {"slave": DaemonSample(pid, value, 18, 3), "master": DaemonSample(100 + i, 40000, 19, 3)}
        for i, (pid, value) in enumerate(zip(pids, rss, strict=True))
    ]


def test_a_daemon_that_levels_off() -> None:
    # grows while warming up, then noise around a plateau
    rss = [45000 + 40 * i for i in range(50)] + [47000 + (i % 3) * 8 for i in range(50)]
    report = growth_report(_samples(rss))
    slave = report["slave"]
    assert slave["cycles_same_pid"] == 100
    assert slave["rss_kib"]["first"] == 45000 and slave["rss_kib"]["last"] == 47008
    assert slave["rss_kib"]["levels_off"] is True
    assert slave["fds"]["levels_off"] is True
    # master is powered off every cycle: a new daemon each time, nothing to fit
    assert report["master"] == {"cycles_same_pid": 1}


def test_a_daemon_that_keeps_growing() -> None:
    rss = [45000 + 18 * i for i in range(200)]  # 45.7 -> 49.3 MB, as the last soak saw
    slave = growth_report(_samples(rss))["slave"]
    assert slave["rss_kib"]["levels_off"] is False
    assert slave["rss_kib"]["fit"]["slope_per_cycle"] == pytest.approx(18.0)


def test_only_the_cycles_of_the_last_pid_count() -> None:
    samples = _samples([1, 2, 3, 4], pids=[1, 1, 2, 2])
    assert [c for c, _ in long_lived(samples, "slave")] == [3, 4]
    assert long_lived(samples, "nobody") == []
