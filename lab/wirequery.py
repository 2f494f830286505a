"""A timeline of wire events and the questions failover tests ask of it (pure).

    trace.messages(t="status", src="slave", iface="slave:eth1", after=t0)
    trace.first(t="resource", src="slave", rsc_hold="all", after=death)
    trace.gratuitous_arps(ip="192.168.0.38", after=t0)
    trace.pings("172.16.254.18", after=t0, reply=True)   # answers to master's pings
    trace.intervals("master", t="status").median
    trace.sequence(msg(t="status", src="master", st="active"), garp(ip=vip))

Times are seconds since the epoch; ``after`` and ``before`` take a time or an
event and are strict. A text filter takes one value or a collection of them.
Live traces fill the timeline from a sniffer thread, so every query works on a
snapshot taken under the lock, and :meth:`Timeline.wait_for` blocks (on a
condition, not a sleep) until a matching event arrives.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lab.hbcodec import schema
from lab.wireevents import (
    ArpEvent,
    AuthStatus,
    Event,
    HeartbeatEvent,
    IntervalStats,
    MarkEvent,
    PingEvent,
    first_sightings,
)

When = float | Event | None
Text = str | Collection[str] | None
E = TypeVar("E", bound=Event)


class TraceError(AssertionError):
    """A timeline that does not hold what the test expected (fails the test)."""


def _time(when: When) -> float | None:
    return when if when is None or isinstance(when, float | int) else when.time


def _text_matches(value: str | None, wanted: Text) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return value == wanted
    return value in wanted


@dataclass(frozen=True)
class Query:
    """One kind of event and the filters it must pass; see :func:`msg` and :func:`garp`."""

    kind: str  # "heartbeat", "arp", "ping" or "mark"
    filters: dict[str, Any] = field(default_factory=dict)

    def matches(self, event: Event) -> bool:
        if event.kind != self.kind:
            return False
        f = self.filters
        if not _text_matches(event.iface, f.get("iface")):
            return False
        if isinstance(event, HeartbeatEvent):
            return _heartbeat_matches(event, f)
        if isinstance(event, ArpEvent):
            return _arp_matches(event, f)
        if isinstance(event, PingEvent):
            return _ping_matches(event, f)
        return _text_matches(event.label, f.get("label"))

    def describe(self) -> str:
        shown = " ".join(f"{k}={v!r}" for k, v in self.filters.items() if v is not None)
        return f"{self.kind}({shown})"


def _heartbeat_matches(event: HeartbeatEvent, f: dict[str, Any]) -> bool:
    auth = f.get("auth")
    if auth is not None and (event.auth is AuthStatus.OK) != auth:
        return False
    if f.get("outgoing") is not None and event.outgoing != f["outgoing"]:
        return False
    if f.get("decoded", True) and not event.decoded:
        return False
    for name, wanted in f.get("fields", {}).items():
        if not _text_matches(event.get(name), wanted):
            return False
    where = f.get("where")
    return where is None or bool(where(event))


def _arp_matches(event: ArpEvent, f: dict[str, Any]) -> bool:
    arp = event.arp
    checks = (
        _text_matches(arp.sender_ip, f.get("ip")),
        _text_matches(arp.sender_mac, f.get("mac")),
        _text_matches(arp.target_ip, f.get("target_ip")),
        f.get("op") is None or arp.op == f["op"],
        f.get("gratuitous") is None or arp.gratuitous == f["gratuitous"],
        f.get("outgoing") is None or event.outgoing == f["outgoing"],
    )
    return all(checks)


def _ping_matches(event: PingEvent, f: dict[str, Any]) -> bool:
    checks = (
        _text_matches(event.pinger, f.get("pinger")),
        _text_matches(event.target, f.get("target")),
        f.get("reply") is None or event.reply == f["reply"],
        f.get("outgoing") is None or event.outgoing == f["outgoing"],
    )
    return all(checks)


def msg(
    t: Text = None,
    src: Text = None,
    iface: Text = None,
    *,
    auth: bool | None = None,
    outgoing: bool | None = None,
    decoded: bool = True,
    where: Callable[[HeartbeatEvent], bool] | None = None,
    **fields: Text,
) -> Query:
    """Heartbeat messages: by type ``t``, sender ``src``, interface, any other string
    field (``st="active"``, ``rsc_hold="all"``, ``dest=…``), ``auth=True`` (signature
    verified) or ``False`` (bad), direction, or a predicate. ``decoded=False`` also
    lets undecodable datagrams through (they match no field filter)."""
    named = {k: v for k, v in {"t": t, "src": src, **fields}.items() if v is not None}
    filters = {"iface": iface, "auth": auth, "outgoing": outgoing, "where": where}
    return Query("heartbeat", {**filters, "decoded": decoded, "fields": named})


def arp(
    ip: Text = None,
    iface: Text = None,
    *,
    mac: Text = None,
    target_ip: Text = None,
    op: int | None = None,
    gratuitous: bool | None = None,
    outgoing: bool | None = None,
) -> Query:
    """ARP packets: ``ip``/``mac`` are the sender's (who announces or asks)."""
    filters = {"ip": ip, "iface": iface, "mac": mac, "target_ip": target_ip, "op": op}
    return Query("arp", {**filters, "gratuitous": gratuitous, "outgoing": outgoing})


