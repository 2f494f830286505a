"""Takeovers from dead peers that wait for a deadline instead of starting at once.

Heartbeat's mach_down takes a dead node's groups the moment it is declared dead.
hbnode waits, for a stated time, in two cases: the isolation policy's grace (did
the ping nodes die in the same cut? :mod:`~hbnode.rm.isolation`) and a death
declared on a status that came late (the status itself shows the peer alive,
:meth:`~hbnode.rm.manager.ResourceManager.node_dead`). Any word from the peer
before the deadline cancels its takeover; that is why one table serves both.
"""

from __future__ import annotations

from collections.abc import Callable


class DeferredTakeovers:
    def __init__(self, take_over: Callable[[str, float], None]) -> None:
        self.take_over = take_over  # mach_down for one dead peer, when its deadline comes
        self.due: dict[str, float] = {}  # dead peer → when to take over from it

    def defer(self, peer: str, when: float, *, keep_earlier: bool = False) -> None:
        """Take over from ``peer`` at ``when``; ``keep_earlier`` leaves an earlier
        deadline already set for it alone."""
        if keep_earlier and peer in self.due:
            return
        self.due[peer] = when

    def pending(self, peer: str) -> bool:
        return peer in self.due

    def cancel(self, peer: str) -> None:
        """``peer`` spoke (or restarted): there is nothing to take over from it."""
        self.due.pop(peer, None)

    def clear(self) -> None:
        self.due.clear()

    def timer(self) -> float | None:
        return min(self.due.values()) if self.due else None

    def handle_timer(self, now: float) -> None:
        for peer, when in sorted(self.due.items()):
            if now >= when:
                del self.due[peer]
                self.take_over(peer, now)
