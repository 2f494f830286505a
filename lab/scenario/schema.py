"""The JSON schema of a scenario file (checked with jsonschema, problems as file:line).

The shape only: which keys exist, their types, durations and names. What a schema
cannot say (a node the topology lacks, a step name used twice, one kind per item)
is checked by lab.scenario.load with the same ``file:line`` answers.
"""

from __future__ import annotations

from typing import Any

from lab.badnews import NAMED
from lab.faults import NETEM_KEYS
from lab.hafiles import PROFILES
from lab.scenario import duration

DURATION = duration.SCHEMA
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,11}$", "x-error": "not a host name"}
_IFACE = {"type": "string", "pattern": "^[a-z][a-z0-9]{0,7}$", "x-error": "not an interface"}
_TAP = {
    "type": "string",
    "pattern": "^[a-z][a-z0-9-]{0,11}:[a-z][a-z0-9]{0,7}$",
    "x-error": "want NODE:IFACE, e.g. slave:eth1",
}
_STEP_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$", "x-error": "want a word"}
_TEXTS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
_IMPL_SPEC = {"type": "string", "pattern": r"^[a-z0-9=,]+$", "x-error": "not an impl spec"}
_SCALARS = ["string", "number", "boolean"]
_SCOPE = {"enum": ["all", "local", "foreign", "failback"]}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": properties,
    }


def _node_or(obj: dict[str, Any]) -> dict[str, Any]:
    """A step written as ``poweroff: master`` or as a mapping."""
    return {"x-error": "want a node name, or a mapping", "oneOf": [_NAME, obj]}


_ON_IFACE = {"node": _NAME, "iface": _IFACE}
STEPS: dict[str, Any] = {
    "poweroff": _NAME,
    "poweron": _node_or(_object({"node": _NAME, "start": {"type": "boolean"}}, ("node",))),
    "crash": _NAME,
    "link": _object({**_ON_IFACE, "state": {"enum": ["up", "down"]}}, ("node", "iface", "state")),
    "netem": _object(
        {**_ON_IFACE, **{key: {"type": ["string", "number"]} for key in NETEM_KEYS}},
        ("node", "iface"),
    ),
    "clear": _object(_ON_IFACE, ("node", "iface")),
    "exec": _object(
        {
            "node": _NAME,
            "cmd": _TEXTS,
            "rc": {"oneOf": [{"type": "integer"}, {"const": "any"}]},
            "timeout": DURATION,
        },
        ("node", "cmd"),
    ),
    "service": _object(
        {
            "node": _NAME,
            "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
            "verb": {"enum": ["start", "stop", "restart", "reload"]},
        },
        ("node", "verb"),
    ),
    "hb_standby": _node_or(_object({"node": _NAME, "scope": _SCOPE}, ("node",))),
    "hb_takeover": _node_or(_object({"node": _NAME, "scope": _SCOPE}, ("node",))),
    "forge": _object(
        {
            "from": _NAME,
            "as": _NAME,
            "to": _NAME,
            "key": {
                "type": "string",
                "pattern": r"^\s*\d+\s+(md5|sha1|crc)(\s+\S.*)?$",
                "x-error": "want an authkeys key line, e.g. '3 md5 Hello!'",
            },
            "every": DURATION,
            "for": DURATION,
        },
        ("from", "as", "to", "for"),
    ),
    "wait": DURATION,
}
STEP_COMMON = {"name": _STEP_NAME, "at": DURATION}

