"""Where the timeline puts its step labels, and that it draws a trace (no lab needed)."""

from __future__ import annotations

from pathlib import Path

from lab.bench.plot import LABEL_LEVELS, draw, html_page, label_levels
from lab.bench.timeline import Mark, Segment, Timeline


def test_labels_far_apart_share_the_first_row() -> None:
    marks = [Mark(0.0, "m", "a"), Mark(5.0, "m", "b"), Mark(9.0, "m", "c")]
    assert label_levels(marks, span=10.0) == [0, 0, 0]


def test_close_labels_go_to_the_next_free_row() -> None:
    marks = [Mark(0.0, "s", "peer_dead master"), Mark(0.05, "s", "takeover"), Mark(9.0, "s", "x")]
    assert label_levels(marks, span=10.0) == [0, 1, 0]


def test_more_close_labels_than_rows_reuse_the_row_that_frees_first() -> None:
    marks = [Mark(i * 0.01, "s", "step") for i in range(LABEL_LEVELS + 1)]
    levels = label_levels(marks, span=10.0)
    assert levels[:LABEL_LEVELS] == list(range(LABEL_LEVELS))
    assert levels[LABEL_LEVELS] == 0


def test_draw_and_page(tmp_path: Path) -> None:
    timeline = Timeline("t", -1.0, 3.0, ["master", "slave"])
    timeline.states = {"master": [Segment(-1.0, 3.0, "active")], "slave": []}
    timeline.ticks = {"master eth1": [-0.5, 0.0]}
    timeline.holders = {"master": [Segment(-1.0, 3.0, "master")]}
    timeline.http_ok, timeline.http_fail = [0.1], [0.2]
    timeline.marks = [Mark(0.0, "master", "poweroff master")]
    picture = draw(timeline, tmp_path / "t.svg")
    assert "<svg" in picture.read_text()
    page = html_page(picture, "a <title>", {"HTTP outage": "1.000 s"}, tmp_path / "t.html")
    text = page.read_text()
    assert "a &lt;title&gt;" in text and "data:image/svg+xml;base64," in text
