"""Sequence numbers: the receive window of one sender, and our own send history.

Receive side (protocol.md §3.3 step 5, §3.4): every seq'd message of a sender is
tracked, whoever it is addressed to, so gaps are seen and asked for. Send side:
the last 500 seq'd messages are kept to answer ``NS_rexmit``.
"""

from __future__ import annotations

import enum
import random
from collections import OrderedDict
from dataclasses import dataclass

from hbnode.core.timers import MIN_REXMIT_DELAY, RESEND_GUARD
from hbnode.message import Message

# A gap of more than this many seqs is not worth filling: tracking restarts at the
# new seq ("lost a lot of packets!"). The same bound caps the missing set.
MAX_MISSING = 250
# The sender keeps this many seq'd messages for retransmission (hb_rexmit.c).
HISTORY_SIZE = 500
# At most this many seqs are answered for one NS_rexmit request.
MAX_REXMIT_PER_REQUEST = 50
# A receiver ACKs when seq % ACK_INTERVAL equals its random per-sender trigger.
ACK_INTERVAL = 10


class SeqVerdict(enum.Enum):
    """What the receive window made of one seq."""

    ACCEPT = "accept"  # the next one, the first one heard, or one after a gap
    FILLED = "filled"  # an older seq that was recorded missing
    DUPLICATE = "duplicate"  # the same as the last one: dropped, but refreshes the link
    OLD = "old"  # older and not missing: dropped


@dataclass(frozen=True, slots=True)
class Gap:
    """Seqs ``first``..``last`` were skipped; ``reset`` if tracking gave up on them."""

    first: int
    last: int
    reset: bool

    @property
    def count(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class Tracked:
    verdict: SeqVerdict
    gap: Gap | None = None

    @property
    def new(self) -> bool:
        """True for a message seen for the first time (it is processed further)."""
        return self.verdict in (SeqVerdict.ACCEPT, SeqVerdict.FILLED)


class ReceiveWindow:
    """Receive-side sequence tracking of one sender (one generation of it)."""

    def __init__(self, rng: random.Random, max_rexmit_delay: float) -> None:
        self._rng = rng
        self._max_delay = max_rexmit_delay
        self.last_seq: int | None = None  # highest seq seen; None before the first
        self.missing: dict[int, float] = {}  # missing seq → when to ask for it next
        # Each receiver ACKs a different tenth of a sender's seqs, so that not every
        # node ACKs the same message at once (§3.4).
        self.ack_trigger = rng.randrange(ACK_INTERVAL)

    def reset(self) -> None:
        """Forget everything (the sender restarted with a new generation)."""
        self.last_seq = None
        self.missing.clear()
        self.ack_trigger = self._rng.randrange(ACK_INTERVAL)

    def track(self, seq: int, now: float) -> Tracked:
        last = self.last_seq
        if last is None or seq == last + 1:
            self.last_seq = seq
            return Tracked(SeqVerdict.ACCEPT)
        if seq == last:
            return Tracked(SeqVerdict.DUPLICATE)
        if seq < last:
            if self.missing.pop(seq, None) is not None:
                return Tracked(SeqVerdict.FILLED)
            return Tracked(SeqVerdict.OLD)
        gap = Gap(last + 1, seq - 1, reset=False)
        self.last_seq = seq
        if len(self.missing) + gap.count > MAX_MISSING:
            self.missing.clear()
            return Tracked(SeqVerdict.ACCEPT, Gap(gap.first, gap.last, reset=True))
        for missing in range(gap.first, gap.last + 1):
            self.missing[missing] = now + self._rng.uniform(MIN_REXMIT_DELAY, self._max_delay)
        return Tracked(SeqVerdict.ACCEPT, gap)

    def give_up(self, seq: int) -> bool:
        """The sender cannot retransmit ``seq`` (NS_nak_rexmit): stop asking."""
        return self.missing.pop(seq, None) is not None

    def forget_missing(self) -> None:
        self.missing.clear()

    def next_request(self) -> float | None:
        # Asked at every turn of the daemon's loop; nothing is missing almost always.
        return min(self.missing.values()) if self.missing else None

    def due_requests(self, now: float) -> list[int]:
        """Missing seqs to ask for now; each is asked again max_rexmit_delay later."""
        if not self.missing:
            return []
        due = sorted(seq for seq, when in self.missing.items() if when <= now)
        for seq in due:
            self.missing[seq] = now + self._max_delay
        return due

    def should_ack(self, seq: int) -> bool:
        """ACK ``seq`` if it hits our trigger and nothing below it is missing."""
        if seq % ACK_INTERVAL != self.ack_trigger:
            return False
        return not any(missing < seq for missing in self.missing)


class ResendVerdict(enum.Enum):
    RESEND = "resend"
    TOO_RECENT = "too recent"  # resent within RESEND_GUARD: the copy is still in flight
    TOO_LOW = "seqno too low"  # NS_nak_rexmit info text
    NOT_FOUND = "seqno not found"  # NS_nak_rexmit info text
    TOO_HIGH = "seqno too high"  # never sent yet: a warning only, no NAK


class SendHistory:
    """Our last :data:`HISTORY_SIZE` seq'd messages, for answering NS_rexmit."""

    def __init__(self, size: int = HISTORY_SIZE) -> None:
        self._size = size
        self._messages: OrderedDict[int, Message] = OrderedDict()
        self._resent_at: dict[int, float] = {}
        self.highest = 0

    def record(self, seq: int, msg: Message) -> None:
        self._messages[seq] = msg
        self.highest = max(self.highest, seq)
        while len(self._messages) > self._size:
            old, _ = self._messages.popitem(last=False)
            self._resent_at.pop(old, None)

    def resend(self, seq: int, now: float) -> tuple[ResendVerdict, Message | None]:
        """Decide about one requested seq; on RESEND the stored message comes back."""
        if seq > self.highest:
            return ResendVerdict.TOO_HIGH, None
        lowest = next(iter(self._messages), self.highest + 1)
        if seq < lowest:
            return ResendVerdict.TOO_LOW, None
        msg = self._messages.get(seq)
        if msg is None:
            return ResendVerdict.NOT_FOUND, None
        resent = self._resent_at.get(seq)
        if resent is not None and now - resent < RESEND_GUARD:
            return ResendVerdict.TOO_RECENT, None
        self._resent_at[seq] = now
        return ResendVerdict.RESEND, msg

    def __len__(self) -> int:
        return len(self._messages)
