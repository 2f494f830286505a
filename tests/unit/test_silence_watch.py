"""hbnode.rm.liveness.SilenceWatch: the early isolation verdict counts only the silence
the daemon was there to hear (virtual time, no daemon)."""

from __future__ import annotations

from hbnode.rm.liveness import SilenceWatch

WARNTIME = 0.75  # the lab's fast profile


def _watch() -> SilenceWatch:
    watch = SilenceWatch(["slave", "172.16.254.1"], WARNTIME)
    watch.listening(0.0)
    watch.heard_from("slave", 0.0)
    watch.heard_from("172.16.254.1", 0.0)
    return watch


def _run(watch: SilenceWatch, start: float, end: float, step: float = 0.25) -> list[bool]:
    """The daemon's turns from ``start`` to ``end`` with nothing heard: the verdicts."""
    verdicts = []
    now = start
    while now <= end + 1e-9:
        watch.listening(now)
        verdict = watch.verdict(now)
        if verdict is not None:
            verdicts.append(verdict)
        now = round(now + step, 6)
    return verdicts


def test_silence_while_listening_for_warntime_is_the_verdict() -> None:
    watch = _watch()
    assert _run(watch, 0.25, 0.5) == []
    assert _run(watch, 0.75, 0.75) == [True]
    assert watch.stalls == 0


def test_a_stalled_daemon_does_not_count_its_stall_as_silence() -> None:
    # Heard at 0, turns at 0.25 and 0.5, then the process is held until 1.5 (CI: a
    # lab node stalled a second on a saturated machine). At 1.5 it has listened for
    # 0.5 s only: no verdict; 0.25 s more of silence makes warntime.
    watch = _watch()
    assert _run(watch, 0.25, 0.5) == []
    assert _run(watch, 1.5, 1.5) == []
    assert watch.stalls == 1
    assert _run(watch, 1.75, 1.75) == [True]


def test_what_the_first_input_after_a_stall_brings_is_heard_then() -> None:
    watch = _watch()
    _run(watch, 0.25, 0.5)
    watch.heard_from("slave", 1.5)  # the peer's queued status, read on waking
    watch.listening(1.5)
    assert watch.heard["slave"] == 1.5  # not moved on past now
    assert watch.verdict(1.5) is None
    assert _run(watch, 1.75, 2.0) == []
    assert _run(watch, 2.25, 2.25) == [True]  # 0.75 s after that status


def test_contact_ends_the_verdict() -> None:
    watch = _watch()
    assert _run(watch, 0.25, 0.75) == [True]
    watch.heard_from("172.16.254.1", 1.0)
    watch.listening(1.0)
    assert watch.verdict(1.0) is False
