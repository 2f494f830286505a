"""hbnode-ipfail: the ``respawn hacluster /usr/lib64/heartbeat/ipfail`` client.

Heartbeat's ipfail is an API client that compares how many ping nodes each side
sees and hands resources to the better-connected node. In hbnode the decision
itself lives in the resource manager (pure, unit-tested, and able to act without
a round trip through a client); this program is the switch that turns it on, so
that, as with Heartbeat, the policy runs exactly while the ``respawn`` line's
client is alive.

It signs on over the control socket with ``"hold": true`` and then keeps the
connection open without another word, asleep in recv(). When it exits or is
killed the kernel closes the connection and the daemon turns the policy off at
once (hbnode.held_clients), as Heartbeat's API notices a client's IPC channel
closing; when the daemon goes away, recv() returns and the client ends too.
TERM (the daemon stopping it) ends it by the default action: there is nothing
to clean up that the kernel does not.

It is a process of its own that the daemon respawns, so what it costs counts in
the daemon's idle cost (BENCHMARKS.md, "Idle cost"). Hence it imports only the
standard library's C modules (``_socket``, ``pwd``): the daemon starts it with
``python3 -I -S`` (no site, no .pth files, no PYTHONPATH), and ``socket``,
``signal`` and ``json`` would pull in enum, selectors and re for 1.2 MiB more.
The few constants shared with the daemon are written out here; a unit test
keeps them equal to the daemon's own.
"""

from __future__ import annotations

import _socket
import os
import pwd
import sys

CONTROL_SOCKET = "/run/heartbeat/hbnode.ctl"  # hbnode.control.CONTROL_SOCKET
CLIENT_NAME = "ipfail"  # hbnode.rm.liveness.IPFAIL
NO_RESPAWN_EXIT = 100  # tells the daemon's respawn supervisor not to restart us
SIGNON_TIMEOUT = 5.0
MAX_REPLY = 64 * 1024


def signon_request(pid: int) -> bytes:
    """The one request: sign on and hold the connection (one JSON line)."""
    return b'{"cmd": "client", "op": "signon", "name": "%s", "pid": %d, "hold": true}\n' % (
        CLIENT_NAME.encode(),
        pid,
    )


def reply_error(reply: bytes) -> str | None:
    """Why the daemon refused us, or None if it holds the connection.

    The daemon's replies are its own ``json.dumps`` output: ``{"ok": true, "held": true}``
    or an object with ``"error"``. json is imported only to read an error's text,
    on the way out.
    """
    if b'"error"' in reply:
        import json

        try:
            return str(json.loads(reply).get("error"))
        except (ValueError, AttributeError):
            return reply.decode(errors="replace").strip()
    if b'"held": true' not in reply:
        return f"the daemon did not hold the connection: {reply[:200]!r}"
    return None


def drop_privileges(user: str) -> None:
    """Become ``user`` (the respawn line's user) if started as root."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


def _read_reply(sock: _socket.socket) -> bytes:
    data = b""
    while len(data) < MAX_REPLY and not data.endswith(b"\n"):  # bounded by MAX_REPLY
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--user":
        try:
            drop_privileges(args[1])
        except (KeyError, OSError) as exc:
            print(f"ipfail: cannot become {args[1]}: {exc}", file=sys.stderr)
            return NO_RESPAWN_EXIT
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(SIGNON_TIMEOUT)
        sock.connect(CONTROL_SOCKET)
        sock.sendall(signon_request(os.getpid()))
        error = reply_error(_read_reply(sock))
        if error is not None:
            # e.g. auto_failback legacy: Heartbeat's ipfail refuses it too, for good.
            print(f"ipfail: {error}", file=sys.stderr)
            return NO_RESPAWN_EXIT
        sock.settimeout(None)
        # Bounded by the daemon's lifetime: recv() returns b"" when it closes the
        # connection (it stopped or died); TERM (the daemon stopping us) kills us.
        while sock.recv(4096):
            pass  # the daemon says nothing on a held connection
        return 1
    except OSError as exc:
        print(f"ipfail: no daemon (or no longer) at {CONTROL_SOCKET}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # started by hand and stopped with ^C
        return 0
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