_LOG = _object(
    {"node": _NAME, "contains": {"type": "string"}, "regex": {"type": "string"}}, ("node",)
)
_EVENT = _object(
    {"node": _NAME, "step": {"type": "string"}, "fields": {"type": "object"}}, ("node", "step")
)
_PACKET = _object(
    {
        "on": _TAP,
        "t": {"type": "string"},
        "src": {"type": "string"},
        "auth": {"enum": ["ok", "bad"]},
        "fields": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
    },
    ("on",),
)
_GARP = _object({"on": _TAP, "ip": {"type": "string"}, "from": _NAME}, ("on",))
_WINDOW = _object({"max": DURATION, "min": DURATION, "by": {"enum": ["arp", "addr"]}})
_HOLDERS = {
    "x-error": "want a node, a list of nodes, none, or {one_of: [nodes]}",
    "anyOf": [
        _NAME,
        {"const": "none"},
        {"type": "array", "items": _NAME, "minItems": 1},
        _object({"one_of": {"type": "array", "items": _NAME, "minItems": 1}}, ("one_of",)),
    ],
}
_FENCED = {
    "x-error": "want a node, a list of nodes, none, or {any_of: [nodes]}",
    "anyOf": [
        _NAME,
        {"const": "none"},
        {"type": "array", "items": _NAME, "minItems": 1},
        _object({"any_of": {"type": "array", "items": _NAME, "minItems": 1}}, ("any_of",)),
    ],
}
CHECKS: dict[str, Any] = {
    "holder": _HOLDERS,
    "fenced": _FENCED,
    "page": {
        "x-error": "want a node, a list of nodes (any of them), or none",
        "anyOf": [_NAME, {"const": "none"}, {"type": "array", "items": _NAME, "minItems": 1}],
    },
    "two_holders": _WINDOW,
    "no_holder": _object({**_WINDOW["properties"], "longest": {"type": "boolean"}}),
    "outage": _object({"max": DURATION, "min": DURATION}),
    "log": _object({**_LOG["properties"], "absent": {"type": "boolean"}}, ("node",)),
    "event": _object({**_EVENT["properties"], "absent": {"type": "boolean"}}, ("node", "step")),
    "cl_status": _object(
        {
            "on": _NAME,
            "node": _NAME,
            "link": _IFACE,
            "resources": {"type": "boolean"},
            "is": _TEXTS,
        },
        ("on", "is"),
    ),
    "packet": _object({**_PACKET["properties"], "seen": {"type": "boolean"}}, ("on",)),
    "garp": _object({**_GARP["properties"], "seen": {"type": "boolean"}}, ("on",)),
    "order": {
        "type": "array",
        "minItems": 2,
        "items": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
            "properties": {
                "log": _LOG,
                "event": _EVENT,
                "packet": _PACKET,
                "garp": _GARP,
                "step": _STEP_NAME,
            },
        },
    },
    "node": _object(
        {
            "name": _NAME,
            "power": {"enum": ["on", "off"]},
            "daemon": {"enum": ["running", "stopped"]},
        },
        ("name",),
    ),
    "exec": _object(
        {
            "node": _NAME,
            "cmd": _TEXTS,
            "rc": {"type": "integer"},
            "contains": _TEXTS,
            "lacks": _TEXTS,
        },
        ("node", "cmd"),
    ),
}
CHECK_COMMON = {
    "within": DURATION,
    "hold": DURATION,
    "for": DURATION,
    "after": _STEP_NAME,
    "impl": {"type": "array", "items": _IMPL_SPEC, "minItems": 1},
    "hint": {"type": "string"},
    "name": {"type": "string"},
}
CHECK = {
    "type": "object",
    "additionalProperties": False,
    "properties": {**CHECKS, **CHECK_COMMON},
}
STEP = {
    "type": "object",
    "additionalProperties": False,
    "properties": {**STEPS, **STEP_COMMON, "expect": {"type": "array", "items": CHECK}},
}
_IMPLS_BY_NODE = {"type": "object", "additionalProperties": {"enum": ["hbnode", "heartbeat"]}}
LAB = _object(
    {
        "impl": {"x-error": "want hbnode, heartbeat, or {master: …, slave: …}",
                 "oneOf": [_IMPL_SPEC, _IMPLS_BY_NODE]},
        "impls": {"type": "array", "items": _IMPL_SPEC, "minItems": 1},
        "profile": {"enum": sorted(PROFILES)},
        "set": {"type": "object", "additionalProperties": {"type": _SCALARS}},
        "config": {"type": "string"},
        "backend": {"enum": ["netns", "docker"]},
        "topology": {"type": "string"},
        "start": {"type": "boolean"},
        "fencing": {"type": "boolean"},
    }
)  # fmt: skip
EXPECT_LOG = _object(
    {
        "line": {"enum": sorted(NAMED)},
        "pattern": {"type": "string"},
        "why": {"type": "string", "minLength": 1},
        "nodes": {"type": "array", "items": _NAME, "minItems": 1},
    },
    ("why",),
)
SCHEMA: dict[str, Any] = _object(
    {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "lab": LAB,
        "steps": {"type": "array", "items": STEP},
        "expect": {"type": "array", "items": CHECK},
        "check": {"type": "array", "items": CHECK},
        "check_at": _STEP_NAME,
        "tags": {"type": "array", "items": _STEP_NAME},
        "expect_log": {"type": "array", "items": EXPECT_LOG},
    }
)
