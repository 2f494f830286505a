"""CTS's BadNews for the lab: lines no scenario may leave in a node's ha-log unless it
names them.

Heartbeat's cluster test suite (CTS) watches every node's log while a test runs and
counts each line matching its BadNews patterns as a failure. The lab does the same
after every scenario: the integration tests' ``lab_factory`` (tests/integration/
conftest.py) and ``hblab run`` (lab.scenario.logscan) scan both cluster nodes' ha-log
(each lab is new, so the whole log is what the scenario wrote) before the lab goes
down. A pytest test declares the lines its scenario causes with the ``expect_log``
fixture, a scenario file with its ``expect_log:`` list, naming why; a line the
machine or the implementation causes whatever the lab does (the real
Heartbeat's ``Cannot lock ourselves into memory`` where root may not lift
RLIMIT_MEMLOCK, lab.memlock; either implementation's ``Unable to set scheduler
parameters`` where a container gets no real-time budget, lab.rtsched; the real
Heartbeat's own FIFO race) is declared by the fixture itself, from what the node's
init may do, read in /proc, and which implementation it runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lab import memlock, rtsched
from lab.backends import Lab
from lab.impls import Impl

PATTERNS = (
    r"ERROR:",
    r"CRIT.*:",
    r"Both machines own .* resources!",
    r"No one owns .* resources!",
    r"Shutting down\.",
    r", exiting\.",
)
BAD_NEWS = re.compile("|".join(f"(?:{p})" for p in PATTERNS))
MEMLOCK_LINE = r"ERROR: Cannot lock ourselves into memory"
REALTIME_LINE = r"ERROR: Unable to set scheduler parameters\."
# What either implementation logs for a datagram it rejects (forged, fuzzed, wrong key):
# hbnode's one line per reason, Heartbeat's line and its dump of the message's fields.
REJECTED_PACKET = (
    r"ERROR: (netstring authentication failed|authtoken does not match|bad packet from"
    r"|MSG(\[\d+\])? ?:)"
)
# The real Heartbeat's send failures while a node's cable is out, where hblab link can
# only set the interface down (a system Docker engine): its route goes and each send
# fails with ENETUNREACH. Elsewhere it cuts the carrier and the sends vanish silently.
CABLE_PULLED = (
    r"ERROR: (write_child: write failure on .*|glib: Error sending packet|"
    r"glib: ucast_write: Unable to send .*): Network is unreachable"
)
# The real Heartbeat's FIFO reader loses messages two ways, both reproduced by hand in a
# node (docs/heartbeat-in-the-lab.md). Its read of a message can end at its 1 s alarm;
# a message that came in more than one write (ha_clustermsg's "(echo >>>; cat; echo
# <<<) | cat" can write ">>>" alone) is then cut off after ">>>", and the reader logs
# zero fields. And two writers at once (a script's ha_clustermsg, and the daemon's own
# children, such as req_our_resources reporting its holdings) can interleave: the
# reader meets a second ">>>" inside a message and drops both. Heartbeat's own races,
# inside the node, whatever the lab does; no packet reaches that FIFO.
HEARTBEAT_FIFO_LOSS = (
    r"ERROR: (msg2string: Message with zero fields|NV failure \(msgfromsteam\): \[>>>)"
)
# Heartbeat's verdict while both nodes hold the group (split brain, until the heal).
BOTH_OWN = r"Both machines own .* resources!"
# Both sides of a healed partition, in both implementations.
PARTITION_RETURN = r"CRIT: Cluster node \S+ returning after partition\."
# The first heartbeat heard across a healed cut comes more than deadtime late.
LATE_AFTER_HEAL = r"CRIT: Late heartbeat: .*\(> deadtime\)"
# The lines above by the names a scenario file's expect_log: uses (docs/scenarios.md).
NAMED = {
    "both-own": BOTH_OWN,
    "cable-pulled": CABLE_PULLED,
    "late-after-heal": LATE_AFTER_HEAL,
    "partition-return": PARTITION_RETURN,
    "rejected-packet": REJECTED_PACKET,
}


def shutdone_standby_race(node: str) -> str:
    """A real Heartbeat ``node``'s own standby step, ignored because its peer's orderly
    stop came in between (hb_resource.c, read for CI of 1d1e44d and d76d6a9).

    On the peer's ``shutdone`` Heartbeat takes the peer's side in a child, with its
    standby state set to DONE (3) but no standby timer, and the child ends by sending
    ``done``. Two of its own messages can then meet that state: a ``me`` from its
    ipfail, sent while it was still stable, read after the shutdone (``'me' … in
    state 3``: without the timer it is not held off as "Standby in progress"); and
    the child's ``done``, read after the peer was marked dead deadtime after its last
    status, which cancels the exchange (``'done' … in state 0``). Both are races
    between Heartbeat's own processes that a stop or restart of the peer starts,
    whichever implementation the peer runs; the lab's 1.5 s deadtime makes the
    second likelier than in a deployment. Declared only by tests that stop or
    restart a node, and only for the node's own messages (``from node``): a peer's
    step ignored this way is a different story (docs/heartbeat-in-the-lab.md).
    """
    return (
        rf"ERROR: Ignored standby message ('me' from {node} in state 3"
        rf"|'done' from {node} in state 0)$"
    )


@dataclass(frozen=True, slots=True)
class Expectation:
    pattern: re.Pattern[str]
    why: str
    nodes: frozenset[str] | None  # None: any node


@dataclass
class ExpectedLog:
    """The bad-news lines a test's scenario causes: ``expect_log(pattern, why)``."""

    expectations: list[Expectation] = field(default_factory=list)

    def __call__(self, pattern: str, why: str, nodes: Iterable[str] | None = None) -> None:
        if not why:
            raise ValueError("say why the scenario causes the line")
        chosen = frozenset(nodes) if nodes is not None else None
        self.expectations.append(Expectation(re.compile(pattern), why, chosen))

    def explains(self, node: str, line: str) -> bool:
        return any(
            e.pattern.search(line) and (e.nodes is None or node in e.nodes)
            for e in self.expectations
        )


