"""The real Heartbeat's own FIFO race, and the one rerun a lab test gets for it.

Heartbeat's resource scripts send their cluster messages through the node's FIFO with
shellfuncs' ``ha_clustermsg``, which can hand the message to the FIFO in pieces, and
the daemon's own children write the same FIFO. The reader drops a message cut off by
its 1 s alarm (``msg2string: Message with zero fields``) and both of two messages
that interleave (``NV failure (msgfromsteam): [>>>``): lab.badnews.HEARTBEAT_FIFO_LOSS,
docs/heartbeat-in-the-lab.md. When the message was mach_down's ``t=resource``
Heartbeat never hears its takeover finish: a later restart waits forever on "Shutdown
delayed until current resource activity finishes", and the test fails on the real
Heartbeat's own bug, which a loaded machine makes likelier.

A lab test that failed while a real Heartbeat node of its lab logged that line runs
once more on a fresh lab, and that run decides. The rerun is named in the report
(a ``heartbeat_race_rerun`` property in the JUnit XML, counted by
scripts/check_no_skips.py, and the first run's failure as a section of the second's).
pytest-rerunfailures is not used: it reruns on the failure's own message, and this
condition is the lab's evidence, read before the lab goes down.
"""

from __future__ import annotations

import re

import pytest
from _pytest.runner import runtestprotocol

from lab.backends import Lab
from lab.badnews import HEARTBEAT_FIFO_LOSS
from lab.impls import Impl

from .helpers import node_log

FIFO_LOSS = re.compile(HEARTBEAT_FIFO_LOSS)
FIFO_LOST = pytest.StashKey[list[str]]()  # the nodes that logged the race, in a failed run
CRASH_CHARS = 400
RERUN_PROPERTY = "heartbeat_race_rerun"  # scripts/check_no_skips.py counts it


def heartbeat_nodes_logging(lab: Lab, pattern: re.Pattern[str]) -> list[str]:
    """The real Heartbeat nodes of ``lab`` whose ha-log matches ``pattern``."""
    return [
        host.name
        for host in lab.topo.cluster_nodes
        if lab.record(host.name).impl == Impl.HEARTBEAT.value
        and pattern.search(node_log(lab, host.name))
    ]


def nodes_with_fifo_loss(lab: Lab) -> list[str]:
    """The real Heartbeat nodes of ``lab`` whose ha-log shows a message lost in the FIFO."""
    return heartbeat_nodes_logging(lab, FIFO_LOSS)


def note_failed_lab(item: pytest.Item, lab: Lab) -> None:
    """Call on a failed test's lab before it goes down."""
    lost = nodes_with_fifo_loss(lab)
    if lost:
        item.stash[FIFO_LOST] = item.stash.get(FIFO_LOST, []) + lost


def run_with_one_rerun(item: pytest.Item, nextitem: pytest.Item | None) -> bool:
    """pytest_runtest_protocol for a lab test: as pytest runs it, except that a failed
    call with the real Heartbeat's FIFO race in its lab runs once more."""
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    lost = item.stash.get(FIFO_LOST, [])
    failed_call = [r for r in reports if r.when == "call" and r.failed]
    setup_ok = all(r.passed for r in reports if r.when == "setup")
    if failed_call and lost and setup_ok:
        first = failed_call[0].longreprtext
        del item.stash[FIFO_LOST]
        # runtestprotocol gives a rerun item fresh function-scoped fixtures (a new lab).
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        why = (
            f"the real Heartbeat on {', '.join(sorted(set(lost)))} lost a message in its FIFO "
            "(lab.badnews.HEARTBEAT_FIFO_LOSS) and the test failed: this is its second run, "
            f"on a fresh lab; the first ended with: {_crash_line(failed_call[0])}"
        )
        item.user_properties.append((RERUN_PROPERTY, why))
        for report in reports:
            report.user_properties = list(item.user_properties)
            if report.when == "call":
                report.sections.append((f"first run ({why})", first))
    for report in reports:
        ihook.pytest_runtest_logreport(report=report)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def _crash_line(report: pytest.TestReport) -> str:
    """The first run's failure in one line: CI prints the property, not the sections."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None) or report.longreprtext.strip().splitlines()[-1:]
    text = message if isinstance(message, str) else " ".join(message)
    return " ".join(text.split())[:CRASH_CHARS]
