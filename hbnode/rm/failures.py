"""A group whose start failed is handed to the peer (ResourceManager's CRIT path, §5.3).

Heartbeat stops the whole group again and runs ``hb_standby local|foreign`` 30 s
later. We hand over as soon as the group is stopped, through the same standby
protocol (so a real Heartbeat peer takes it), but not more often than every 30 s:
if the peer's start fails too, the group must not bounce between the nodes.
What is handed over is the whole set the group belongs to, because the standby
protocol moves sets; with one group per node that is the group.
"""

from __future__ import annotations

from hbnode.rm.groups import GroupState
from hbnode.rm.hold import Hold, set_of
from hbnode.rm.standby import StandbyProtocol
from hbnode.rm.state import Mode, Shared

BACKOFF = 30.0  # Heartbeat's delay before its hb_standby after a failed start
RETRY = 1.0  # a hand-over that found the cluster in flux is tried again this soon


class FailedStarts:
    def __init__(self, shared: Shared, standby: StandbyProtocol) -> None:
        self.s = shared
        self.standby = standby
        self.due: dict[Hold, float] = {}  # set to hand over → when
        self.not_before = float("-inf")

    def stopped(self, key: str, now: float) -> None:
        """The failed group ``key`` has been stopped again."""
        s, group = self.s, self.s.group(key)
        if group is None or s.table.state(key) is not GroupState.FAILED:
            return
        if s.mode is not Mode.STABLE:
            return
        before = s.hold
        s.drop_claims_released()
        if s.hold != before:
            s.report()  # a starting peer now takes what we no longer claim
        if not s.nice or not s.present_peers():
            s.out.log("err", f"Resource group {key} failed and nobody can take it over")
            return
        part = set_of(group, s.me)
        when = max(now, self.not_before)
        self.due[part] = min(self.due.get(part, when), when)
        self.handle_timer(now)

    def peer_ready(self, now: float) -> None:
        """A peer has (re)joined and is stable: offer it what failed here while alone."""
        s = self.s
        if not s.nice or s.mode is not Mode.STABLE:
            return
        for group in s.groups:
            if s.table.state(group.key) is GroupState.FAILED and not s.table.active(group.key):
                part = set_of(group, s.me)
                when = max(now, self.not_before)
                self.due[part] = min(self.due.get(part, when), when)
        self.handle_timer(now)

    def timer(self) -> float | None:
        return min(self.due.values()) if self.due else None

    def handle_timer(self, now: float) -> None:
        for part, when in sorted(self.due.items()):
            if now < when:
                continue
            if not self.s.present_peers():
                del self.due[part]
                continue
            if self.standby.request(part, now, reason="acquire_failed") is None:
                del self.due[part]
                self.not_before = now + BACKOFF
            else:
                self.due[part] = now + RETRY

    def clear(self) -> None:
        self.due.clear()
