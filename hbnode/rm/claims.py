"""Asking a returning peer what it holds, until it answers.

A node sends its ``resource`` report only when its claim changes. When we declare
a peer dead we forget its claim, so on its return we know nothing of what it
holds, and a peer that never lost us (the loss was one way, or we were only late
to hear it) has no change to report. Left so, our view says it holds nothing while
it holds the group: ``status``/``cl_status`` show no holder, and if it then dies
with STONITH configured, a peer that "held nothing" is taken over from without a
reset (Fencing.needed), the one case fencing exists for.

So we ask: our claim, unsettled (``isstable=0``). An hbnode peer answers that with
its own claim at once ("a node still in transition wants to know what we hold").
Either message may be lost on the link that was lossy a moment ago, so until a
settled report comes from it we ask again every ``ANSWER_WAIT``, ``HBNODE_ASKS``
times at most; its answer ends the asking, and our claim is then said settled
(ResourceManager._on_report).

A real Heartbeat reads an unsettled claim as "the other side is in flux" and waits
for a settled one, neither going standby nor restarting after a heal meanwhile
(``Shutdown delayed until current resource activity finishes``, for good). It is
asked once that way only when we let go while isolated (we must learn what it
took); after that it is told our claim settled, which it answers with its
holdings (``remote resource transition completed``), ``HEARTBEAT_REMINDERS``
times at most. On any other return it restarts itself (it does not heal in place)
and reports what it holds afterwards, so it is not asked at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from hbnode.rm import messages as m
from hbnode.rm.state import Mode, PeerView, Shared

ANSWER_WAIT = 1.0  # seconds between asks
HBNODE_ASKS = 10  # an answer lost 10 times in a row on 60 % loss: 0.6 ** 11, 0.4 %
HEARTBEAT_REMINDERS = 3


@dataclass
class Question:
    due: float
    asked: int  # times asked after the first
    settled_only: bool  # a real Heartbeat: remind it with our settled claim


class ClaimQuestions:
    def __init__(self, shared: Shared) -> None:
        self.s = shared
        self.open: dict[str, Question] = {}

    def ask(self, peers: list[PeerView], now: float) -> None:
        """Our claim, unsettled, so that ``peers`` answer with theirs."""
        self.s.out.send(m.resource_report(self.s.hold, False, None))
        for peer in peers:
            self.open[peer.name] = Question(now + ANSWER_WAIT, 0, peer.restarts_on_heal)

    def answered(self, peer: str) -> bool:
        """A settled report came from ``peer``: its claim is known. Whether we had
        asked (our claim, said unsettled, is then to be said settled again)."""
        return self.open.pop(peer, None) is not None

    def forget(self, peer: str) -> None:
        self.open.pop(peer, None)

    def timer(self) -> float | None:
        due = [q.due for q in self.open.values()]
        return min(due) if due else None

    def handle_timer(self, now: float) -> None:
        s = self.s
        for name, question in sorted(self.open.items()):
            if now < question.due:
                continue
            peer = s.peers.get(name)
            if s.mode is not Mode.STABLE or peer is None or not peer.present:
                del self.open[name]
                continue
            if question.settled_only:
                s.report()
            else:
                s.out.send(m.resource_report(s.hold, False, None))
            limit = HEARTBEAT_REMINDERS if question.settled_only else HBNODE_ASKS
            if question.asked + 1 < limit:
                question.due, question.asked = now + ANSWER_WAIT, question.asked + 1
            else:
                del self.open[name]