def bad_news(node: str, log_text: str, expected: ExpectedLog) -> list[str]:
    """The lines of ``log_text`` that match BadNews and that no expectation explains."""
    return [
        f"{node}: {line}"
        for line in log_text.splitlines()
        if BAD_NEWS.search(line) and not expected.explains(node, line)
    ]


def expect_machine_lines(lab: Lab, expected: ExpectedLog) -> None:
    """Declare what this machine, or the node's implementation, makes a node log
    whatever the lab does."""
    state = lab.require_up()
    for host in lab.topo.cluster_nodes:
        rec = state.nodes[host.name]
        if rec.init is None:
            continue
        limits = memlock.of_process(rec.init.pid)
        # hbnode locks no memory; both ask for SCHED_RR under ha.cf's "realtime on".
        if rec.impl == Impl.HEARTBEAT.value and not memlock.heartbeat_can_lock(limits):
            expected(MEMLOCK_LINE, f"the node's {limits.describe()}", [host.name])
        if rec.impl == Impl.HEARTBEAT.value:
            why = "the real Heartbeat's FIFO reader, losing a message it got in pieces"
            expected(HEARTBEAT_FIFO_LOSS, why, [host.name])
        if not rtsched.process_can_realtime(rec.init.pid):
            why = "the node may not use SCHED_RR (no CAP_SYS_NICE or no real-time budget)"
            expected(REALTIME_LINE, why, [host.name])


def scan(lab: Lab, expected: ExpectedLog) -> list[str]:
    """Both cluster nodes' ha-log, against BadNews."""
    found: list[str] = []
    for host in lab.topo.cluster_nodes:
        log = lab.log_dir(host.name) / "ha-log"
        if log.exists():
            found += bad_news(host.name, log.read_text(errors="replace"), expected)
    return found
