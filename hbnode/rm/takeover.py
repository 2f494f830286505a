"""mach_down: taking over a dead (or departed) node's groups (protocol.md §4.3, "Peer death").

Heartbeat queues a synthetic ``status st=dead`` that runs rc.d/status →
mach_down, which takes every group whose haresources line names the dead node,
and req_our_resources, which (re)takes our own. In nice_failback mode the
result is announced with ``resource rsc_hold=foreign info=mach_down``.
"""

from __future__ import annotations

from collections.abc import Callable

from hbnode.rm import messages as m
from hbnode.rm.hold import Hold, claims, set_of
from hbnode.rm.state import Mode, PeerView, Shared


class Takeover:
    def __init__(self, shared: Shared) -> None:
        self.s = shared
        # hbnode's isolation policy may forbid a takeover; the manager wires it in.
        self.allowed: Callable[[str], bool] = lambda node: True

    def stonith(self, node: str, old_hold: Hold) -> None:
        """What Heartbeat says about fencing a dead node (we have no STONITH device)."""
        s = self.s
        if s.nice and old_hold == Hold.NONE:
            s.out.log("info", f"Dead node {node} gave up resources.")
            s.out.send(m.stonith(node, "unneeded"))
            return
        s.out.log("warn", "No STONITH device configured.")
        s.out.log("warn", "Shared disks are not protected.")
        s.out.send(m.stonith(node, "n_stnth"))

    def take(self, node: str, now: float) -> None:
        """Take ``node``'s groups and our own, unless it is back or we must not."""
        s = self.s
        peer = s.peers.get(node)
        if s.mode is not Mode.STABLE or peer is None or (peer.alive and not peer.shut_down):
            return
        # A node that said shutdone just spoke to us: isolation does not apply.
        if not peer.shut_down and not self.allowed(node):
            return
        theirs = [g.key for g in s.groups if g.owner == node]
        local = s.local_keys()
        s.out.log(
            "info",
            f"Resources being acquired from {node}.",
            "takeover_started",
            node=node,
            groups=theirs,
            reason="mach_down",
        )
        for key in theirs:
            if not s.table.active(key):
                s.out.log("info", f"Taking over resource group {key}")
        s.hold |= Hold.ALL
        s.table.hold(local, "mach_down", now)
        s.table.hold(theirs, "mach_down", now)
        if s.nice:
            s.table.when_settled(f"takeover:{node}:local", local, self._local_done, now)
        s.table.when_settled(f"takeover:{node}", theirs, lambda t: self._done(node), now)

    def _local_done(self, now: float) -> None:
        if self.s.mode is Mode.STABLE:
            self.s.report(m.INFO_REQ_OUR)

    def _done(self, node: str) -> None:
        s = self.s
        if s.nice and s.mode is Mode.STABLE:
            s.out.send(m.mach_down_report())
        s.out.log(
            "info",
            f"mach_down takeover complete for node {node}.",
            "handover_done",
            node=node,
            reason="mach_down",
        )

    def orphans(self, peer: PeerView, old_hold: Hold, now: float) -> None:
        """``peer`` restarted holding ``old_hold``: what it held of ours, nobody holds.

        Either we never saw it die, or its takeover still waited (a reset in its
        fence-race delay, a deferred takeover) and the restart ended that wait.
        """
        s = self.s
        if s.mode is not Mode.STABLE:
            return
        lost = [
            g
            for g in s.groups
            if g.owner != peer.name and claims(old_hold, peer.name, g) and not s.table.active(g.key)
        ]
        if not lost:
            return
        for group in lost:
            s.hold |= set_of(group, s.me)
        keys = [g.key for g in lost]
        s.out.log("warn", f"{peer.name} restarted: {', '.join(keys)} run nowhere, taking them back")
        s.table.hold(keys, "mach_down", now)
