"""Who keeps a group that both sides of a healed partition hold.

Heartbeat answers a healed split brain by restarting both nodes (give up
everything, sleep deadtime+1 s, start again): some 20 s without any holder.
hbnode instead lets one node keep each doubly-held group and re-announce it,
and the other stop it at once. Both nodes must reach the same verdict without a
new message type, from what each knows:

* auto_failback on: the haresources owner keeps it (it would get it back anyway).
* otherwise: the node that held it *before* contact was lost keeps it (the
  longest holder); each side remembers who that was when it declared the other
  dead (``split_view``), and a side that never lost contact knows it held it.
* no such node (both took it during the split), or the two views disagree so the
  conflict survives one round: the haresources owner if it is one of the two,
  else the node whose name sorts first. Both nodes know all of this alike.
"""

from __future__ import annotations

from hbnode.config.hacf import AutoFailback
from hbnode.config.haresources import ResourceGroup


def tie_break(group: ResourceGroup, a: str, b: str) -> str:
    """The haresources owner if it is ``a`` or ``b``, else the lower node name."""
    if group.owner in (a, b):
        return group.owner
    return min(a, b)


def rightful_holder(
    group: ResourceGroup,
    me: str,
    peer: str,
    auto_failback: AutoFailback,
    held_before: str | None,
    *,
    second_round: bool = False,
) -> str:
    """The node (``me`` or ``peer``) that keeps ``group`` when both hold it."""
    if auto_failback is AutoFailback.ON or second_round or held_before not in (me, peer):
        return tie_break(group, me, peer)
    assert held_before is not None
    return held_before
