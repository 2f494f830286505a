"""Median, min and max of a figure over runs, and the hbnode/heartbeat ratio (pure)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Summary:
    n: int
    median: float
    minimum: float
    maximum: float


def summarize(values: Iterable[float | None]) -> Summary | None:
    """Summary of the values that exist; None when no run produced the figure."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return Summary(len(present), statistics.median(present), min(present), max(present))


def ratio(numerator: Summary | None, denominator: Summary | None) -> float | None:
    """median/median; None when either is missing or the denominator is zero.

    A zero denominator has no meaningful ratio (0 s of two holders vs 0 s): the
    table shows both medians instead.
    """
    if numerator is None or denominator is None or denominator.median == 0:
        return None
    return numerator.median / denominator.median
