"""Recording, replay, the terminal view's text and the web server, without a lab:
a replay is what a class watches without root, so it is tested as such."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from rich.console import Console

from lab.errors import LabError
from lab.live import term
from lab.live.layout import layout
from lab.live.model import FORMAT, LinkView, NodeView, Snapshot, VipView
from lab.live.record import Recorder, Replay, load
from lab.live.web import make_app
from lab.topology import REFERENCE


def hello() -> dict[str, Any]:
    return {"format": FORMAT, "mode": "live", "backend": "netns", "controls": True,
            "layout": layout(REFERENCE), "cluster": ["master", "slave"]}  # fmt: skip


def snapshot(seq: int, holder: str, t: float) -> dict[str, Any]:
    nodes = [
        NodeView(name, "node", "on", "hbnode", "running", "active", {}, [LinkView("eth1", "up")])
        for name in ("master", "slave")
    ]
    vip = VipView("192.168.0.38", "eth0:0", [holder], [holder])
    code = "0" if holder == "master" else "1"
    events = [(t, "slave", f"event {seq}")]
    return Snapshot(t, seq, "up", "netns", nodes, vip, probe=code * seq, events=events).to_json()


def record(path: Path, count: int = 5, step: float = 0.02) -> None:
    recorder = Recorder(path, hello())
    for seq in range(1, count + 1):
        recorder(snapshot(seq, "master" if seq < 3 else "slave", 1000.0 + seq * step))
    recorder.close()


@pytest.mark.parametrize("name", ["run.jsonl", "run.jsonl.gz"])
def test_record_then_load(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    record(path)
    first, snapshots = load(path)
    assert first["format"] == FORMAT and first["layout"] == layout(REFERENCE)
    assert [s["seq"] for s in snapshots] == [1, 2, 3, 4, 5]
    assert snapshots[4]["vip"]["holders"] == ["slave"]


def test_load_refuses_what_is_not_a_recording(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "other"}\n{}\n')
    with pytest.raises(LabError, match="not a recording"):
        load(bad)
    with pytest.raises(LabError, match="cannot read"):
        load(tmp_path / "missing.jsonl")


def test_replay_plays_in_order_with_its_timing(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    record(path, step=0.05)
    replay = Replay(path)
    seen: list[tuple[int, float]] = []
    replay.subscribe(lambda snap: seen.append((snap["seq"], time.monotonic())))
    started = time.monotonic()
    replay.start()
    deadline = time.monotonic() + 10
    while len(seen) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    replay.stop()
    assert [seq for seq, _ in seen] == [1, 2, 3, 4, 5]
    assert seen[-1][1] - started >= 0.2 * 0.9  # four gaps of 50 ms, played as recorded
    assert replay.hello()["mode"] == "replay" and replay.hello()["controls"] is False
    assert replay.latest is not None and replay.latest["replay"] == [5, 5]


def test_terminal_view_text() -> None:
    snap = snapshot(4, "slave", 1000.0)
    snap["vip"]["holders"] = ["master", "slave"]
    snap["vip"]["split"] = True
    console = Console(width=120, record=True, color_system=None)
    console.print(term.render(hello(), snap, 120, 40))
    text = console.export_text()
    assert "held by master and slave" in text
    assert "ARP answers: slave" in text
    assert "ssss" in text  # four probes served by slave
    assert "event 4" in text


@contextlib.contextmanager
def serving(source: Any) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(source, None), host="127.0.0.1", port=port,
                            log_level="warning", timeout_graceful_shutdown=1)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_web_serves_a_replay_over_sse(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl.gz"
    record(path, count=40, step=0.05)
    replay = Replay(path, loop=True)
    replay.start()
    try:
        with serving(replay) as url:
            page = urllib.request.urlopen(url + "/", timeout=5).read().decode()
            assert "/static/app.js" in page and "http" not in page.replace("http://VIP", "")
            assert b"EventSource" in urllib.request.urlopen(url + "/static/app.js").read()
            events: list[str] = []
            with urllib.request.urlopen(url + "/events", timeout=5) as stream:
                for raw in stream:
                    line = raw.decode().strip()
                    if line.startswith("event:"):
                        events.append(line.split(":", 1)[1].strip())
                    if events.count("state") >= 3:
                        break
            assert events[0] == "hello" and events.count("state") >= 3
            request = urllib.request.Request(
                url + "/api/action",
                data=json.dumps({"kind": "poweroff", "node": "master"}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            assert refused.value.code == 409  # a replay has no lab: nothing to power off
    finally:
        replay.stop()


def test_web_binds_loopback_only() -> None:
    from lab.live import web

    assert web.HOST == "127.0.0.1"
