"""The page's buttons: the lab's own faults, run on a fresh view of the lab's record.

Each action is one LabBase call (or one tool run inside a node), checked first:
an unknown action, node or interface is refused with a one-line LabError. A fresh
lab object is made for each, so a node powered on from a shell meanwhile is seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lab.backends import Lab, make_lab
from lab.errors import LabError

TOOL_TIMEOUT = 30.0
_PERCENT = re.compile(r"^\d{1,3}%$")


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # poweroff, poweron, crash, link, netem, standby, takeover
    node: str
    iface: str = ""
    arg: str = ""  # link: up/down; netem: "30%" or "clear"

    def describe(self) -> str:
        words = [self.kind, self.node, self.iface, self.arg]
        if self.kind == "netem" and self.arg != "clear":
            words[3] = f"loss {self.arg}"
        return " ".join(w for w in words if w)


KINDS = ("poweroff", "poweron", "crash", "link", "netem", "standby", "takeover")


def parse(data: object) -> Action:
    """An action from the page's JSON ({"kind": …, "node": …, "iface": …, "arg": …})."""
    if not isinstance(data, dict):
        raise LabError("an action is a JSON object")
    fields = {k: str(data.get(k, "")) for k in ("kind", "node", "iface", "arg")}
    action = Action(**fields)
    if action.kind not in KINDS:
        raise LabError(f"unknown action {action.kind!r} ({', '.join(KINDS)})")
    if action.kind == "link" and action.arg not in ("up", "down"):
        raise LabError("link wants up or down")
    if action.kind == "netem" and not (action.arg == "clear" or _PERCENT.match(action.arg)):
        raise LabError("netem wants a loss such as 30% or clear")
    if action.kind in ("link", "netem") and not action.iface:
        raise LabError(f"{action.kind} wants an interface")
    return action


def run(action: Action, backend: str | None, lab_of: Callable[[str | None], Lab] = make_lab) -> str:
    """Do it; returns what was done, in words. Raises LabError (one line) if refused."""
    lab = lab_of(backend)
    lab.host(action.node)  # an unknown node: LabError naming the nodes
    if action.kind in ("crash", "standby", "takeover") and action.node not in {
        h.name for h in lab.topo.cluster_nodes
    }:
        raise LabError(f"{action.kind} is for cluster nodes, not {action.node}")
    if action.kind == "poweroff":
        lab.poweroff(action.node)
    elif action.kind == "poweron":
        lab.poweron(action.node)
    elif action.kind == "crash":
        lab.crash(action.node)
    elif action.kind == "link":
        lab.link(action.node, action.iface, action.arg == "up")
    elif action.kind == "netem":
        lab.netem(action.node, action.iface, None if action.arg == "clear" else _loss(action))
    else:
        _tool(lab, action)
    return action.describe()


def _loss(action: Action) -> dict[str, str]:
    return {"loss": action.arg}


def _tool(lab: Lab, action: Action) -> None:
    """hb_standby / hb_takeover as the tutorial runs them on that node's implementation."""
    name = f"hb_{action.kind}"
    impl = lab.record(action.node).impl
    path = name if impl == "hbnode" else f"/usr/share/heartbeat/{name}"
    lab.run(action.node, [path], timeout=TOOL_TIMEOUT, check=True)
