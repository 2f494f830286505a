"""auto_failback on: after our own start, ask for the failback the holder owes us.

Heartbeat gives a returning owner its groups back from the holder's side
(PerformAutoFailback, §4.4). It runs when the owner's first stable report turns the
holder's "other side is stable" flag on. A holder whose takeover of our groups is
still running when we start can miss that moment. It has just reset us with STONITH,
and we booted at once. Our ``starting`` clears the flag (``T_STARTING received
during takeover``), and its takeover's completion (``mach_down takeover complete``)
sets it again before our stable report comes. The failback is then never started.
With nothing left to change, the groups stay on the peer for good, while both
sides say they are stable (RELIABILITY.md, "Fencing").

So the owner does not rely on that moment alone. When our start ended with the
peer holding our groups (``T_RESOURCES(them)``), we wait ``grace`` for its
failback. If the peer still holds them then, is stable, and no exchange is under
way, we ask it to go standby for them, as ``hb_takeover local`` does. We ask at
most ``MAX_ASKS`` times, ``grace`` apart. An hbnode peer fails back itself; the
ask is only for a peer that did not.

Nothing is asked when the groups went to the peer on purpose: the watch starts at
our start only, and ends on anything that moves groups since (our own standby or
ipfail give-up, the peer's death or restart). Nor when our ipfail sees fewer ping
nodes than the peer's: by ipfail's rule the peer keeps them.
"""

from __future__ import annotations

from collections.abc import Callable

from hbnode.rm.hold import Hold
from hbnode.rm.spec import AutoFailback
from hbnode.rm.state import Mode, PeerView, Shared

MAX_ASKS = 3  # then the admin decides (hb_takeover); the log says so

AskStandby = Callable[[Hold, float], str | None]  # hb_takeover for a set: None if sent


class OwedFailback:
    def __init__(
        self,
        shared: Shared,
        ask_standby: AskStandby,
        peer_keeps: Callable[[str], bool],
        busy: Callable[[], bool],
    ) -> None:
        self.s = shared
        self.ask_standby = ask_standby
        self.peer_keeps = peer_keeps  # ipfail: the peer sees more ping nodes than we do
        self.busy = busy  # a standby exchange is under way
        self.due: dict[str, float] = {}  # peer → when we look again
        self.asks: dict[str, int] = {}  # peer → how often we asked it

    @property
    def grace(self) -> float:
        """How long the holder has to start the failback itself.

        Heartbeat starts it on our stable report, at once; its ipfail, when it is
        what gives them back, after 2 × keepalive. Deadtime on top is how late the
        admin lets a busy peer be.
        """
        return 2 * self.s.keepalive + self.s.deadtime

    def expect(self, now: float) -> None:
        """Our start ended with a peer holding our groups: it owes us the failback."""
        if self.s.auto_failback is not AutoFailback.ON:
            return
        for peer in self.s.peers.values():
            if peer.holds_ours:
                self.due[peer.name] = now + self.grace
                self.asks[peer.name] = 0

    def cancel(self, peer: str | None = None) -> None:
        """Groups moved (or the peer went): whatever we were owed is settled."""
        if peer is None:
            self.due.clear()
            self.asks.clear()
        else:
            self.due.pop(peer, None)
            self.asks.pop(peer, None)

    def timer(self) -> float | None:
        return min(self.due.values()) if self.due else None

    def handle_timer(self, now: float) -> None:
        for name, when in sorted(self.due.items()):
            if now >= when:
                self._look(self.s.peers[name], now)

    def _look(self, peer: PeerView, now: float) -> None:
        s = self.s
        if not self._still_owed(peer):
            self.cancel(peer.name)
            return
        self.due[peer.name] = now + self.grace
        if s.mode is not Mode.STABLE or not peer.stable or self.busy() or now < peer.quiet_until:
            return  # in flux: look again later
        if self.peer_keeps(peer.name):
            s.out.log("info", f"{peer.name} keeps our resources: it sees more ping nodes")
            self.cancel(peer.name)
            return
        if self.asks[peer.name] >= MAX_ASKS:
            s.out.log(
                "err",
                f"{peer.name} still holds our [local] resources after {MAX_ASKS} asks:"
                " leaving them there (hb_takeover asks again)",
                "failback_not_given",
                node=peer.name,
            )
            self.cancel(peer.name)
            return
        if self.ask_standby(Hold.LOCAL, now) is None:
            self.asks[peer.name] += 1
            s.out.log(
                "warn",
                f"{peer.name} holds our [local] resources and gave them no failback"
                f" within {self.grace:g} s of our start: asked it to go standby",
                "failback_asked",
                node=peer.name,
            )

    def _still_owed(self, peer: PeerView) -> bool:
        """The peer still claims our groups, and we hold none of them."""
        s = self.s
        return (
            s.auto_failback is AutoFailback.ON
            and peer.holds_ours
            and not s.hold & Hold.LOCAL
            and bool(s.local_keys())
        )
