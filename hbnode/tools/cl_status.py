"""cl_status for hbnode: Heartbeat's subcommands, output and exit codes.

The answers come from the daemon's status snapshot over the control socket.
Exit codes as Heartbeat's cl_status: 0 ok, 1 failure, 11 parameter error,
12 timeout, 13 unknown error.
"""

from __future__ import annotations

import sys
from typing import Any

from hbnode import HB_COMPAT_VERSION
from hbnode.control import ControlError, request
from hbnode.core.states import LinkStatus, NodeStatus, NodeType

OK, FAIL, BAD_PARAM, TIMEOUT, UNKNOWN = 0, 1, 11, 12, 13
USAGE = """Usage: cl_status <sub-command> [<options>] [<parameters>]
sub-commands: hbstatus [-v], listnodes [-n|-p|-v], nodestatus <node>, nodetype <node>,
  listhblinks [-v] <node>, hblinkstatus <node> <link>, rscstatus, hbparameter -p <name>"""


def _node(snapshot: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((n for n in snapshot["nodes"] if n["name"] == name.lower()), None)


def _err(text: str, code: int) -> int:
    print(f"ERROR: {text}", file=sys.stderr)
    return code


def _listnodes_verbose(snapshot: dict[str, Any]) -> None:
    for node in snapshot["nodes"]:
        print(f"\n{node['name']}\t{node['status']}\t(nodetype: {node['type']})")
        for link, state in node["links"].items():
            print(f"\t{link}\t{state}")


def _listnodes(snapshot: dict[str, Any], opts: list[str]) -> int:
    if "-v" in opts:
        _listnodes_verbose(snapshot)
        return OK
    wanted = {"-n": NodeType.NORMAL, "-p": NodeType.PING}.get(opts[0]) if opts else None
    for node in snapshot["nodes"]:
        if wanted is None or node["type"] == wanted:
            print(node["name"])
    return OK


def _nodestatus(snapshot: dict[str, Any], args: list[str]) -> int:
    node = _node(snapshot, args[0]) if args else None
    if node is None:
        print("Error. May be due to incorrect node name", file=sys.stderr)
        return BAD_PARAM
    print(node["status"])
    alive = (NodeStatus.ACTIVE, NodeStatus.UP, NodeStatus.PING)
    return OK if node["status"] in alive else FAIL


def _links(snapshot: dict[str, Any], args: list[str]) -> int:
    verbose = "-v" in args
    names = [a for a in args if a != "-v"]
    node = _node(snapshot, names[0]) if names else None
    if node is None:
        return _err("Cannot get heartbeat link list", UNKNOWN)
    for link, state in node["links"].items():
        print(f"\t{link}\t{state}" if verbose else f"\t{link}")
    return OK


def _linkstatus(snapshot: dict[str, Any], args: list[str]) -> int:
    node = _node(snapshot, args[0]) if len(args) == 2 else None
    state = node["links"].get(args[1]) if node else None
    if state is None:
        return _err("Cannot get heartbeat link status", UNKNOWN)
    print(state)
    return OK if state == LinkStatus.UP else FAIL


def _parameter(snapshot: dict[str, Any], args: list[str]) -> int:
    if len(args) != 2 or args[0] != "-p":
        return _err("hbparameter: wants -p <name>", BAD_PARAM)
    value = snapshot.get("parameters", {}).get(args[1])
    if value is None:
        return _err(f"Cannot get parameter {args[1]}'s value", FAIL)
    print(value)
    return OK


def _hbstatus(snapshot: dict[str, Any] | None, args: list[str]) -> int:
    if snapshot is None:
        print("Heartbeat is stopped on this machine.")
        return FAIL
    print("Heartbeat is running on this machine.")
    if "-v" in args:
        print(f"version:\t{HB_COMPAT_VERSION} (hbnode {snapshot.get('version', '?')})")
        print('managed by:\t"haresources"')
        _listnodes_verbose(snapshot)
    return OK


def run(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return OK if argv else BAD_PARAM
    command, args = argv[0], [a for a in argv[1:] if a != "-m"]
    try:
        snapshot: dict[str, Any] | None = request("status")
    except ControlError:
        snapshot = None
    if command == "hbstatus":
        return _hbstatus(snapshot, args)
    if snapshot is None:
        return _err("Cannot signon with heartbeat", FAIL)
    handlers = {
        "listnodes": _listnodes,
        "nodestatus": _nodestatus,
        "listhblinks": _links,
        "hblinkstatus": _linkstatus,
        "hbparameter": _parameter,
    }
    if command == "nodetype":
        node = _node(snapshot, args[0]) if args else None
        if node is None:
            return _err("Cannot get node type", BAD_PARAM)
        print(node["type"])
        return OK
    if command == "rscstatus":
        print(snapshot.get("rscstatus", "none"))
        return OK
    if command in handlers:
        return handlers[command](snapshot, args)
    return _err(f"{command}: invalid sub-command.", BAD_PARAM)


def main() -> int:
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
