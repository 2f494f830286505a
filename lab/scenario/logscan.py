"""After a run: CTS's BadNews in both cluster nodes' ha-log (lab.badnews), as the
integration tests' ``lab_factory`` scans them, but for the lines the file declares.

A scenario file declares the bad news its steps cause in ``expect_log:`` (a named
line of lab.badnews or a pattern, and why). The lab declares the rest itself, as
``lab_factory`` does: what the machine makes the real Heartbeat log whatever the
lab does (memory locking, real-time scheduling: read in /proc right after the lab
came up, while every node runs), and, where ``hblab link`` can only set the node's
interface down (a system Docker engine: no carrier to cut), the send errors of a
node whose cable a ``link`` step pulls.
"""

from __future__ import annotations

from lab import badnews
from lab.backends import Lab
from lab.scenario.model import Scenario, StepKind
from lab.scenario.result import Row, Section, Status

SHOWN = 10  # lines of unexpected bad news printed; the rest are counted


def declared(scenario: Scenario, lab: Lab) -> badnews.ExpectedLog:
    """The file's ``expect_log:`` and what this lab makes a node log: call right after
    the lab is up (a powered-off node's limits cannot be read)."""
    expected = badnews.ExpectedLog()
    for allowance in scenario.expect_log:
        expected(allowance.pattern, allowance.why, allowance.nodes)
    badnews.expect_machine_lines(lab, expected)
    cluster = {h.name for h in lab.topo.cluster_nodes}
    pulled = sorted(
        {
            s.args["node"]
            for s in scenario.steps
            if s.kind is StepKind.LINK and s.args["state"] == "down" and s.args["node"] in cluster
        }
    )
    if pulled and not lab.pulls_carrier:
        why = "hblab link sets the interface down on this engine (no carrier to cut)"
        expected(badnews.CABLE_PULLED, why, pulled)
    return expected


def scan_row(scenario: Scenario, lab: Lab, expected: badnews.ExpectedLog) -> Row:
    """One row: no bad news in ha-log but what ``expected`` explains."""
    line = scenario.expect_log[0].line if scenario.expect_log else scenario.lab.line
    what = "ha-log holds no bad news (CTS BadNews) but expect_log's"
    unexpected = badnews.scan(lab, expected)
    seen = len(badnews.scan(lab, badnews.ExpectedLog()))
    if not unexpected:
        return Row(Status.PASS, Section.LOG, line, what, f"{seen} declared line(s)")
    shown = unexpected[:SHOWN]
    if len(unexpected) > SHOWN:
        shown.append(f"… and {len(unexpected) - SHOWN} more")
    indent = "\n          "
    detail = f"{len(unexpected)} line(s) no expect_log entry explains:{indent}{indent.join(shown)}"
    hint = "declare a line the scenario causes in expect_log: with why (docs/scenarios.md)"
    return Row(Status.FAIL, Section.LOG, line, what, f"{len(unexpected)} unexpected", detail, hint)
