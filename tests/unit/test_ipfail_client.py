"""hbnode-ipfail is a tiny process: the standard library's C modules, and a held signon."""

from __future__ import annotations

import ast
import json
import selectors
import socket
from pathlib import Path

from hbnode import control, respawn
from hbnode.daemon import _json
from hbnode.held_clients import MAX_HELD, HeldClients
from hbnode.rm.liveness import IPFAIL
from hbnode.tools import ipfail

# What `python3 -I -S` gives for free or for almost nothing (BENCHMARKS.md, "Idle cost").
CHEAP_MODULES = {"__future__", "_socket", "os", "pwd", "sys"}


def test_the_constants_are_the_daemon_s() -> None:
    assert str(control.CONTROL_SOCKET) == ipfail.CONTROL_SOCKET
    assert ipfail.CLIENT_NAME == IPFAIL
    assert ipfail.NO_RESPAWN_EXIT == respawn.NO_RESPAWN_EXIT
    assert Path(ipfail.__file__).resolve() == respawn.IPFAIL_SCRIPT


def test_it_imports_only_cheap_modules_at_start() -> None:
    tree = ast.parse(Path(ipfail.__file__).read_text())
    top_level = set()
    for node in tree.body:  # imports inside functions run on the way out only
        if isinstance(node, ast.Import):
            top_level |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            top_level.add(node.module or "")
    assert top_level <= CHEAP_MODULES, top_level - CHEAP_MODULES


def test_the_signon_request_asks_to_hold() -> None:
    line = ipfail.signon_request(4242)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {
        "cmd": "client",
        "op": "signon",
        "name": "ipfail",
        "pid": 4242,
        "hold": True,
    }


def test_it_reads_the_daemon_s_replies() -> None:
    assert ipfail.reply_error(_json({"ok": True, "held": True})) is None
    refused = _json({"error": "auto_failback legacy is not supported with ipfail"})
    assert ipfail.reply_error(refused) == "auto_failback legacy is not supported with ipfail"
    not_held = ipfail.reply_error(_json({"ok": True}))
    assert not_held is not None and "did not hold" in not_held
    assert ipfail.reply_error(b"") is not None


def test_a_held_connection_closing_is_reported_once() -> None:
    gone: list[str] = []
    with selectors.DefaultSelector() as selector:
        held = HeldClients(selector, gone.append)
        daemon_side, client_side = socket.socketpair()
        held.hold(daemon_side, "ipfail")
        client_side.sendall(b"chatter")  # ignored: nothing is expected on it
        for key, _ in selector.select(0):
            key.data(key.fileobj)
        assert gone == [] and held.conns
        client_side.close()  # the client exited or was killed
        for key, _ in selector.select(0):
            key.data(key.fileobj)
        assert gone == ["ipfail"] and not held.conns
        assert selector.get_map() is not None and len(selector.get_map()) == 0


def test_held_connections_are_bounded_and_closed_at_exit() -> None:
    with selectors.DefaultSelector() as selector:
        held = HeldClients(selector, lambda name: None)
        pairs = [socket.socketpair() for _ in range(MAX_HELD)]
        for daemon_side, _ in pairs:
            held.hold(daemon_side, "ipfail")
        assert not held.room()
        held.close()
        assert held.room()
        for _, client_side in pairs:
            assert client_side.recv(10) == b""  # the client sees the daemon go
            client_side.close()
