"""ipfail's policy, built in: the node that sees fewer ping nodes hands over (§4.6).

Each node counts the ping nodes it can reach and tells the peer
(``num_ping_nodes``). The receiver compares: it sees more → ``you_are_dead`` (the
peer gives up everything); it sees fewer → it gives up everything itself after
2×keepalive unless told ``abort_giveup``; equal → ``abort_giveup``, and with
auto_failback on a holder of foreign groups gives those back. The messages are
real ipfail's, so a Heartbeat peer running ipfail takes part.
"""

from __future__ import annotations

from collections.abc import Callable

from hbnode.config.hacf import AutoFailback
from hbnode.message import Message
from hbnode.rm import messages as m
from hbnode.rm.hold import Hold
from hbnode.rm.messages import T
from hbnode.rm.state import Mode, Shared

GiveUp = Callable[[Hold, float], bool]  # go standby for a set; False if it cannot now


class PingPolicy:
    def __init__(
        self, shared: Shared, ping_nodes: list[str], enabled: bool, give_up: GiveUp
    ) -> None:
        self.s = shared
        self.ping: dict[str, bool | None] = dict.fromkeys(ping_nodes)  # None: not heard of
        self.enabled = enabled
        self.give_up = give_up
        self.pending: tuple[float, Hold] | None = None  # (when, what) we give up

    @property
    def active(self) -> bool:
        """ipfail needs ping nodes and nice_failback (it refuses auto_failback legacy)."""
        return self.enabled and bool(self.ping) and self.s.nice

    def count(self) -> int:
        return sum(1 for alive in self.ping.values() if alive)

    def all_dead(self) -> bool:
        """Every ping node has been declared dead (none is merely not heard of yet)."""
        return bool(self.ping) and all(alive is False for alive in self.ping.values())

    # -- inputs -----------------------------------------------------------------------
    def ping_changed(self, name: str, alive: bool, now: float) -> None:
        if name not in self.ping or self.ping[name] == alive:
            return
        self.ping[name] = alive
        self.tell_peers()

    def set_enabled(self, enabled: bool, now: float) -> None:
        if enabled == self.enabled:
            return
        self.enabled = enabled
        if self.s.mode in (Mode.INIT, Mode.STOPPED) or not (self.s.nice and self.ping):
            return
        self.s.out.send(m.clstat(self.s.me, enabled))
        if enabled:
            self.tell_peers()
        else:
            self.pending = None

    def tell_peers(self, only: str | None = None) -> None:
        """Send our count (ipfail does on a link or ping change and on a peer's join)."""
        if not self.active or self.s.mode in (Mode.INIT, Mode.STOPPING, Mode.STOPPED):
            return
        for peer in self.s.present_peers():
            if only is None or peer.name == only:
                self.s.out.send(m.num_ping_nodes(self.s.me, peer.name, self.count()))

    def on_message(self, msg: Message, now: float) -> None:
        src = msg.get("src")
        if not self.active or src is None or src == self.s.me or src not in self.s.peers:
            return
        kind = msg.get("t")
        if kind == T.NUM_PING_NODES:
            self._compare(src, msg.get("num_ping"), now)
        elif kind == T.YOU_ARE_DEAD:
            # ipfail gives up at once; we wait 2×keepalive like the other give-ups, so
            # that an abort_giveup answering a fresher count (a ping node that has just
            # come back) still cancels it.
            delay = 2 * self.s.keepalive
            self.s.out.log(
                "info",
                f"{src} sees more ping nodes: giving up all resources in {delay:g} s",
                "ipfail_giveup",
                peer=src,
            )
            self.pending = (now + delay, Hold.ALL)
        elif kind == T.ABORT_GIVEUP:
            if self.pending is not None:
                self.s.out.log("info", "Giveup aborted: the peer sees as many ping nodes")
            self.pending = None
        elif kind == T.CLSTAT and msg.get("st") == "join" and msg.get("from_id") == m.IPFAIL:
            self.tell_peers(only=src)

    def _compare(self, peer: str, text: str | None, now: float) -> None:
        try:
            theirs = int(text or "")
        except ValueError:
            return  # a bad peer must not crash us; ipfail's atoi would read 0 anyway
        mine, s = self.count(), self.s
        delay = 2 * s.keepalive
        if mine > theirs:
            s.out.send(m.ipfail_verdict(T.YOU_ARE_DEAD, s.me, peer))
            self.pending = None
        elif mine < theirs:
            s.out.log(
                "info",
                f"{peer} sees {theirs} ping node(s), we see {mine}: giving up in {delay:g} s",
                "ipfail_giveup",
                peer=peer,
                theirs=theirs,
                mine=mine,
            )
            self.pending = (now + delay, Hold.ALL)
        else:
            s.out.send(m.ipfail_verdict(T.ABORT_GIVEUP, s.me, peer))
            self.pending = None
            failback = s.auto_failback is AutoFailback.ON and s.mode is Mode.STABLE
            if failback and s.hold & Hold.FOREIGN:
                self.pending = (now + delay, Hold.FOREIGN)

    # -- time -------------------------------------------------------------------------
    def timer(self) -> float | None:
        return self.pending[0] if self.pending is not None else None

    def handle_timer(self, now: float) -> None:
        if self.pending is None or now < self.pending[0]:
            return
        what = self.pending[1]
        self.pending = None
        if not self.s.present_peers():
            return
        if not self.give_up(what, now):
            # ipfail only gives up while the cluster is stable; ask again shortly.
            self.pending = (now + self.s.keepalive, what)

    def cancel(self) -> None:
        self.pending = None
