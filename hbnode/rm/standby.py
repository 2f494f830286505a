"""The three-step standby protocol (protocol.md §4.5), in both roles.

G is the node going standby for a set R (always relative to G); O is the other.
  1. G: ``ask_resources rsc_hold=R info=me``; 10 s for an answer.
  2. O (if stable): ``info=other``.
  3. G: ``resource <what remains> isstable=0 info=standby``, releases R, ``info=done``.
  4. O: acquires the mirror of R, ``resource … isstable=1``, ``info=done``.
  5. G: ``resource … isstable=1``.
The same exchange serves hb_standby, hb_takeover (the peer goes standby), auto
failback (the holder gives back ``foreign``), ipfail and a failed start.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

from hbnode.message import Message
from hbnode.rm import messages as m
from hbnode.rm.hold import Hold, keys_in, mirror
from hbnode.rm.messages import Ask
from hbnode.rm.scope import StandbyScope
from hbnode.rm.state import Mode, Shared

REPLY_TIMEOUT = 10.0  # "No reply to standby request.  Standby request cancelled."
WATCHDOG = 3600.0  # a started exchange that never ends is abandoned after an hour
NOT_NICE = "Standby mode only implemented when nice_failback on"
IN_FLUX = "resources are in transition; try again when stable"
_TAG = "standby"


class StandbyRole(enum.StrEnum):
    GIVER = "G"  # going standby
    TAKER = "O"  # taking over what G gives


class Phase(enum.StrEnum):
    ASKED = "asked"  # G: sent me, waiting for other
    RELEASING = "releasing"  # G: stopping R
    RELEASED = "released"  # G: sent done, waiting for O's done
    OFFERED = "offered"  # O: sent other, waiting for G's done
    ACQUIRING = "acquiring"  # O: starting the mirror set


@dataclass
class StandbyOp:
    role: StandbyRole
    what: Hold  # R, relative to G
    phase: Phase
    deadline: float
    peer: str | None = None  # the other node (G: whoever answered)
    reason: str = "standby"  # reason of the actions: standby, failback, ipfail, …


class StandbyProtocol:
    def __init__(self, shared: Shared, on_finished: Callable[[float], None]) -> None:
        self.s = shared
        self.op: StandbyOp | None = None
        self.on_finished = on_finished  # the manager runs what waited for us to be idle

    @property
    def busy(self) -> bool:
        return self.op is not None

    # -- G: start ---------------------------------------------------------------------
    def request(
        self,
        what: Hold,
        now: float,
        *,
        reason: str = "standby",
        via_ipfail: bool = False,
        operator: bool = False,
    ) -> str | None:
        """Go standby for ``what``; returns why not, or None when the request is out.

        ``operator``: hb_standby (or the peer's hb_takeover). Its refusals are logged
        in Heartbeat's words, and without a peer the request still goes out, as
        Heartbeat's does: nobody answers and it is cancelled after REPLY_TIMEOUT
        ("No reply to standby request"), which is what an admin, and CTS's standby
        test, reads in the log. The node's own requests (failback, ipfail) need a peer.
        """
        s = self.s
        if not s.nice:
            return NOT_NICE
        if self.busy or s.mode is not Mode.STABLE:
            if operator:
                self._say_ignored(now)
            return IN_FLUX
        if not operator and not s.present_peers():
            return "no other node is active to take over"
        self.op = StandbyOp(
            StandbyRole.GIVER, what, Phase.ASKED, now + REPLY_TIMEOUT, reason=reason
        )
        if via_ipfail:
            s.out.send(m.ipfail_ask_resources(s.me, what))
        else:
            s.out.send(m.ask_resources(what, Ask.ME))
        s.out.log(
            "info",
            f"{s.me} wants to go standby [{what.text}]",
            "standby_requested",
            what=what.text,
            reason=reason,
        )
        return None

    def _say_ignored(self, now: float) -> None:
        """A refused request of ours, in the words Heartbeat logs when its own standby
        message finds the node busy (hb_resource.c): greppable, and CTS's standby test
        reads them as "try again"."""
        s = self.s
        if self.op is not None:
            left = max(0, math.ceil(self.op.deadline - now))
            text = f"Standby in progress- new request from {s.me} ignored [{left} seconds left]"
        else:
            text = f"standby message [me] from {s.me} ignored.  local resources in flux."
        s.out.log("warn", text)

    def ask_takeover(self, what: StandbyScope, now: float) -> str | None:
        """hb_takeover: ask the peer to go standby for the mirror of ``what``."""
        s = self.s
        if not s.nice:
            return NOT_NICE
        if s.mode is not Mode.STABLE or self.busy:
            return IN_FLUX
        if not s.present_peers():
            return "no other node is active to give resources"
        s.out.send(m.hb_takeover(what.value))
        s.out.log(
            "info",
            f"Asking the other node to give us [{what}] resources",
            "takeover_requested",
            what=what,
        )
        return None

    # -- messages ---------------------------------------------------------------------
    def on_hb_takeover(self, src: str, msg: Message, now: float) -> None:
        """rc.d/hb_takeover on the *other* nodes: run hb_standby with the mirror set."""
        if src == self.s.me:
            return
        scope = StandbyScope.parse(msg.get("rsc_hold"))
        if scope is None:
            return
        error = self.request(scope.mirror, now, reason="takeover", operator=True)
        if error is not None:
            self.s.out.log("info", f"hb_takeover from {src} ignored: {error}")

    def on_ask(self, msg: Message, now: float) -> None:
        src, info = msg.get("src"), msg.get("info")
        what = Hold.parse(msg.get("rsc_hold"))
        if src is None or src == self.s.me or what is None:
            return  # our own loopback copy: we acted when we sent it
        if info == Ask.ME:
            self._offer(src, what, now)
        elif info == Ask.OTHER:
            self._give(src, what, now)
        elif info == Ask.DONE:
            self._peer_done(src, what, now)

    def _offer(self, giver: str, what: Hold, now: float) -> None:
        s = self.s
        if s.mode is not Mode.STABLE or self.busy:
            s.out.log("info", f"standby message [me] from {giver} ignored. Other side is in flux.")
            return
        s.out.log("info", f"{giver} wants to go standby [{what.text}]")
        self.op = StandbyOp(StandbyRole.TAKER, what, Phase.OFFERED, now + WATCHDOG, peer=giver)
        s.out.send(m.ask_resources(what, Ask.OTHER))

    def _give(self, taker: str, what: Hold, now: float) -> None:
        op, s = self.op, self.s
        if op is None or op.role is not StandbyRole.GIVER or op.phase is not Phase.ASKED:
            return
        op.peer, op.phase, op.deadline = taker, Phase.RELEASING, now + WATCHDOG
        s.out.log("info", f"standby: {taker} can take our {what.text} resources")
        keys = [k for k in keys_in(op.what, s.me, s.groups) if s.table.active(k)]
        s.hold &= ~op.what
        s.out.send(m.resource_report(s.hold, False, m.INFO_STANDBY))
        s.out.log(
            "info",
            f"give up {op.what.text} HA resources (standby).",
            "standby_release",
            what=op.what.text,
            groups=keys,
            to=taker,
        )
        s.table.release(keys, op.reason, now)
        s.table.when_settled(_TAG, keys, self._released, now)

    def _released(self, now: float) -> None:
        op, s = self.op, self.s
        if op is None:
            return
        s.out.log("info", f"{op.what.text} HA resource release completed (standby).")
        op.phase = Phase.RELEASED
        s.out.send(m.ask_resources(op.what, Ask.DONE))
        s.out.log("info", f"Local standby process completed [{op.what.text}].")

    def _peer_done(self, peer: str, what: Hold, now: float) -> None:
        op = self.op
        if op is None or op.peer != peer:
            return
        if op.role is StandbyRole.GIVER and op.phase is Phase.RELEASED:
            self.s.out.log(
                "info",
                f"Other node completed standby takeover of {op.what.text} resources.",
                "handover_done",
                what=op.what.text,
                to=peer,
            )
            self._finish(now)
        elif op.role is StandbyRole.TAKER and op.phase is Phase.OFFERED:
            self._take(peer, now)

    def _take(self, giver: str, now: float) -> None:
        op, s = self.op, self.s
        assert op is not None
        op.phase, op.deadline = Phase.ACQUIRING, now + WATCHDOG
        s.out.log(
            "info",
            f"standby: acquire [{op.what.text}] resources from {giver}",
            "takeover_started",
            node=giver,
            what=op.what.text,
            reason="standby",
        )
        keys = keys_in(op.what, giver, s.groups)  # R is relative to G
        s.hold |= mirror(op.what)  # G's set, seen from us
        s.table.hold(keys, op.reason, now)
        s.table.when_settled(_TAG, keys, self._acquired, now)

    def _acquired(self, now: float) -> None:
        op, s = self.op, self.s
        if op is None:
            return
        s.out.log(
            "info",
            f"Standby resource acquisition done [{op.what.text}].",
            "handover_done",
            what=op.what.text,
            frm=op.peer,
        )
        what = op.what
        self._finish(now)
        s.out.send(m.ask_resources(what, Ask.DONE))

    def _finish(self, now: float) -> None:
        self.op = None
        self.s.table.cancel(_TAG)
        self.s.report()
        self.on_finished(now)

    # -- ends that are not the happy one ------------------------------------------------
    def timer(self) -> float | None:
        return self.op.deadline if self.op is not None else None

    def handle_timer(self, now: float) -> None:
        op = self.op
        if op is None or now < op.deadline:
            return
        if op.role is StandbyRole.GIVER and op.phase is Phase.ASKED:
            self.s.out.log("warn", "No reply to standby request.  Standby request cancelled.")
        else:
            self.s.out.log("warn", f"Standby operation [{op.what.text}] timed out; abandoned")
        self._abandon(now)

    def peer_gone(self, peer: str, now: float) -> None:
        """``peer`` died, restarted or is shutting down: an exchange with it cannot end."""
        op = self.op
        if op is None or (op.peer is not None and op.peer != peer):
            return
        if op.peer is None and any(p.name != peer for p in self.s.present_peers()):
            return  # still waiting for an answer from someone else
        self.s.out.log("info", "Cancelling pending standby operation")
        self._abandon(now)

    def abort(self) -> None:
        """Shutdown: drop the exchange without a word (shutdone tells the peer)."""
        self.op = None
        self.s.table.cancel(_TAG)

    def _abandon(self, now: float) -> None:
        self.op = None
        self.s.table.cancel(_TAG)
        if self.s.mode is Mode.STABLE:
            self.s.report()
        self.on_finished(now)
