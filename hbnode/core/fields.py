"""Building the messages the core sends, and reading numbers out of received ones.

Field order is part of what gets signed and what a Heartbeat peer expects, so every
builder here lists its fields in the on-wire order of protocol.md §3.2 (checked
against the capture where it has an example), and :func:`stamp` appends the §3.1
control fields in their order.
"""

from __future__ import annotations

from dataclasses import dataclass

from hbnode.message import Field, FieldType, Message

NS_PREFIX = "NS_"  # types that are not sequenced and carry no ld (§3.1)
T_STATUS = "status"
T_NS_STATUS = "NS_st"
T_NS_ACK = "NS_ackmsg"
T_NS_REXMIT = "NS_rexmit"
T_NS_NAK = "NS_nak_rexmit"
T_REQNODES = "reqnodes"
T_REPNODES = "repnodes"
PING_STATUS = "ping"  # st= of a ping probe
PING_INFO = "ping"  # info= of a probe to a ``ping`` node
PING_GROUP_INFO = "ping_group"  # info= of a probe to a ``ping_group`` member
EMPTY_LIST = " "  # Heartbeat never sends an empty value: an empty delnodelist is " "


def is_unsequenced(msg_type: str) -> bool:
    """NS_ types skip sequencing: no seq, no ld, no history (§3.1, §3.3 step 3)."""
    return msg_type.startswith(NS_PREFIX)


@dataclass(frozen=True, slots=True)
class Stamp:
    """The §3.1 control fields of one outgoing message."""

    src: str
    srcuuid: bytes
    seq: int | None  # None for NS_ types
    hg: int
    ts: int  # wall-clock seconds
    ld: str | None  # None for NS_ types
    ttl: int
    destuuid: bytes | None = None


_CONTROL_NAMES = frozenset({"destuuid", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl"})


def stamp(msg: Message, control: Stamp) -> None:
    """Add the control fields after the caller's, as add_control_msg_fields does.

    A field the caller already has (``src`` from a FIFO script, say) is replaced
    where it stands; a new one is appended. Order matters: it is signed.
    """
    fields = [
        Field("src", FieldType.STRING, control.src),
        Field("srcuuid", FieldType.BINARY, control.srcuuid),
        *([] if control.seq is None else [Field("seq", FieldType.STRING, f"{control.seq:x}")]),
        Field("hg", FieldType.STRING, f"{control.hg:x}"),
        Field("ts", FieldType.STRING, f"{control.ts:x}"),
        *([] if control.ld is None else [Field("ld", FieldType.STRING, control.ld or "0")]),
        Field("ttl", FieldType.STRING, str(control.ttl)),
    ]
    if control.destuuid is not None:
        fields.insert(0, Field("destuuid", FieldType.BINARY, control.destuuid))
    for existing in msg.fields:
        if existing.name in _CONTROL_NAMES:
            break
    else:  # a message built here: every _put would append, in this order
        msg.fields.extend(fields)
        return
    if control.seq is None:
        msg.remove("seq")
    if control.ld is None:
        msg.remove("ld")
    for new in fields:
        _put(msg, new)


def _put(msg: Message, new: Field) -> None:
    for index, existing in enumerate(msg.fields):
        if existing.name == new.name:
            msg.fields[index] = new
            return
    msg.fields.append(new)


# -- builders (caller fields only; stamp() adds the rest) ------------------------
def status_message(st: str, dt_ms: int, *, protocol: bool) -> Message:
    msg = Message.of(("t", T_STATUS), ("st", st), ("dt", f"{dt_ms:x}"))
    if protocol:
        # protocol=1: we ACK and answer reqnodes, so a 3.0.x peer keeps flow control on.
        msg.add("protocol", "1")
    return msg


def rexmit_request(dest: str, seq: int) -> Message:
    # firstseq/lastseq are decimal, unlike every other number on the wire (§3.2).
    return Message.of(
        ("t", T_NS_REXMIT), ("dest", dest), ("firstseq", str(seq)), ("lastseq", str(seq))
    )


def rexmit_nak(dest: str, seq: int, reason: str) -> Message:
    return Message.of(("t", T_NS_NAK), ("firstseq", f"{seq:x}"), ("dest", dest), ("info", reason))


def ack_message(dest: str, seq: int) -> Message:
    return Message.of(("t", T_NS_ACK), ("dest", dest), ("ackseq", f"{seq:x}"))


def reqnodes_message(dest: str) -> Message:
    return Message.of(("t", T_REQNODES), ("dest", dest))


def repnodes_message(dest: str, nodes: list[str]) -> Message:
    # The capture shows repnodes starting with dest, then t; every name is followed
    # by a space ("master slave "), and an empty delnodelist is a single space.
    nodelist = "".join(f"{name} " for name in nodes) or EMPTY_LIST
    return Message.of(
        ("dest", dest), ("t", T_REPNODES), ("nodelist", nodelist), ("delnodelist", EMPTY_LIST)
    )


def ping_probe(name: str, *, group: bool, ts: int) -> Message:
    """The NS_st payload of an ICMP echo; the reply brings it back (§3.2, §4.6)."""
    return Message.of(
        ("t", T_NS_STATUS),
        ("st", PING_STATUS),
        ("info", PING_GROUP_INFO if group else PING_INFO),
        ("src", name),
        ("ts", f"{ts:x}"),
    )


# -- reading numbers a peer sent ------------------------------------------------
_HEX_DIGITS = "0123456789abcdefABCDEF"


def parse_hex(text: str | None) -> int | None:
    """A non-negative hex number without 0x (seq, hg, ts, dt, ackseq); None if bad."""
    # int(x, 16) alone would also take "0x1f", " 1f", "+1f" and "1_f".
    if text is None or not 0 < len(text) <= 16 or text.strip(_HEX_DIGITS):
        return None
    return int(text, 16)


def parse_decimal(text: str | None) -> int | None:
    """A non-negative decimal number (NS_rexmit firstseq/lastseq); None if bad."""
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    return int(text)
