"""What the live-view tests share: `hblab web` as a real process, and a real Chromium.

The server is started as a user would (`python -m lab web --port P`), with this
test run's environment (HBLAB_PREFIX…), in its own session; stop() ends exactly
that process. Chromium is Debian's, driven by playwright for Python, headless,
with a fresh profile and no background networking (nothing leaves the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]


def lab_holders() -> list[str]:
    """The VIP's holders as `hblab status --json` tells them, from another process:
    playwright's sync API keeps an asyncio loop running in this one, and pyroute2's
    sync calls (the lab's netlink) cannot run under it."""
    done = subprocess.run(
        [sys.executable, "-m", "lab", "status", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return list(json.loads(done.stdout)["vip_holders"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def screenshot_dir(default: Path) -> Path:
    """HBLAB_SCREENSHOTS=docs (make web-screenshots) puts them where the README
    shows them; otherwise they stay in the test's own directory."""
    chosen = os.environ.get("HBLAB_SCREENSHOTS")
    path = REPO / chosen if chosen else default
    path.mkdir(parents=True, exist_ok=True)
    return path


class WebServer:
    def __init__(self, port: int, *extra: str) -> None:
        self.port = port
        self.extra = list(extra)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}/"

    def start(self, timeout: float = 20.0) -> None:
        argv = [sys.executable, "-m", "lab", "web", "--port", str(self.port), *self.extra]
        self.proc = subprocess.Popen(
            argv, cwd=REPO, stdin=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"hblab web exited with {self.proc.returncode}")
            with contextlib.suppress(OSError):
                if self.state().get("hello"):
                    return
            time.sleep(0.1)
        raise AssertionError(f"hblab web did not answer within {timeout:.0f} s")

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "api/state", timeout=2) as answer:
            return dict(json.loads(answer.read()))

    def stop(self) -> None:
        """SIGINT, as Ctrl-C: uvicorn shuts down, the model stops; SIGKILL if stuck."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A headless Debian Chromium page (playwright), closed whatever happens."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 980},
        )
        try:
            yield context.new_page()
        finally:
            context.close()
