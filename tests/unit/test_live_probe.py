"""The live model's page probe (lab.live.probe): what the model reads is a copy."""

from __future__ import annotations

from lab.live.probe import LiveProbe


def _probe(answers: list[str | None]) -> LiveProbe:
    replies = iter(answers)
    return LiveProbe(lambda: "hblab-client", "192.168.0.38", fetch=lambda *_: next(replies))


def test_recent_is_a_copy_the_probe_thread_cannot_change_under_the_reader() -> None:
    probe = _probe(["master", None, "slave"])
    probe.probe_once()
    probe.probe_once()
    seen = probe.recent()
    probe.probe_once()  # what the probe's thread does while the model reads
    assert [server for _, server in seen] == ["master", None]
    assert [server for _, server in probe.recent()] == ["master", None, "slave"]


def test_no_client_no_sample() -> None:
    probe = LiveProbe(lambda: None, "192.168.0.38", fetch=lambda *_: "master")
    probe.probe_once()
    assert probe.recent() == ()
