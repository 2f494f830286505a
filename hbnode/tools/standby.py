"""hb_standby and hb_takeover for hbnode (protocol.md §8).

``hb_standby [all|local|foreign|failback]``: give resources to the peer (no
argument means all; failback means foreign). ``hb_takeover [...]``: ask the peer
to give us resources (the peer mirrors the set: local ↔ foreign). Both only ask;
the resource manager runs the standby protocol with the peer.
"""

from __future__ import annotations

import sys

from hbnode.control import ControlError, request
from hbnode.rm.scope import StandbyScope


def _run(command: str, argv: list[str]) -> int:
    name = "hb_standby" if command == "standby" else "hb_takeover"
    words = {scope.value: scope for scope in StandbyScope}  # exactly as typed, as Heartbeat's
    if len(argv) > 1 or (argv and argv[0] not in words):
        print(f"usage: {name} [{'|'.join(StandbyScope)}]", file=sys.stderr)
        return 1
    what = words[argv[0]] if argv else StandbyScope.ALL
    if command == "standby" and what is StandbyScope.FAILBACK:
        what = StandbyScope.FOREIGN
    try:
        reply = request(command, what=what.value)
    except ControlError:
        print("Heartbeat is not currently running.", file=sys.stderr)
        return 1
    if reply.get("error"):
        print(f"{name}: {reply['error']}", file=sys.stderr)
        return 1
    if command == "standby":
        print(f"Going standby [{what}].")
    return 0


def standby_main() -> int:
    return _run("standby", sys.argv[1:])


def takeover_main() -> int:
    return _run("takeover", sys.argv[1:])