def garp(ip: Text = None, iface: Text = None, *, mac: Text = None) -> Query:
    """Gratuitous ARP (sender IP = target IP): a node announcing an address it took."""
    return arp(ip, iface, mac=mac, gratuitous=True)


def ping(
    pinger: Text = None,
    target: Text = None,
    iface: Text = None,
    *,
    reply: bool | None = None,
    outgoing: bool | None = None,
) -> Query:
    """ICMP echoes between ``pinger`` (the node's address) and ``target`` (the ping
    node's), requests (``reply=False``), answers (``reply=True``) or both."""
    filters = {"pinger": pinger, "target": target, "iface": iface, "reply": reply}
    return Query("ping", {**filters, "outgoing": outgoing})


def mark(label: Text = None) -> Query:
    return Query("mark", {"label": label})


class Timeline:
    """Events in time order, with queries. Thread-safe: a sniffer may add while a
    test asks."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._keys: list[tuple[float, int]] = []  # (time, arrival) sorts equal times stably
        self._arrivals = itertools.count()
        self._changed = threading.Condition()

    # -- filling it ------------------------------------------------------------------------------
    def add(self, event: Event) -> Event:
        with self._changed:
            key = (event.time, next(self._arrivals))
            index = bisect.bisect(self._keys, key)
            self._keys.insert(index, key)
            self._events.insert(index, event)
            self._changed.notify_all()
        return event

    def mark(self, label: str, when: float | None = None) -> float:
        """Note a moment of the test ("poweroff master") on the timeline; returns its time."""
        moment = time.time() if when is None else when
        self.add(MarkEvent(moment, label))
        return moment

    # -- reading it ------------------------------------------------------------------------------
    @property
    def events(self) -> list[Event]:
        """A snapshot of every event, in time order."""
        with self._changed:
            return list(self._events)

    def __len__(self) -> int:
        with self._changed:
            return len(self._events)

    def select(self, query: Query, after: When = None, before: When = None) -> list[Event]:
        """The events matching ``query`` strictly between ``after`` and ``before``."""
        start, end = _time(after), _time(before)
        with self._changed:
            low = 0 if start is None else bisect.bisect(self._keys, (start, 1 << 62))
            high = len(self._keys) if end is None else bisect.bisect_left(self._keys, (end, -1))
            window = self._events[low:high]
        return [e for e in window if query.matches(e)]

    def find_first(self, query: Query, after: When = None, before: When = None) -> Event | None:
        found = self.select(query, after, before)
        return found[0] if found else None

    def messages(
        self,
        t: Text = None,
        src: Text = None,
        iface: Text = None,
        after: When = None,
        before: When = None,
        **filters: Any,
    ) -> list[HeartbeatEvent]:
        """Heartbeat messages in the window; filters as :func:`msg`."""
        return self._typed(HeartbeatEvent, msg(t, src, iface, **filters), after, before)

    def first(
        self,
        t: Text = None,
        src: Text = None,
        iface: Text = None,
        after: When = None,
        before: When = None,
        **filters: Any,
    ) -> HeartbeatEvent | None:
        """The first matching heartbeat message, or None."""
        found = self.messages(t, src, iface, after, before, **filters)
        return found[0] if found else None

    def last(
        self,
        t: Text = None,
        src: Text = None,
        iface: Text = None,
        after: When = None,
        before: When = None,
        **filters: Any,
    ) -> HeartbeatEvent | None:
        found = self.messages(t, src, iface, after, before, **filters)
        return found[-1] if found else None

    def arps(
        self,
        ip: Text = None,
        iface: Text = None,
        after: When = None,
        before: When = None,
        **filters: Any,
    ) -> list[ArpEvent]:
        """ARP packets in the window; filters as :func:`arp`."""
        return self._typed(ArpEvent, arp(ip, iface, **filters), after, before)

    def gratuitous_arps(
        self,
        ip: Text = None,
        iface: Text = None,
        after: When = None,
        before: When = None,
        *,
        mac: Text = None,
    ) -> list[ArpEvent]:
        return self._typed(ArpEvent, garp(ip, iface, mac=mac), after, before)

    def first_gratuitous_arp(
        self,
        ip: Text = None,
        iface: Text = None,
        after: When = None,
        before: When = None,
        *,
        mac: Text = None,
    ) -> ArpEvent | None:
        found = self.gratuitous_arps(ip, iface, after, before, mac=mac)
        return found[0] if found else None

    def pings(
        self,
        pinger: Text = None,
        target: Text = None,
        iface: Text = None,
        after: When = None,
        before: When = None,
        *,
        reply: bool | None = None,
    ) -> list[PingEvent]:
        """ICMP echoes in the window; filters as :func:`ping`."""
        return self._typed(PingEvent, ping(pinger, target, iface, reply=reply), after, before)

    def marks(self, label: Text = None) -> list[MarkEvent]:
        return self._typed(MarkEvent, mark(label))

    def bad_signatures(
        self, src: Text = None, iface: Text = None, after: When = None, before: When = None
    ) -> list[HeartbeatEvent]:
        """Datagrams that parse but whose signature does not verify with the keys."""
        return self.messages(None, src, iface, after, before, auth=False)

    def undecodable(
        self, iface: Text = None, after: When = None, before: When = None
    ) -> list[HeartbeatEvent]:
        query = msg(iface=iface, decoded=False, where=lambda e: not e.decoded)
        return self._typed(HeartbeatEvent, query, after, before)

    def nonconforming(
        self, src: Text = None, iface: Text = None, after: When = None, before: When = None
    ) -> list[tuple[HeartbeatEvent, list[str]]]:
        """Messages a 3.0.6 node would not have sent, each with what is off
        (lab.hbcodec.schema.problems: missing control fields, a hex field in
        decimal, a field or value the catalogue does not know…)."""
        found = []
        for event in self.messages(None, src, iface, after, before):
            issues = schema.problems(event.message) if event.message is not None else []
            if issues:
                found.append((event, issues))
        return found

    def _typed(
        self, kind: type[E], query: Query, after: When = None, before: When = None
    ) -> list[E]:
        return [e for e in self.select(query, after, before) if isinstance(e, kind)]

    # -- order -----------------------------------------------------------------------------------
    def sequence(self, *steps: Query, after: When = None, before: When = None) -> list[Event]:
        """The first event of each step, each strictly after the one before.

        Raises TraceError naming the first step that never happened (in order).
        """
        found: list[Event] = []
        cursor = after
        for number, step in enumerate(steps, start=1):
            event = self.find_first(step, cursor, before)
            if event is None:
                since = f" after {found[-1]}" if found else ""
                raise TraceError(f"step {number}, {step.describe()}, never came{since}")
            found.append(event)
            cursor = event
        return found

    def precedes(self, first: Query, then: Query, after: When = None) -> bool:
        """Did a ``first`` event happen, and the first ``then`` event come after it?"""
        a, b = self.find_first(first, after), self.find_first(then, after)
        return a is not None and b is not None and a.time < b.time

    def wait_for(self, query: Query, timeout: float, after: When = None) -> Event:
        """Block until an event matching ``query`` (after ``after``) is on the timeline.

        Woken by each new event, never by a fixed sleep; TraceError after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while (event := self.find_first(query, after)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TraceError(f"no {query.describe()} within {timeout:.1f} s")
                self._changed.wait(left)
        return event

    # -- statistics ------------------------------------------------------------------------------
    def intervals(
        self,
        src: str,
        t: str = "status",
        iface: Text = None,
        after: When = None,
        before: When = None,
    ) -> IntervalStats:
        """Gaps between ``src``'s successive ``t`` messages (each message counted once)."""
        seen = first_sightings(self.messages(t, src, iface, after, before))
        return IntervalStats(src, t, tuple(e.time for e in seen))

    def keepalive_stats(
        self, t: str = "status", iface: Text = None, after: When = None, before: When = None
    ) -> dict[str, IntervalStats]:
        """:meth:`intervals` for every sender of ``t`` messages."""
        senders = sorted({e.src for e in self.messages(t, None, iface, after, before) if e.src})
        return {src: self.intervals(src, t, iface, after, before) for src in senders}

    def summary(self) -> dict[str, Any]:
        """Counts: heartbeats, by type and sender, bad signatures, undecodable, ARP."""
        events = self.events
        beats = [e for e in events if isinstance(e, HeartbeatEvent)]
        return {
            "heartbeats": len(beats),
            "by_type": dict(Counter(e.t for e in beats if e.decoded)),
            "by_src": dict(Counter(e.src for e in beats if e.decoded)),
            "bad_signatures": sum(1 for e in beats if e.decoded and e.auth is AuthStatus.BAD),
            "undecodable": sum(1 for e in beats if not e.decoded),
            "arps": sum(1 for e in events if isinstance(e, ArpEvent)),
            "pings": sum(1 for e in events if isinstance(e, PingEvent)),
            "gratuitous_arps": sum(1 for e in events if isinstance(e, ArpEvent) and e.gratuitous),
            "marks": sum(1 for e in events if isinstance(e, MarkEvent)),
        }

    def render(self, events: Iterable[Event] | None = None) -> str:
        """One line per event: what a failing test should print."""
        return "\n".join(str(e) for e in (self.events if events is None else events))
