"""The core's statistics, for ``hbnode status`` and the lab: what was dropped and why,
what was lost, asked for, retransmitted and ACKed.

Most are counted from the events themselves, so an event and its counter cannot
disagree.
"""

from __future__ import annotations

from collections import Counter

from hbnode.core import events as ev

NAMES = (
    "received",  # messages handed to receive()
    "delivered",  # Delivered events (loopback included)
    "malformed",  # no src/t/ts/seq/hg, ts 0, bad numbers
    "unknown_node",  # not in ha.cf (autojoin none)
    "ping_over_udp",  # a ping node's name on a cluster link
    "replayed",  # an older generation (hg) than the one we know
    "early_generation",  # a newer hg on a non-status message, before its status
    "impostor",  # our own name with another generation
    "own_echo",  # our own packets coming back on a link
    "duplicate",
    "out_of_window",  # an old seq that was not missing
    "not_for_us",  # sequenced, but dest/destuuid names another node
    "lost",  # seqs found missing
    "seq_resets",  # gaps too wide to fill
    "rexmit_requested",  # NS_rexmit we sent
    "rexmit_received",  # NS_rexmit addressed to us
    "rexmit_sent",  # messages we retransmitted
    "rexmit_suppressed",  # requests ignored: already ACKed or resent < 240 ms ago
    "rexmit_too_high",  # requests for seqs we never sent
    "rexmit_refused_partition",  # requests for what we sent while apart (NAKed)
    "nak_sent",
    "nak_received",
    "acks_sent",
    "acks_received",
    "late_heartbeats",
    "restarts",
    "partitions",
    "status_sent",
    "sent",  # every message taken from take_outgoing, retransmissions included
    "ping_probes",
)
_BY_DROP_REASON = {
    ev.DropReason.UNKNOWN_NODE: "unknown_node",
    ev.DropReason.REPLAY: "replayed",
    ev.DropReason.MALFORMED: "malformed",
    ev.DropReason.EARLY_GENERATION: "early_generation",
    ev.DropReason.IMPOSTOR: "impostor",
    ev.DropReason.PING_OVER_UDP: "ping_over_udp",
}
_BY_EVENT: dict[type, str] = {
    ev.Delivered: "delivered",
    ev.NodeRestarted: "restarts",
    ev.PartitionHealed: "partitions",
    ev.LateHeartbeat: "late_heartbeats",
}


def new_counters() -> Counter[str]:
    return Counter(dict.fromkeys(NAMES, 0))


def count_event(counters: Counter[str], event: ev.Event) -> None:
    if isinstance(event, ev.Dropped):
        counters[_BY_DROP_REASON[event.reason]] += 1
    elif isinstance(event, ev.PacketsLost):
        counters["lost"] += event.count
        counters["seq_resets"] += event.reset
    else:
        name = _BY_EVENT.get(type(event))
        if name is not None:
            counters[name] += 1
