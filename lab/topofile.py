"""Topology files: the lab's hosts, segments, VIP and media as data people edit.

A YAML file (lab/topologies/reference.yaml is the tutorial's) is checked in two
steps, and every problem is reported as ``file:line: what is wrong``, all of them
at once: first its shape against a JSON schema (jsonschema), then what a schema
cannot say (an address outside its segment, a name used twice, a medium on an
interface a node lacks, …). Line numbers come from the YAML parser's marks.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from lab import yamlfile
from lab.topology import Host, Interface, Medium, Role, Segment, Topology, default_mac
from lab.yamlfile import FileProblems

ROLES = {"node": Role.CLUSTER_NODE, "ping": Role.PING_NODE, "client": Role.CLIENT}
MEDIA_ARGS = {"ucast": 1, "bcast": 1, "mcast": 5}  # words after the kind, iface included
# No dash in a host name: "<prefix>-<host>" must be told from other names (lab.cleanup).
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9]{0,11}$"}
_IFNAME = {"type": "string", "pattern": "^[a-z][a-z0-9]{0,7}$"}
_CIDR = {"type": "string", "pattern": r"^\d+\.\d+\.\d+\.\d+/\d+$"}
_INTERFACE_FORMS = "want ADDRESS/PREFIX, or {address: ..., segment: ..., mac: ...}"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["segments", "hosts", "vip", "media"],
    "properties": {
        "name": {"type": "string"},
        "segments": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _IFNAME,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["subnet"],
                "properties": {"subnet": _CIDR, "purpose": {"type": "string"}},
            },
        },
        "hosts": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _NAME,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["role", "interfaces"],
                "properties": {
                    "role": {"enum": sorted(ROLES)},
                    "interfaces": {
                        "type": "object",
                        "minProperties": 1,
                        "propertyNames": _IFNAME,
                        "additionalProperties": {
                            "x-error": _INTERFACE_FORMS,
                            "oneOf": [
                                _CIDR,
                                {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["address"],
                                    "properties": {
                                        "address": _CIDR,
                                        "segment": _IFNAME,
                                        "mac": {
                                            "type": "string",
                                            "pattern": "^([0-9a-f]{2}:){5}[0-9a-f]{2}$",
                                        },
                                    },
                                },
                            ],
                        },
                    },
                },
            },
        },
        "vip": {
            "type": "object",
            "additionalProperties": False,
            "required": ["address", "label", "owner"],
            "properties": {
                "address": _CIDR,
                "label": {"type": "string", "pattern": "^[a-z][a-z0-9]{0,7}:[0-9]+$"},
                "owner": _NAME,
                "services": {"type": "array", "items": {"type": "string", "minLength": 1}},
            },
        },
        "media": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": "^(ucast|bcast|mcast) "},
        },
    },
}


class TopologyError(FileProblems):
    """A topology file that cannot be used: every problem, one ``file:line:`` each."""


# -- loading ---------------------------------------------------------------------------------
def load_topology(path: Path, prefix: str, validate: bool = True) -> Topology:
    """Read, check and build a topology; TopologyError lists every problem."""
    where = str(path)
    marked = yamlfile.read(path, TopologyError)
    if validate:
        problems = list(yamlfile.schema_problems(marked, SCHEMA))
        if problems:
            raise TopologyError(where, problems)
    problems = []
    topo = _build(marked.data, prefix, where, marked, problems)
    if problems or topo is None:
        raise TopologyError(where, problems or [(1, "not a topology")])
    return topo


def _build(
    data: dict[str, Any],
    prefix: str,
    where: str,
    marked: yamlfile.Marked,
    problems: list[tuple[int, str]],
) -> Topology | None:
    def bad(path: yamlfile.DataPath, text: str) -> None:
        problems.append((marked.line(path), text))

    segments = tuple(
        Segment(name, f"br-{name}", ipaddress.IPv4Network(spec["subnet"], strict=False),
                spec.get("purpose", ""))
        for name, spec in data["segments"].items()
    )  # fmt: skip
    by_segment = {s.name: s for s in segments}
    hosts: list[Host] = []
    seen_addresses: dict[str, yamlfile.DataPath] = {}
    for name, spec in data["hosts"].items():
        interfaces = []
        for ifname, value in spec["interfaces"].items():
            path = ("hosts", name, "interfaces", ifname)
            value = {"address": value} if isinstance(value, str) else value
            segment = value.get("segment", ifname)
            address = ipaddress.IPv4Interface(value["address"])
            if segment not in by_segment:
                bad(path, f"no segment {segment!r} (segments: {', '.join(by_segment)})")
            elif address.network != by_segment[segment].subnet:
                bad(path, f"{address} is not in segment {segment} ({by_segment[segment].subnet})")
            if str(address.ip) in seen_addresses:
                other = seen_addresses[str(address.ip)]
                bad(path, f"{address.ip} is {other[1]}'s {other[3]} already")
            seen_addresses[str(address.ip)] = path
            mac = value.get("mac") or default_mac(address)
            interfaces.append(Interface(ifname, segment, address, mac))
        hosts.append(Host(name, ROLES[spec["role"]], tuple(interfaces)))
    nodes = [h for h in hosts if h.role is Role.CLUSTER_NODE]
    if len(nodes) != 2:
        bad(("hosts",), f"want exactly two hosts with role node (the design is two nodes), "
                        f"not {len(nodes)}")  # fmt: skip
    vip_spec = data["vip"]
    vip = ipaddress.IPv4Interface(vip_spec["address"])
    label, owner = vip_spec["label"], vip_spec["owner"]
    vip_iface = label.split(":", 1)[0]
    node_names = [h.name for h in nodes]
    if owner not in node_names:
        bad(("vip", "owner"), f"{owner!r} is not a node (nodes: {', '.join(node_names)})")
    vip_segment = next((s for s in segments if vip.ip in s.subnet), None)
    if vip_segment is None:
        bad(("vip", "address"), f"{vip} is in no segment")
    elif vip_iface != vip_segment.name:
        bad(("vip", "label"), f"{label}: the VIP's segment is {vip_segment.name}")
    elif any(h.interface(vip_iface) is None for h in nodes):
        bad(("vip", "label"), f"every node needs an interface {vip_iface} for the VIP")
    if str(vip.ip) in seen_addresses:
        bad(("vip", "address"), f"{vip.ip} is a host's address too")
    media = []
    for index, line in enumerate(data["media"]):
        words = line.split()
        kind, args = words[0], words[1:]
        if len(args) != MEDIA_ARGS[kind]:
            bad(("media", index), f"{kind} wants {MEDIA_ARGS[kind]} word(s) after it: {line!r}")
            continue
        if any(h.interface(args[0]) is None for h in nodes):
            bad(("media", index), f"{line!r}: every node needs an interface {args[0]}")
            continue
        media.append(Medium(kind, args[0], tuple(args[1:])))
    if problems:
        return None
    return Topology(
        prefix,
        segments,
        tuple(hosts),
        vip,
        label,
        owner,
        tuple(vip_spec.get("services", [])),
        tuple(media),
        data.get("name", Path(where).stem),
        where,
    )
