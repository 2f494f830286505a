"""What we send: control fields, the seq counter, the retransmit history, ping probes.

Everything the core queues passes through :meth:`Sender.queue`, which stamps the
§3.1 fields, numbers non-``NS_`` messages and keeps them for ``NS_rexmit``
(protocol.md §3.4). Nothing here encodes or signs: that is the I/O layer's job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from hbnode.core import fields as f
from hbnode.core.sequence import MAX_REXMIT_PER_REQUEST, ResendVerdict, SendHistory
from hbnode.message import Message


class Sender:
    """Our sending half: stamped messages for every link, and ICMP probe payloads."""

    def __init__(
        self,
        *,
        me: str,
        uuid: bytes,
        generation: int,
        ttl: int,
        wallclock: Callable[[], float],
        loadavg: Callable[[], str],
        uuid_of: Callable[[str], bytes | None],
        counters: Counter[str],
    ) -> None:
        self.me = me
        self.uuid = uuid
        self.generation = generation
        self.ttl = ttl
        self.seq = 0  # the last seq used; the first message gets 1
        self.history = SendHistory()
        self._wallclock = wallclock
        self._loadavg = loadavg
        self._uuid_of = uuid_of
        self._counters = counters
        self._messages: list[Message] = []
        self._probes: list[tuple[str, Message]] = []
        # Each ping node's last probe: it is handed out again while its ts (seconds)
        # holds, so the I/O layer can send the bytes it signed for it (hbnode.link_io).
        self._last_probe: dict[str, tuple[int, bool, Message]] = {}

    def queue(self, msg: Message) -> Message:
        """Stamp ``msg`` in place, record it if seq'd, queue it for every link."""
        unsequenced = f.is_unsequenced(msg.get("t") or "")
        seq = None
        if not unsequenced:
            self.seq += 1
            seq = self.seq
        dest = msg.get("dest")
        control = f.Stamp(
            src=self.me,
            srcuuid=self.uuid,
            seq=seq,
            hg=self.generation,
            ts=self.wall_seconds(),
            ld=None if unsequenced else self._loadavg().strip(),
            ttl=self.ttl,
            destuuid=None if dest is None else self._uuid_of(dest.lower()),
        )
        f.stamp(msg, control)
        if seq is not None:
            self.history.record(seq, msg)
        self._messages.append(msg)
        return msg

    def probe(self, name: str, *, group: bool) -> None:
        """Queue a probe for ping node ``name``: the very same Message as last time if
        nothing in it changed (a probe has no seq; ts counts seconds)."""
        ts = self.wall_seconds()
        last = self._last_probe.get(name)
        if last is not None and last[0] == ts and last[1] == group:
            probe = last[2]
        else:
            probe = f.ping_probe(name, group=group, ts=ts)
            self._last_probe[name] = (ts, group, probe)
        self._probes.append((name, probe))
        self._counters["ping_probes"] += 1

    def answer_rexmit(
        self, requester: str, acked: int, first: int, last: int, now: float, floor: int = 0
    ) -> None:
        """Resend what ``requester`` asks for, NAK what we no longer have (§3.4).

        ``floor``: our highest seq when ``requester`` came back from a partition;
        anything up to it was said while apart and is refused (NAKed) instead.
        """
        for seq in range(first, min(last, first + MAX_REXMIT_PER_REQUEST - 1) + 1):
            if seq <= acked:
                self._counters["rexmit_suppressed"] += 1
                continue
            if seq <= floor:
                self._counters["rexmit_refused_partition"] += 1
                self.queue(f.rexmit_nak(requester, seq, ResendVerdict.NOT_FOUND.value))
                continue
            verdict, stored = self.history.resend(seq, now)
            if verdict is ResendVerdict.RESEND:
                assert stored is not None
                self._counters["rexmit_sent"] += 1
                # The very same fields, seq and ts included: the receiver fills its gap.
                self._messages.append(stored.copy())
            elif verdict is ResendVerdict.TOO_RECENT:
                self._counters["rexmit_suppressed"] += 1
            elif verdict is ResendVerdict.TOO_HIGH:
                self._counters["rexmit_too_high"] += 1
            else:
                self._counters["nak_sent"] += 1
                self.queue(f.rexmit_nak(requester, seq, verdict.value))

    def wall_seconds(self) -> int:
        """``ts``: the sender's time(NULL)."""
        return int(self._wallclock())

    def take_messages(self) -> list[Message]:
        out, self._messages = self._messages, []
        self._counters["sent"] += len(out)
        return out

    def take_probes(self) -> list[tuple[str, Message]]:
        out, self._probes = self._probes, []
        return out
