"""CTS's BadNews for the lab tests: the patterns, the ``expect_log`` declarations and
the scan live in lab/badnews.py, shared with ``hblab run`` (scenario files declare
their lines with ``expect_log:``); the tests import them from here as before."""

from lab.badnews import (
    BAD_NEWS,
    BOTH_OWN,
    CABLE_PULLED,
    LATE_AFTER_HEAL,
    MEMLOCK_LINE,
    NAMED,
    PARTITION_RETURN,
    PATTERNS,
    REALTIME_LINE,
    REJECTED_PACKET,
    Expectation,
    ExpectedLog,
    bad_news,
    expect_machine_lines,
    scan,
    shutdone_standby_race,
)

__all__ = [
    "BAD_NEWS",
    "BOTH_OWN",
    "CABLE_PULLED",
    "LATE_AFTER_HEAL",
    "MEMLOCK_LINE",
    "NAMED",
    "PARTITION_RETURN",
    "PATTERNS",
    "REALTIME_LINE",
    "REJECTED_PACKET",
    "Expectation",
    "ExpectedLog",
    "bad_news",
    "expect_machine_lines",
    "scan",
    "shutdone_standby_race",
]
