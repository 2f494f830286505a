"""STONITH before takeover (ha.cf ``stonith``/``stonith_host``; protocol.md §4.3).

Heartbeat's R1 rules (hb_resource.c hb_rsc_recover_dead_resources, Initiate_Reset,
StonithProcessDied), which hbnode keeps:

* a dead peer that may hold resources is reset through the STONITH device
  *before* its groups are taken; the takeover happens only once the reset
  succeeded (``node X now reset.``);
* the result of every attempt is sent to the cluster as ``stonith node=X
  result=OK|badhost|bad``;
* a failed reset means no takeover: ``Host X not reset!``, ``STONITH of X failed.
  Retrying...``, and the reset is tried again every ``hbnode_stonith_retry``
  (Heartbeat: 5 s), for as long as it takes.

What hbnode adds, on purpose (docs/differences.md, "STONITH"):

* **the fence race.** When the heartbeat link breaks, both nodes declare the
  other dead at the same moment and both reset each other: Heartbeat has no
  tie-break, so both machines go down. hbnode makes the node that holds no
  resources wait ``hbnode_stonith_delay`` (default 5 s) before it resets its
  peer, so the holder's reset lands first and the service never moves. With
  resources on both sides or on neither, the node listed first in ha.cf goes
  first.
* **a bound on each attempt** (``hbnode_stonith_timeout``, 60 s): a hung plugin
  counts as a failed reset and is retried; Heartbeat waits for it for ever.
* **a reset not yet under way is called off when the peer speaks again** (it was
  not dead: a cut that healed during the delay); Heartbeat keeps retrying. A peer
  that speaks as a restarted node was reset after all (its BMC acted late): the
  manager then takes our own groups, as the takeover would have
  (``ResourceManager._left_to_us``).
* **no reset of a peer never heard since start-up** (see :mod:`hbnode.rm.startup`):
  a node that boots while it cannot reach its peer neither resets it nor takes
  any group until it hears it, so a node reset through a cut cable cannot come
  back and reset the survivor (the two-node "STONITH death match").

Sans-IO: the reset itself is an :class:`~hbnode.rm.actions.Action` of kind
``fence`` that the daemon runs on its own worker (cluster-glue's ``stonith``
program, hbnode.stonith_io); its result comes back through
:meth:`Fencing.done`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from hbnode.rm import messages as m
from hbnode.rm.actions import ActionKind
from hbnode.rm.hold import Hold
from hbnode.rm.state import Shared


class FenceResult(enum.StrEnum):
    """``stonith result=``: what one reset attempt came to (hb_resource.c T_STONITH_*)."""

    OK = "OK"
    BADHOST = "badhost"  # the device cannot reset that host (S_BADHOST)
    BAD = "bad"  # anything else: unreachable device, bad password, timeout


@dataclass
class FenceJob:
    node: str
    since: float  # when the peer was declared dead
    due: float | None  # when the next attempt starts; None while one runs
    action: int | None = None  # the attempt in flight
    attempts: int = 0


class Fencing:
    def __init__(
        self,
        shared: Shared,
        *,
        device: str | None,
        delay: float,
        retry: float,
        node_order: list[str],
        fenced: Callable[[str, float], None],
    ) -> None:
        """``device``: the plugin fencing goes through (None: no STONITH configured);
        ``fenced``: what to do once a node is reset (take its groups over)."""
        self.s = shared
        self.device = device
        self.delay, self.retry = delay, retry
        self.first = next((n.lower() for n in node_order), "")
        self.fenced = fenced
        self.jobs: dict[str, FenceJob] = {}
        self.done_nodes: set[str] = set()  # reset since we last heard them

    @property
    def configured(self) -> bool:
        return self.device is not None

    def needed(self, old_hold: Hold) -> bool:
        """hb_rsc_recover_dead_resources: in nice_failback mode a peer that reported
        holding nothing needs no reset; otherwise it may hold something."""
        return not (self.s.nice and old_hold == Hold.NONE)

    def delay_for(self, node: str, old_hold: Hold) -> float:
        """0 for the node that should win a fence race, ``delay`` for the other."""
        mine, theirs = self.s.hold != Hold.NONE, old_hold != Hold.NONE
        if mine != theirs:
            return 0.0 if mine else self.delay
        return 0.0 if self.s.me == self.first else self.delay

    def begin(self, node: str, old_hold: Hold, now: float) -> None:
        """``node`` was declared dead and may hold resources: reset it, then take over."""
        if node in self.jobs:
            return
        self.done_nodes.discard(node)
        wait = self.delay_for(node, old_hold)
        job = FenceJob(node, now, now + wait)
        self.jobs[node] = job
        if wait > 0:
            self.s.out.log(
                "info",
                f"STONITH: resetting {node} in {wait:g} s (we hold no resources: in a fence"
                " race the holder resets us first)",
                "fence_delay",
                node=node,
                delay=wait,
            )
            return
        self._attempt(job, now)

    def _attempt(self, job: FenceJob, now: float) -> None:
        action = self.s.out.act(ActionKind.FENCE, job.node, "stonith")
        job.action, job.due = action.id, None
        job.attempts += 1
        self.s.out.log(
            "info",
            f"Resetting node {job.node} with [{self.device}]",
            "fence_started",
            node=job.node,
            attempt=job.attempts,
            device=self.device,
        )

    def done(self, action_id: int, result: FenceResult, now: float) -> bool:
        """An attempt ended; False if ``action_id`` is not a reset of ours."""
        job = next((j for j in self.jobs.values() if j.action == action_id), None)
        if job is None:
            return False
        job.action = None
        self.s.out.send(m.stonith(job.node, result.value))
        if result is FenceResult.OK:
            del self.jobs[job.node]
            self.done_nodes.add(job.node)
            self.s.out.log(
                "info",
                f"node {job.node} now reset.",
                "fenced",
                node=job.node,
                attempts=job.attempts,
                took=round(now - job.since, 3),
            )
            self.fenced(job.node, now)
            return True
        if result is FenceResult.BADHOST:
            self.s.out.log("err", f"Device {self.device} cannot reset host {job.node}.")
        else:
            self.s.out.log("err", f"Host {job.node} not reset!")
        self.s.out.log(
            "err",
            f"STONITH of {job.node} failed.  Retrying...",
            "fence_failed",
            node=job.node,
            attempt=job.attempts,
            result=result.value,
        )
        job.due = now + self.retry
        return True

    def heard(self, node: str, now: float) -> None:
        """``node`` speaks again: a reset not yet under way is called off."""
        node = node.lower()
        self.done_nodes.discard(node)
        job = self.jobs.get(node)
        if job is None or job.action is not None:
            return  # a reset in flight cannot be recalled; its result still counts
        del self.jobs[node]
        self.s.out.log(
            "info",
            f"STONITH of {node} called off: it is alive",
            "fence_cancelled",
            node=node,
        )

    def pending(self, node: str) -> bool:
        return node.lower() in self.jobs

    def cancel_all(self) -> None:
        """Shutdown: nothing more is started (an attempt in flight finishes)."""
        for node in [n for n, j in self.jobs.items() if j.action is None]:
            del self.jobs[node]

    def timer(self) -> float | None:
        due = [j.due for j in self.jobs.values() if j.due is not None]
        return min(due) if due else None

    def handle_timer(self, now: float) -> None:
        for job in list(self.jobs.values()):
            if job.due is not None and now >= job.due:
                self._attempt(job, now)
