"""What the fields of R1 messages mean: the lab's table of protocol.md §3.1-3.2.

The codec only knows types (string, binary…); this table knows that ``seq`` is
hex, ``ttl`` decimal, ``srcuuid`` 16 raw bytes, and that ``firstseq`` is decimal
in ``NS_rexmit`` but hex in ``NS_nak_rexmit``. Tools use it to read numbers
(:func:`number`) and to say what in a message is out of the ordinary
(:func:`problems`).
"""

from __future__ import annotations

import enum
import re

from lab.hbcodec.message import Message


class Kind(enum.Enum):
    TEXT = "text"
    HEX = "hex"  # printed %x: lowercase, no 0x, no leading zeros
    DECIMAL = "decimal"  # printed %d
    UUID = "uuid"  # binary field, 16 raw bytes
    NODE_LIST = "node-list"  # "master slave ": each name followed by a space
    AUTH = "auth"  # "N digest"


# §3.1: appended to every outgoing message, in this order (destuuid first, auth last).
CONTROL_FIELDS = ("destuuid", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl", "auth")
# NS_ messages carry no seq and no ld (capture).
UNSEQUENCED_PREFIX = "NS_"

FIELD_KINDS: dict[str, Kind] = {
    "t": Kind.TEXT,
    "src": Kind.TEXT,
    "dest": Kind.TEXT,
    "srcuuid": Kind.UUID,
    "destuuid": Kind.UUID,
    "seq": Kind.HEX,
    "hg": Kind.HEX,
    "ts": Kind.HEX,
    "ld": Kind.TEXT,
    "ttl": Kind.DECIMAL,
    "auth": Kind.AUTH,
    "st": Kind.TEXT,
    "dt": Kind.HEX,  # the sender's deadtime in ms
    "protocol": Kind.DECIMAL,
    "ackseq": Kind.HEX,
    "firstseq": Kind.HEX,  # but decimal in NS_rexmit, see _OVERRIDES
    "lastseq": Kind.DECIMAL,
    "nodelist": Kind.NODE_LIST,
    "delnodelist": Kind.NODE_LIST,
    "isstable": Kind.DECIMAL,
    "num_ping": Kind.DECIMAL,
}
_OVERRIDES: dict[tuple[str, str], Kind] = {("NS_rexmit", "firstseq"): Kind.DECIMAL}

# §3.2: the caller's fields of each message type, in wire order (optional ones included).
MESSAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "status": ("st", "dt", "protocol"),
    "NS_st": ("st", "info", "src", "ts"),
    "NS_ackmsg": ("dest", "ackseq"),
    "NS_rexmit": ("dest", "firstseq", "lastseq"),
    "NS_nak_rexmit": ("firstseq", "dest", "info"),
    "reqnodes": ("dest",),
    "repnodes": ("dest", "nodelist", "delnodelist"),
    "starting": (),
    "resource": ("rsc_hold", "rtype", "isstable", "info"),
    "ip-request": ("ipaddr",),
    "ip-request-resp": ("dest", "ipaddr", "weown", "ok"),
    "ask_resources": ("rsc_hold", "info", "from_id", "to_id", "client_gen"),
    "hb_takeover": ("rsc_hold",),
    "shutdone": ("st",),
    "stonith": ("node", "result"),
    "hbapi-clstat": ("st", "from_id", "to_id", "src", "info", "client_gen"),
    "num_ping_nodes": ("src", "num_ping", "dest", "from_id", "to_id", "client_gen"),
    "you_are_dead": ("src", "num_ping", "dest", "from_id", "to_id", "client_gen"),
    "abort_giveup": ("src", "num_ping", "dest", "from_id", "to_id", "client_gen"),
    "query-cstatus": ("dest", "cn", "from_id"),
    "respond-cstatus": ("dest", "result", "cn", "to_id", "cs"),
}

# Values the catalogue lists for a few fields; anything else is worth a look.
CHOICES: dict[tuple[str, str], frozenset[str]] = {
    ("status", "st"): frozenset({"init", "up", "active"}),
    ("status", "protocol"): frozenset({"1"}),
    ("resource", "rsc_hold"): frozenset({"none", "local", "foreign", "all"}),
    ("ask_resources", "rsc_hold"): frozenset({"all", "local", "foreign"}),
    ("hb_takeover", "rsc_hold"): frozenset({"all", "local", "foreign", "failback"}),
    ("ip-request-resp", "weown"): frozenset({"yes", "no"}),
    ("shutdone", "st"): frozenset({"dead"}),
}

_CANONICAL = {
    Kind.HEX: re.compile(r"0|[1-9a-f][0-9a-f]*"),
    Kind.DECIMAL: re.compile(r"0|-?[1-9][0-9]*"),
}


def kind(message_type: str | None, name: str) -> Kind:
    """How field ``name`` of a ``t=message_type`` message is written."""
    return _OVERRIDES.get((message_type or "", name), FIELD_KINDS.get(name, Kind.TEXT))


def number(message: Message, name: str) -> int | None:
    """The first ``name`` of ``message`` read as the number the table says it is.

    None when absent, not a number field, or not written as Heartbeat writes it.
    """
    value = message.get(name)
    wanted = kind(message.type, name)
    pattern = _CANONICAL.get(wanted)
    if value is None or pattern is None or len(value) > 20 or not pattern.fullmatch(value):
        return None
    return int(value, 16 if wanted is Kind.HEX else 10)


def is_sequenced(message: Message) -> bool:
    """Does this message carry a ``seq`` (every type but ``NS_…``, §3.1)?"""
    return not (message.type or "").startswith(UNSEQUENCED_PREFIX)


def problems(message: Message) -> list[str]:
    """What a 3.0.6 sender would not have written: missing or misplaced control
    fields, a field the catalogue does not list, a number in the wrong base, a
    uuid that is not 16 bytes, a value outside the catalogue's choices."""
    found = []
    t = message.type
    required = ["t", "src", "ts"] + (["seq"] if is_sequenced(message) else [])
    found += [f"no {name}" for name in required if name not in message]
    if t is not None and t not in MESSAGE_FIELDS:
        found.append(f"unknown type {t!r}")
    elif t is not None:
        known = {"t", *MESSAGE_FIELDS[t], *CONTROL_FIELDS}
        found += [f"unexpected field {f.name!r}" for f in message.fields if f.name not in known]
    # src may stand where the caller put it (it is overwritten in place); the
    # others are appended in the order of the table.
    appended = [f.name for f in message.fields if f.name in CONTROL_FIELDS and f.name != "src"]
    if appended != sorted(appended, key=CONTROL_FIELDS.index):
        found.append(f"control fields out of order: {' '.join(appended)}")
    found += _value_problems(message)
    return found


def _value_problems(message: Message) -> list[str]:
    found = []
    t = message.type
    for f in message.fields:
        wanted = kind(t, f.name)
        if wanted is Kind.UUID and not (isinstance(f.value, bytes) and len(f.value) == 16):
            found.append(f"{f.name} is not 16 raw bytes")
        elif wanted in _CANONICAL and not (
            isinstance(f.value, str) and _CANONICAL[wanted].fullmatch(f.value)
        ):
            found.append(f"{f.name}={f.value!r} is not {wanted.value}")
        elif (t or "", f.name) in CHOICES and f.value not in CHOICES[(t or "", f.name)]:
            found.append(f"{f.name}={f.value!r} is not one of the catalogue's values")
    return found
