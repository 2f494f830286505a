"""What the control socket's commands do: status, standby, takeover, client.

hbnode.control carries one JSON request and its reply over the socket; this
module answers it. A request is untrusted input (any local client in the
haclient group can send one): each field is checked here and turned into a typed
call on the node, and a bad field gets an ``error`` reply, never an exception.
``status`` is the snapshot ``cl_status`` and ``hbnode status --json`` read.
Sans-IO: the daemon passes in the time and its pid.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from hbnode import __version__
from hbnode.node import Node
from hbnode.rm import StandbyScope
from hbnode.rm.liveness import IPFAIL, ClientOp
from hbnode.rm.spec import AutoFailback

Reply = dict[str, Any]
E = TypeVar("E", bound=enum.StrEnum)


class Command(enum.StrEnum):
    """A request's ``cmd``."""

    STATUS = "status"
    STANDBY = "standby"
    TAKEOVER = "takeover"
    CLIENT = "client"


def answer(node: Node, request: dict[str, Any], now: float, *, pid: int) -> Reply:
    """The reply to one control request."""
    cmd = _member(Command, request.get("cmd"))
    if cmd is Command.STATUS:
        return snapshot(node, now, pid=pid)
    if cmd is Command.STANDBY or cmd is Command.TAKEOVER:
        return _standby(node, cmd, request.get("what") or StandbyScope.ALL, now)
    if cmd is Command.CLIENT:
        return _client(node, request, now)
    return {"error": f"unknown command {request.get('cmd')!r}"}


def _standby(node: Node, cmd: Command, what: object, now: float) -> Reply:
    scope = _member(StandbyScope, what)
    if scope is None:
        return {"error": f"{cmd}: want one of {', '.join(StandbyScope)}"}
    ask = node.standby if cmd is Command.STANDBY else node.takeover
    error = ask(scope, now)
    return {"ok": False, "error": error} if error else {"ok": True}


def _client(node: Node, request: dict[str, Any], now: float) -> Reply:
    """API clients (hbnode-ipfail) sign on, stay alive, sign off.

    A signon with ``"hold": true`` is answered ``"held": true``: the daemon then keeps
    the connection open and takes its closing as the client's end (Node.client_gone).
    """
    name = str(request.get("name") or "")
    if name != IPFAIL:
        return {"error": f"unknown client {name!r}"}
    if node.hacf.auto_failback is AutoFailback.LEGACY:
        # Heartbeat's ipfail refuses it too: it needs nice_failback.
        return {
            "error": "auto_failback legacy is not supported with ipfail; "
            "set auto_failback on or off"
        }
    op = _member(ClientOp, request.get("op"))
    if op is None:
        return {"error": f"unknown client op {request.get('op')!r}"}
    held = request.get("hold") is True
    if held and op is not ClientOp.SIGNON:
        return {"error": f"only signon holds its connection, not {op.value}"}
    node.client(name, op, now, pid=request.get("pid"), held=held)
    return {"ok": True, "held": True} if held else {"ok": True}


def snapshot(node: Node, now: float, *, pid: int) -> Reply:
    """``status``: the node's view of the cluster, its resources and its counters."""
    core, rm = node.core, node.rm
    nodes = []
    heard: dict[str, dict[str, float]] = {}  # node → link → seconds since its last packet
    for name in [*node.hacf.nodes, *node.ping_names]:
        links = {link: core.link_status(name, link) for link in core.links(name)}
        if name != node.me:
            heard[name] = _ages(node, name, now)
        nodes.append(
            {
                "name": name,
                "type": core.node_type(name),
                "status": core.node_status(name),
                "links": links,
            }
        )
    return {
        "node": node.me,
        "version": __version__,
        "pid": pid,
        "generation": node.generation,
        "uptime_s": round(now - node.started_at, 3),
        "comm_up": core.comm_up(),
        "nodes": nodes,
        "rscstatus": rm.rscstatus(),
        "holdings": rm.holdings(),
        "resources": rm.status(),
        "counters": core.counters(),
        "link_heard_s": heard,
        "parameters": dict(node.hacf.parameters),
        "stopping": node.stopping,
    }


def _ages(node: Node, name: str, now: float) -> dict[str, float]:
    ages = {}
    for link in node.core.links(name):
        last = node.core.link_last_heard(name, link)
        if last is not None:
            ages[link] = round(max(0.0, now - last), 3)
    return ages


def _member(kind: type[E], value: object) -> E | None:
    """The member whose value is exactly ``value`` (JSON may hold anything), or None."""
    if not isinstance(value, str):
        return None
    try:
        return kind(value)
    except ValueError:
        return None
