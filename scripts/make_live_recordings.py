"""The two recordings docs/ ships for `hblab web --replay` (make live-recordings).

Each brings up a lab, starts `hblab web --record FILE` as a user would, presses the
page's buttons through its own API (/api/action), waits (polling, with deadlines)
for the cluster to settle, then stops the server with Ctrl-C and takes the lab down:

* docs/live-heartbeat-poweroff.jsonl.gz: the real Heartbeat 3.0.6 on both nodes;
  master is powered off, slave takes over, master comes back and takes the group
  back (auto_failback on);
* docs/live-hbnode-split-brain.jsonl.gz: hbnode on both nodes with the ping node;
  master's eth1 is pulled (cut from its peer and from the ping node): master lets
  go of the VIP before slave takes it, so there is never a second holder; the cable
  is plugged back and one holder remains.

Run as root from the repository, with a lab prefix of its own, e.g.
HBLAB_PREFIX=hbrec HBLAB_STATE_DIR=/var/lib/hbrec python3 scripts/make_live_recordings.py
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HBLAB = [sys.executable, "-m", "lab"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Web:
    def __init__(self, out: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [*HBLAB, "web", "--port", str(self.port), "--record", str(out)]
        self.proc = subprocess.Popen(argv, cwd=REPO, start_new_session=True)
        wait(lambda: self.latest() is not None, 20, "hblab web answers")

    def latest(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.url + "/api/state", timeout=2) as answer:
                return json.loads(answer.read()).get("latest")  # type: ignore[no-any-return]
        except OSError:
            return None

    def press(self, **action: str) -> None:
        request = urllib.request.Request(
            self.url + "/api/action",
            data=json.dumps(action).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            print("pressed", action, json.loads(answer.read()), flush=True)

    def holders(self) -> list[str]:
        snap = self.latest() or {}
        return list(snap.get("vip", {}).get("holders", ["?"]))

    def served_by(self, index: str) -> bool:
        snap = self.latest() or {}
        return str(snap.get("probe", ""))[-3:] == index * 3

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)


def wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)


def pause(seconds: float) -> None:
    """Let the class watch the settled picture for a while (part of the recording)."""
    time.sleep(seconds)


def lab(*argv: str) -> None:
    subprocess.run([*HBLAB, *argv], cwd=REPO, check=True)


def heartbeat_poweroff(out: Path) -> None:
    lab("up", "--impl", "heartbeat")
    web = Web(out)
    try:
        wait(lambda: web.holders() == ["master"] and web.served_by("0"), 30, "master serves")
        pause(4)
        web.press(kind="poweroff", node="master")
        wait(lambda: web.holders() == ["slave"] and web.served_by("1"), 30, "slave serves")
        pause(4)
        web.press(kind="poweron", node="master")
        wait(lambda: web.holders() == ["master"] and web.served_by("0"), 90, "failback")
        pause(4)
    finally:
        web.stop()
        lab("down")


def hbnode_split_brain(out: Path) -> None:
    lab("up", "--impl", "hbnode")
    web = Web(out)
    try:
        wait(lambda: web.holders() == ["master"] and web.served_by("0"), 30, "master serves")
        pause(4)
        web.press(kind="link", node="master", iface="eth1", arg="down")
        wait(lambda: web.holders() == ["slave"] and web.served_by("1"), 30, "slave serves")
        pause(5)
        web.press(kind="link", node="master", iface="eth1", arg="up")
        wait(lambda: len(web.holders()) == 1, 60, "one holder after the heal")
        pause(8)
    finally:
        web.stop()
        lab("down")


def main() -> int:
    docs = REPO / "docs"
    heartbeat_poweroff(docs / "live-heartbeat-poweroff.jsonl.gz")
    hbnode_split_brain(docs / "live-hbnode-split-brain.jsonl.gz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
