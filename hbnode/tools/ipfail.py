"""hbnode-ipfail: the ``respawn hacluster /usr/lib64/heartbeat/ipfail`` client.

Heartbeat's ipfail is an API client that compares how many ping nodes each side
sees and hands resources to the better-connected node. In hbnode the decision
itself lives in the resource manager (pure, unit-tested, and able to act without
a round trip through a client); this program is the switch that turns it on, so
that, as with Heartbeat, the policy runs exactly while the ``respawn`` line's
client is alive. It signs on over the control socket and keeps saying it is
alive; when it exits (or is killed), the daemon notices within
``CLIENT_TIMEOUT`` (hbnode.rm.liveness) and the policy stops.
"""

from __future__ import annotations

import os
import pwd
import signal
import sys
import time

from hbnode.control import ControlError, request
from hbnode.rm.liveness import IPFAIL, ClientOp

CLIENT_NAME = IPFAIL
ALIVE_INTERVAL = 1.0
NO_RESPAWN_EXIT = 100  # tells the daemon's respawn supervisor not to restart us


def drop_privileges(user: str) -> None:
    """Become ``user`` (the respawn line's user) if started as root."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--user":
        try:
            drop_privileges(args[1])
        except (KeyError, OSError) as exc:
            print(f"ipfail: cannot become {args[1]}: {exc}", file=sys.stderr)
            return NO_RESPAWN_EXIT
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        reply = request("client", op=ClientOp.SIGNON.value, name=CLIENT_NAME, pid=os.getpid())
    except ControlError as exc:
        print(f"ipfail: cannot sign on: {exc}", file=sys.stderr)
        return 1
    except _Stopped:
        return 0
    if reply.get("error"):
        # e.g. auto_failback legacy: Heartbeat's ipfail refuses it too, for good.
        print(f"ipfail: {reply['error']}", file=sys.stderr)
        return NO_RESPAWN_EXIT
    # Bounded by the daemon's lifetime: a failed request (daemon gone) ends the loop,
    # and TERM (the daemon stopping us) ends it at once, without a last request: the
    # daemon that sent it is busy shutting down and must not wait for us.
    try:
        while True:
            time.sleep(ALIVE_INTERVAL)
            request(
                "client", op=ClientOp.ALIVE.value, name=CLIENT_NAME, pid=os.getpid(), timeout=2.0
            )
    except ControlError:
        return 1
    except _Stopped:
        return 0


class _Stopped(Exception):
    pass


def _stop(_signum: int, _frame: object) -> None:
    raise _Stopped


if __name__ == "__main__":
    sys.exit(main())
