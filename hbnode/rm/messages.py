"""The R1 messages the resource manager sends (protocol.md §3.2), field for field.

Only the caller's fields are built here, in the order a real Heartbeat 3.0.6
puts them on the wire; the messaging core appends src/srcuuid/seq/hg/ts/ld/ttl.
ipfail's messages carry their own ``src`` in second place (ipfail sets it and
the core overwrites it in place), so they include it. The field orders are
checked against the capture of two real nodes (tests/unit/test_rm_wire.py).
"""

from __future__ import annotations

import enum

from hbnode.message import Message
from hbnode.rm.hold import Hold


class T(enum.StrEnum):
    """Message types (``t=``) the resource layer sends or reacts to."""

    STARTING = "starting"
    RESOURCE = "resource"
    IP_REQUEST = "ip-request"
    IP_REQUEST_RESP = "ip-request-resp"
    ASK_RESOURCES = "ask_resources"
    HB_TAKEOVER = "hb_takeover"
    SHUTDONE = "shutdone"
    STONITH = "stonith"
    CLSTAT = "hbapi-clstat"
    NUM_PING_NODES = "num_ping_nodes"
    YOU_ARE_DEAD = "you_are_dead"
    ABORT_GIVEUP = "abort_giveup"


class Ask(enum.StrEnum):
    """``ask_resources info=``: the three steps of the standby protocol (§4.5)."""

    ME = "me"  # G: I want to go standby for rsc_hold
    OTHER = "other"  # O: I can take them
    DONE = "done"  # G: released / O: acquired


# -- info= values of resource reports -------------------------------------------------
INFO_SHUTDOWN = "shutdown"
INFO_STANDBY = "standby"
INFO_MACH_DOWN = "mach_down"
INFO_REQ_OUR = "req_our_resources()"

IPFAIL = "ipfail"  # API client name in from_id/to_id
CLIENT_GEN = "0"


def _msg(*pairs: tuple[str, str]) -> Message:
    """A message of plain-str fields (enum members become their wire text)."""
    return Message.of(*((name, str(value)) for name, value in pairs))


def starting() -> Message:
    """nice_failback start: "I am starting, tell me what you hold"."""
    return _msg(("t", T.STARTING))


# hbnode's own field on a starting node's report: "I am starting too, and I negotiate
# at once" (Heartbeat ignores fields it does not know; docs/differences.md).
QUICK_START = "hbnode_quickstart"
# hbnode's own field on every full report: "a partition heal does not restart me; I settle
# what both sides hold by the heal rules (hbnode.rm.partition)". A peer whose reports lack
# it is taken for a real Heartbeat, which restarts (partition.quiet_after_heal).
HEAL_FIELD, HEAL_IN_PLACE = "hbnode_heal", "keep"


def resource_report(
    hold: Hold, stable: bool, info: str | None = None, *, starting: bool = False
) -> Message:
    """``resource rsc_hold rtype=full isstable [info]``: what we hold, and if we are settled.

    ``starting``: we are negotiating our start, and say we can do it without
    Heartbeat's RQSTDELAY wait (:mod:`hbnode.rm.startup`).
    """
    msg = _msg(
        ("t", T.RESOURCE),
        ("rsc_hold", hold.text),
        ("rtype", "full"),
        ("isstable", "1" if stable else "0"),
    )
    if info is not None:
        msg.add("info", info)
    if starting:
        msg.add(QUICK_START, "1")
    msg.add(HEAL_FIELD, HEAL_IN_PLACE)
    return msg


def mach_down_report() -> Message:
    """What Heartbeat's mach_down script says when its takeover is done (no rtype)."""
    return _msg(("t", T.RESOURCE), ("rsc_hold", Hold.FOREIGN.text), ("info", INFO_MACH_DOWN))


def ip_request(key: str) -> Message:
    """legacy: "whoever holds this group, please release it"."""
    return _msg(("t", T.IP_REQUEST), ("ipaddr", key))


def ip_request_resp(dest: str, key: str, weown: bool) -> Message:
    """The answer to ip-request, or to ourselves when nobody needs asking (HA_DONTASK)."""
    return _msg(
        ("t", T.IP_REQUEST_RESP),
        ("dest", dest),
        ("ipaddr", key),
        ("weown", "yes" if weown else "no"),
        ("ok", "OK"),
    )


def ask_resources(what: Hold, info: Ask) -> Message:
    """A standby protocol step, as hb_standby and harc write it to the FIFO."""
    return _msg(("t", T.ASK_RESOURCES), ("rsc_hold", what.text), ("info", info))


def ipfail_ask_resources(me: str, what: Hold) -> Message:
    """ipfail's own ``ask_resources … info=me`` (its API layout: src before info)."""
    return _msg(
        ("t", T.ASK_RESOURCES),
        ("rsc_hold", what.text),
        ("src", me),
        ("info", Ask.ME),
        ("from_id", IPFAIL),
        ("to_id", IPFAIL),
        ("client_gen", CLIENT_GEN),
    )


def hb_takeover(what: str) -> Message:
    """From the hb_takeover tool: the other node should go standby for the mirror set."""
    return _msg(("t", T.HB_TAKEOVER), ("rsc_hold", what))


def shutdone() -> Message:
    """All our resources are released; we are about to exit."""
    return _msg(("t", T.SHUTDONE), ("st", "dead"))


def stonith(node: str, result: str) -> Message:
    """After deciding on a dead node: ``n_stnth`` (no STONITH device), ``unneeded``, or
    a reset attempt's ``OK``/``badhost``/``bad`` (hb_resource.c send_stonith_msg)."""
    return _msg(("t", T.STONITH), ("node", node), ("result", result))


def clstat(me: str, join: bool) -> Message:
    """ipfail signed on (join) or off (leave): peers' ipfail sends its count on a join."""
    return _msg(
        ("t", T.CLSTAT),
        ("st", "join" if join else "leave"),
        ("from_id", IPFAIL),
        ("to_id", IPFAIL),
        ("src", me),
        ("info", "signon" if join else "signoff"),
        ("client_gen", CLIENT_GEN),
    )


def num_ping_nodes(me: str, dest: str, count: int) -> Message:
    """ipfail: how many ping nodes we can reach."""
    return _msg(
        ("t", T.NUM_PING_NODES),
        ("src", me),
        ("num_ping", str(count)),
        ("dest", dest),
        ("from_id", IPFAIL),
        ("to_id", IPFAIL),
        ("client_gen", CLIENT_GEN),
    )


def ipfail_verdict(kind: T, me: str, dest: str) -> Message:
    """ipfail's ``you_are_dead`` or ``abort_giveup`` to ``dest``."""
    return _msg(
        ("t", kind),
        ("src", me),
        ("dest", dest),
        ("from_id", IPFAIL),
        ("to_id", IPFAIL),
        ("client_gen", CLIENT_GEN),
    )
