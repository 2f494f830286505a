"""haresources' groups, each resource's status on a node, and CTS's ResourceAudit.

A resource is running on a node when CTS's own status script says so: the first
executable ``<dir>/<type>`` in CM_hb's ResourceDirs, run with the instance and
``status``; running if its first line matches ``OK|running`` or it exits 0.
Two lab changes: ``/etc/init.d`` joins the directories (the nodes are Debian
under CentOS paths, and have no /etc/rc.d), and a resource written as an IP
spec with a prefix or interface (``192.168.0.38/24/eth0:0``) is ``IPaddr``, as
Heartbeat's ResourceManager reads it (CTS's parser knew bare addresses only).

"Working correctly" (CTS: "remotely monitorable resources (like IP addresses)
*should* be monitored remotely") is asked from the client: the VIP's ARP who-has
is answered by the holder's MAC alone, and a service is served through the VIP
by its holder (the lab's page names the node that serves it).
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.cts.patterns import AUDIT_PAUSE, AUDIT_TRIES
from lab.errors import LabError

RESOURCE_DIRS = ("/etc/ha.d/resource.d", "/etc/rc.d/init.d", "/etc/rc.d/", "/etc/init.d")
STATUS_PATTERN = "OK|running"
_IP = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+(/.*)?$")


@dataclass(frozen=True, slots=True)
class Resource:
    type: str
    instance: str | None = None

    def __repr__(self) -> str:
        return f"{{{self.type}::{self.instance}}}" if self.instance else f"{{{self.type}}}"

    def status_script(self) -> str:
        """CTS's _ResourceOperation script for ``status`` (stderr joined to stdout)."""
        dirs = " ".join(RESOURCE_DIRS)
        instance = shlex.quote(self.instance or "")
        return (
            f'LIST="{dirs}"; T={shlex.quote(self.type)}; I={instance}; '
            'for dir in $LIST; do if [ -f "$dir/$T" -a -x "$dir/$T" ]; then '
            '"$dir/$T" $I status; exit $?; fi; done 2>&1; exit 1'
        )


def parse_groups(text: str) -> list[list[Resource]]:
    """The groups of an haresources file (comments, ``\\`` continuations, the
    owner dropped), each resource as CM_hb's ResourceGroups() builds it."""
    groups: list[list[Resource]] = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        group: list[Resource] = []
        for token in line.split()[1:]:
            if "::" in token:
                kind, _, instance = token.partition("::")
                group.append(Resource(kind, instance))
            elif _IP.match(token):
                group.append(Resource("IPaddr", token))
            else:
                group.append(Resource(token))
        groups.append(group)
    return groups


def first_owner(haresources: str) -> str | None:
    """The node named first on haresources' first group line (the group's owner)."""
    for line in haresources.replace("\\\n", " ").splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            return words[0]
    return None


class Prober:
    """Ask nodes and the client about resources (the lab-facing half of the audit)."""

    def __init__(
        self,
        run: Callable[[str, list[str]], tuple[int, str]],
        served_by: Callable[[Resource], str | None],
    ) -> None:
        self._run = run  # (node, argv) → (rc, stdout)
        self._served_by = served_by

    def is_running_on(self, resource: Resource, node: str) -> bool:
        try:
            rc, out = self._run(node, ["sh", "-c", resource.status_script()])
        except (LabError, OSError):
            return False
        first = out.splitlines()[0] if out.splitlines() else ""
        return bool(re.search(STATUS_PATTERN, first)) or rc == 0

    def is_working_correctly(self, resource: Resource, node: str) -> bool:
        return self._served_by(resource) == node


@dataclass
class AuditResult:
    ok: bool
    problems: list[str]


def audit_once(
    groups: list[list[Resource]], up_nodes: list[str], prober: Prober
) -> tuple[bool, list[str]]:
    """ResourceAudit._doaudit: (fatal, problems) for the nodes that should be up."""
    problems: list[str] = []
    fatal = False
    quorum = len(up_nodes) >= 1  # CM_hb.HasQuorum: one node up
    for group in groups:
        served_by: list[str] | None = None
        for resource in group:
            nodes = [n for n in up_nodes if prober.is_running_on(resource, n)]
            if not quorum and nodes:
                problems.append(f"Resource {resource!r} active without Quorum: {nodes}")
            elif not nodes and quorum:
                problems.append(f"Resource {resource!r} not served anywhere.")
            elif len(nodes) > 1:
                problems.append(f"Resource {resource!r} served too many times: {nodes}")
                fatal = True
            elif served_by is None:
                served_by = nodes
            elif served_by != nodes:
                problems.append(
                    f"Resource group resources{resource!r} running on different nodes: "
                    f"{nodes} vs {served_by}"
                )
                fatal = True
            if (
                not fatal
                and len(nodes) == 1
                and not prober.is_working_correctly(resource, nodes[0])
            ):
                problems.append(
                    f"Resource {resource!r} not operating properly.  "
                    f"Resource is running on {nodes[0]}"
                )
                fatal = True
    return fatal, problems


def resource_audit(
    groups: list[list[Resource]],
    up_nodes: Callable[[], list[str]],
    prober: Prober,
    pause: Callable[[float], None] = time.sleep,
) -> AuditResult:
    """ResourceAudit.__call__: up to five looks a second apart; a group running twice
    (or split, or not working) fails at once ("no tolerance granted")."""
    problems: list[str] = []
    for attempt in range(AUDIT_TRIES):
        fatal, problems = audit_once(groups, up_nodes(), prober)
        if not problems or fatal:
            break
        if attempt + 1 < AUDIT_TRIES:
            pause(AUDIT_PAUSE)
    return AuditResult(not problems, problems)


def stopped_node_audit(
    groups: list[list[Resource]], down_nodes: list[str], prober: Prober
) -> AuditResult:
    """hblab's own audit, beside CTS's: no resource runs on a powered node whose
    heartbeat is stopped (ResourceAudit only asks the nodes that should be up)."""
    problems = [
        f"Resource {resource!r} running on {node}, where heartbeat is stopped"
        for group in groups
        for resource in group
        for node in down_nodes
        if prober.is_running_on(resource, node)
    ]
    return AuditResult(not problems, problems)
