"""Become a daemon the classic way, and tell the starter whether we made it.

`service heartbeat start` must return only when the daemon runs (sockets open,
pid file written), and must fail with the reason if it could not start. The
parent waits on a pipe for the child's first word.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

READY = b"ok\n"
START_TIMEOUT = 30.0


def daemonize(body: Callable[[Callable[[str | None], None]], int]) -> int:
    """Run ``body(report)`` in a detached grandchild; return the starter's exit code.

    ``body`` calls ``report(None)`` once it is up, or ``report("why")`` when it fails.
    """
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        return _wait_for_child(read_end)
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    os.umask(0o022)
    _detach_stdio()
    reported = False

    def report(error: str | None) -> None:
        nonlocal reported
        if reported:
            return
        reported = True
        message = READY if error is None else f"{error}\n".encode()
        try:
            os.write(write_end, message)
        finally:
            os.close(write_end)

    code = 1
    try:
        code = body(report)
    finally:
        report(f"hbnode exited during start-up (code {code})")
        os._exit(code)


def _wait_for_child(read_end: int) -> int:
    import select

    ready, _, _ = select.select([read_end], [], [], START_TIMEOUT)
    data = os.read(read_end, 4096) if ready else b""
    os.close(read_end)
    if data == READY:
        return 0
    reason = data.decode(errors="replace").strip() or "no answer from the daemon"
    print(f"hbnode: {reason}", file=sys.stderr)
    return 1


def _detach_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
