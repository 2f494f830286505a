"""The receive window of one sender and the send history, on their own (§3.3 step 5, §3.4)."""

from __future__ import annotations

import random

import pytest

from hbnode.core.sequence import (
    MAX_MISSING,
    Gap,
    ReceiveWindow,
    ResendVerdict,
    SendHistory,
    SeqVerdict,
    Tracked,
)
from hbnode.message import Message


def window(max_delay: float = 0.25) -> ReceiveWindow:
    return ReceiveWindow(random.Random(3), max_delay)


@pytest.mark.parametrize(
    ("seqs", "verdicts"),
    [
        ([7], ["accept"]),  # the first seq heard is taken as it is
        ([1, 2, 3], ["accept"] * 3),
        ([1, 1], ["accept", "duplicate"]),
        ([1, 2, 1], ["accept", "accept", "old"]),
        ([1, 4, 2, 3, 3], ["accept", "accept", "filled", "filled", "old"]),
        ([1, 4, 4], ["accept", "accept", "duplicate"]),
    ],
)
def test_verdicts(seqs: list[int], verdicts: list[str]) -> None:
    w = window()
    assert [w.track(seq, 0.0).verdict.value for seq in seqs] == verdicts


def test_a_gap_is_recorded_missing_and_reported() -> None:
    w = window()
    w.track(10, 0.0)
    assert w.track(14, 1.0) == Tracked(SeqVerdict.ACCEPT, Gap(11, 13, reset=False))
    assert sorted(w.missing) == [11, 12, 13]
    assert w.last_seq == 14


def test_a_gap_over_the_limit_resets_tracking() -> None:
    w = window()
    w.track(1, 0.0)
    tracked = w.track(2 + MAX_MISSING, 1.0)  # 250 missing: still tracked
    assert tracked.gap == Gap(2, 1 + MAX_MISSING, reset=False)
    assert len(w.missing) == MAX_MISSING
    tracked = w.track(3 + MAX_MISSING, 1.0)
    assert tracked.gap is None
    tracked = w.track(5 + MAX_MISSING, 1.0)  # one more missing: too many
    assert tracked.gap == Gap(4 + MAX_MISSING, 4 + MAX_MISSING, reset=True)
    assert w.missing == {}
    assert w.track(6 + MAX_MISSING, 1.0).verdict is SeqVerdict.ACCEPT


def test_rexmit_requests_wait_50ms_to_max_delay_then_repeat_every_max_delay() -> None:
    w = window(max_delay=0.25)
    w.track(1, 10.0)
    w.track(5, 10.0)
    first = dict(w.missing)
    assert all(10.05 <= when <= 10.25 for when in first.values())
    assert w.next_request() == min(first.values())
    assert w.due_requests(10.04) == []
    assert w.due_requests(10.25) == [2, 3, 4]
    assert set(w.missing.values()) == {10.5}
    w.track(3, 10.3)
    assert w.due_requests(10.5) == [2, 4]
    assert w.give_up(2) is True
    assert w.give_up(2) is False
    assert w.due_requests(10.75) == [4]


def test_ack_only_on_the_trigger_and_with_nothing_missing_below() -> None:
    w = window()
    trigger = w.ack_trigger
    assert 0 <= trigger <= 9
    hit = 20 + trigger
    assert w.should_ack(hit)
    assert not w.should_ack(hit + 1)
    w.track(hit - 3, 0.0)
    w.track(hit - 1, 0.0)  # hit - 2 missing
    assert not w.should_ack(hit)
    w.track(hit - 2, 0.0)
    assert w.should_ack(hit)


def test_reset_forgets_everything() -> None:
    w = window()
    w.track(1, 0.0)
    w.track(5, 0.0)
    w.reset()
    assert (w.last_seq, w.missing) == (None, {})
    assert w.track(1, 0.0).verdict is SeqVerdict.ACCEPT


def test_history_keeps_the_last_500() -> None:
    history = SendHistory()
    for seq in range(1, 601):
        history.record(seq, Message.of(("t", "x"), ("n", str(seq))))
    assert len(history) == 500
    assert history.resend(100, 0.0) == (ResendVerdict.TOO_LOW, None)
    assert history.resend(601, 0.0) == (ResendVerdict.TOO_HIGH, None)
    verdict, msg = history.resend(101, 0.0)
    assert verdict is ResendVerdict.RESEND
    assert msg is not None and msg.get("n") == "101"


def test_history_resend_guard_is_240ms() -> None:
    history = SendHistory()
    history.record(1, Message.of(("t", "x")))
    assert history.resend(1, 5.0)[0] is ResendVerdict.RESEND
    assert history.resend(1, 5.2)[0] is ResendVerdict.TOO_RECENT
    assert history.resend(1, 5.24)[0] is ResendVerdict.RESEND
    assert history.resend(1, 5.3)[0] is ResendVerdict.TOO_RECENT


def test_history_not_found_inside_the_range() -> None:
    history = SendHistory()
    history.record(1, Message.of(("t", "x")))
    history.record(3, Message.of(("t", "x")))
    assert history.resend(2, 0.0) == (ResendVerdict.NOT_FOUND, None)
    assert ResendVerdict.NOT_FOUND.value == "seqno not found"
    assert ResendVerdict.TOO_LOW.value == "seqno too low"
