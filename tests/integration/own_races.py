"""The real Heartbeat's own failures, and the one rerun a lab test gets for them.

Two of them, both findings of this project about Heartbeat 3.0.6 itself:

- **The FIFO race.** Heartbeat's resource scripts send their cluster messages through
  the node's FIFO with shellfuncs' ``ha_clustermsg``, which can hand the message to
  the FIFO in pieces, and the daemon's own children write the same FIFO. The reader
  drops a message cut off by its 1 s alarm (``msg2string: Message with zero fields``)
  and both of two messages that interleave (``NV failure (msgfromsteam): [>>>``):
  lab.badnews.HEARTBEAT_FIFO_LOSS, docs/heartbeat-in-the-lab.md. When the message was
  mach_down's ``t=resource`` Heartbeat never hears its takeover finish: a later restart
  waits forever on "Shutdown delayed until current resource activity finishes", and
  the test fails on the real Heartbeat's own bug, which a loaded machine makes likelier.
  Only a node's own processes write its FIFO, so this earns the rerun in any pairing.
- **The restart hang.** A real Heartbeat node's restart after a heal that crosses an
  ipfail standby exchange can end in ``CRIT: Emergency Shutdown`` and never come back
  (RELIABILITY.md, the CTS finding). Only a cluster of two real Heartbeat nodes earns
  the rerun for it: where hbnode takes part, hbnode may be what made its peer hang.

A lab test that failed while a real Heartbeat node of its lab logged either runs once
more on a fresh lab, and that run decides. The rerun is named in the report (a
``heartbeat_race_rerun`` property in the JUnit XML, counted by
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
HEARTBEAT_HANG = "CRIT: Emergency Shutdown"
OWN_FAILURE = pytest.StashKey[list[str]]()  # why a failed run's lab earns the rerun
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


def nodes_hung_in_restart(lab: Lab) -> list[str]:
    """The nodes of ``lab`` that hung in their own restart, when every cluster node of
    it is a real Heartbeat; none where hbnode takes part."""
    if any(lab.record(h.name).impl != Impl.HEARTBEAT.value for h in lab.topo.cluster_nodes):
        return []
    return heartbeat_nodes_logging(lab, re.compile(re.escape(HEARTBEAT_HANG)))


def own_failures(lab: Lab) -> list[str]:
    """What in ``lab`` was the real Heartbeat's own failure, one phrase per kind; empty
    when nothing was."""
    why = []
    lost = nodes_with_fifo_loss(lab)
    if lost:
        why.append(
            f"the real Heartbeat on {', '.join(lost)} lost a message in its FIFO "
            "(lab.badnews.HEARTBEAT_FIFO_LOSS)"
        )
    hung = nodes_hung_in_restart(lab)
    if hung:
        why.append(
            f"the real Heartbeat on {', '.join(hung)} hung in its restart ({HEARTBEAT_HANG})"
        )
    return why


def note_failed_lab(item: pytest.Item, lab: Lab) -> None:
    """Call on a failed test's lab before it goes down."""
    why = own_failures(lab)
    if why:
        item.stash[OWN_FAILURE] = item.stash.get(OWN_FAILURE, []) + why


def run_with_one_rerun(item: pytest.Item, nextitem: pytest.Item | None) -> bool:
    """pytest_runtest_protocol for a lab test: as pytest runs it, except that a failed
    call with one of the real Heartbeat's own failures in its lab runs once more."""
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    own = item.stash.get(OWN_FAILURE, [])
    failed_call = [r for r in reports if r.when == "call" and r.failed]
    setup_ok = all(r.passed for r in reports if r.when == "setup")
    if failed_call and own and setup_ok:
        first = failed_call[0].longreprtext
        del item.stash[OWN_FAILURE]
        # runtestprotocol gives a rerun item fresh function-scoped fixtures (a new lab).
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        why = (
            f"{'; '.join(dict.fromkeys(own))}, and the test failed: this is its second run, "
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
