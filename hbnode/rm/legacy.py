"""``auto_failback legacy``: groups move by ``ip-request`` (protocol.md §4.3, "Legacy start").

At comm-up a node asks for each of its own groups; whoever holds one releases it
and answers, and the asker takes it on ``ok=OK``. When nobody else is active the
node answers itself (HA_DONTASK). There is no timeout: no answer, no group. The
same exchange is hbnode's heal in legacy mode: the owner asks again for its
groups, the other side lets go of them, and the owner re-announces what it kept.
"""

from __future__ import annotations

from hbnode.message import Message
from hbnode.rm import messages as m
from hbnode.rm.hold import Hold, set_of
from hbnode.rm.state import Mode, Shared


class LegacyRequests:
    def __init__(self, shared: Shared) -> None:
        self.s = shared
        self.asked: set[str] = set()  # keys we sent ip-request for, awaiting the answer

    def request_local(self, now: float, *, heal: bool = False) -> None:
        """req_resource for each local group."""
        s = self.s
        keys = s.local_keys()
        if not s.present_peers():
            for key in keys:
                s.out.send(m.ip_request_resp(s.me, key, True))
            if keys:
                s.hold |= Hold.LOCAL
            # Our own copy of the answer would take them too; taking them here keeps
            # us independent of the loopback and the answer is then a no-op.
            s.table.hold(keys, "initial", now)
            return
        for key in keys:
            if heal or not s.table.active(key):
                self.asked.add(key)
                s.out.send(m.ip_request(key))

    def on_request(self, src: str, msg: Message, now: float) -> None:
        """rc.d/ip-request: release the group if we hold it, and answer either way."""
        s = self.s
        key = msg.get("ipaddr")
        if src == s.me or not key or s.mode is Mode.STOPPED:
            return
        if not s.table.active(key):
            s.out.send(m.ip_request_resp(src, key, False))
            return
        s.out.log(
            "info",
            f"{src} asks for resource group {key}: giving it up",
            "handover_started",
            group=key,
            to=src,
            reason="ip-request",
        )
        s.table.release([key], "failback", now)
        s.drop_claims_released()

        def answer(_now: float) -> None:
            s.out.send(m.ip_request_resp(src, key, True))

        s.table.when_settled(f"ip-request:{key}", [key], answer, now)

    def on_response(self, src: str, msg: Message, now: float) -> None:
        """rc.d/ip-request-resp: take the group we asked for (or told ourselves to take)."""
        s = self.s
        key = msg.get("ipaddr")
        group = s.group(key)
        if group is None or msg.get("ok") != "OK" or (msg.get("dest") or "").lower() != s.me:
            return
        if src != s.me and group.key not in self.asked:
            return  # nobody asked: a stray answer must not move a group
        self.asked.discard(group.key)
        if s.mode is not Mode.STABLE:
            return
        weown = msg.get("weown") == "yes"
        if s.table.active(group.key):
            if src != s.me and weown:
                # Healed partition: it had the group too and has just let go of it.
                s.table.announce(group.key, "partition")
            return
        s.hold |= set_of(group, s.me)
        s.table.hold([group.key], "failback" if weown and src != s.me else "initial", now)

    def peer_restarted(self, peer: str, now: float) -> None:
        """The node we asked restarted without answering: it holds nothing, so we take them.

        (Heartbeat leaves such a group without a holder until the next death.)
        """
        s = self.s
        keys = [k for k in s.local_keys() if k in self.asked and not s.table.active(k)]
        self.asked.clear()
        if not keys or s.mode is not Mode.STABLE:
            return
        s.out.log("info", f"{peer} restarted before answering ip-request: taking {', '.join(keys)}")
        s.hold |= Hold.LOCAL
        s.table.hold(keys, "initial", now)
