"""Who is still there: the two watches that switch hbnode's own policies on and off.

* The early isolation verdict (``hbnode_isolation``, with ping nodes): the peer
  *and* every ping node silent for warntime almost surely means our own link is
  gone. Letting go then, before the peer's deadtime runs out and it takes over,
  is what keeps the VIP from ever having two holders (:mod:`hbnode.rm.isolation`
  acts on the verdict). Only proof of life counts as heard: a status the core
  kept (a replayed or malformed one must not hold the verdict off) or a ping echo.
* API clients: Heartbeat's ipfail is a client that ``respawn`` starts; in hbnode
  the policy is built in (:mod:`hbnode.rm.ipfail`) and ``hbnode-ipfail`` only
  signs on, so the policy runs exactly while the respawned client does
  (docs/differences.md). A client that signs on *held* keeps its connection open
  and is alive until the daemon sees it close (:meth:`Liveness.client_gone`), as
  Heartbeat's API notices a client's IPC channel closing; any other client must
  say it is alive, and one silent for CLIENT_TIMEOUT is gone.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

from hbnode.rm.state import Mode, Shared

CLIENT_TIMEOUT = 3.0  # a client that does not hold its connection: silent this long is gone
IPFAIL = "ipfail"  # the one client the resource manager knows

Switch = Callable[[bool, float], None]  # (on?, now)


class ClientOp(enum.StrEnum):
    """What an API client says over the control socket."""

    SIGNON = "signon"
    ALIVE = "alive"
    SIGNOFF = "signoff"


class SilenceWatch:
    """When each watched name (peers, ping nodes) was last heard, and the verdict."""

    def __init__(self, watched: Iterable[str], limit: float) -> None:
        self.watched = list(watched)
        self.limit = limit  # warntime
        self.heard: dict[str, float] = {}  # name → when (monotonic) last heard
        self.suspected = False

    def heard_from(self, name: str, now: float) -> None:
        if name in self.watched:
            self.heard[name] = now

    def verdict(self, now: float, *, may_suspect: bool = True) -> bool | None:
        """The new verdict (True: everyone silent, we look cut off) when it changed.

        ``may_suspect`` False: only a return of contact is judged. A message that
        proves no life (a report, an ack) is no reason to look at the silence: read
        after the process stood still, it can come before the statuses queued behind
        it, which would have cleared the verdict again a moment later.
        """
        limit = self.limit
        silent = True  # a loop, not all(genexpr): this runs after every input
        for name in self.watched:
            # The same sum as due(): at its time exactly the check finds the silence
            # (a difference could fall an ulp short, and the timer would fire again).
            if now < self.heard.get(name, -limit) + limit:
                silent = False
                break
        if silent == self.suspected or (silent and not may_suspect):
            return None
        self.suspected = silent
        return silent

    def due(self) -> float | None:
        """When everyone will have been silent for the limit, unless heard from first."""
        if self.suspected or not self.watched:
            return None
        return max(self.heard.get(name, -self.limit) for name in self.watched) + self.limit


class Liveness:
    """Feeds the isolation verdict (``suspect``) and the ipfail switch (``ipfail``)."""

    def __init__(
        self,
        shared: Shared,
        silence: SilenceWatch | None,
        *,
        early: bool,
        suspect: Switch,
        ipfail: Switch,
        client_timeout: float = CLIENT_TIMEOUT,
    ) -> None:
        self.s = shared
        self.silence = silence  # None: the caller does not report whom it hears from
        self.early = early  # the verdict is only given with hbnode_isolation and ping nodes
        self.suspect, self.ipfail = suspect, ipfail
        self.client_timeout = client_timeout
        self.clients: dict[str, float] = {}  # API client name → when it last said alive
        self.held: set[str] = set()  # clients alive while their connection stays open

    # -- the early isolation verdict --------------------------------------------------
    def heard_from(self, name: str, now: float) -> None:
        """Proof of life from a peer (a status the core kept) or a ping node (an echo)."""
        if self.silence is not None:
            self.silence.heard_from(name, now)

    def watch_silence(self, now: float, *, comm_up: bool, timed: bool = True) -> None:
        """After each input: has everyone been silent for warntime, or no longer?

        ``comm_up`` is the core's: comm may have come up in this very input, before
        its event reaches the manager, and a node that starts cut off must count as
        isolated by the time it would take its groups. Only a timed check (``timed``,
        the node's timer; the daemon has read what its sockets hold by then) may
        find the silence; a message may only end it.
        """
        silence = self._judged(comm_up)
        if silence is None:
            return
        verdict = silence.verdict(now, may_suspect=timed)
        if verdict is not None:
            self.s.out.record("isolation_suspected" if verdict else "isolation_cleared")
            self.suspect(verdict, now)

    def silence_due(self, *, comm_up: bool) -> float | None:
        """When a timed check would find everyone silent (the node wakes up for it)."""
        silence = self._judged(comm_up)
        return silence.due() if silence is not None else None

    def _judged(self, comm_up: bool) -> SilenceWatch | None:
        """The watch, while its verdict counts: early isolation on, comm up, not stopping."""
        if not self.early or not comm_up or self.s.mode in (Mode.STOPPING, Mode.STOPPED):
            return None
        return self.silence

    # -- API clients ------------------------------------------------------------------
    def client(
        self, name: str, op: ClientOp, now: float, pid: object = None, *, held: bool = False
    ) -> None:
        """A client signs on (``held``: alive while its connection is open), says it is
        alive or signs off; ipfail's policy follows."""
        was = self.client_alive(IPFAIL, now)
        if op is ClientOp.SIGNOFF:
            self.clients.pop(name, None)
            self.held.discard(name)
            self.s.out.log("info", f"client {name} signed off")
        else:
            self.clients[name] = now
            if op is ClientOp.SIGNON:
                if held:
                    self.held.add(name)
                self.s.out.log("info", f"client {name} (pid {pid}) signed on")
        self._switch(was, now)

    def client_gone(self, name: str, now: float) -> None:
        """A held client's connection closed: it exited or was killed."""
        if name not in self.held:
            return
        was = self.client_alive(IPFAIL, now)
        self.held.discard(name)
        self.clients.pop(name, None)
        # While we stop, the supervisor's TERM is why: that is no news.
        text = f"client {name} closed its connection: {name} policy off"
        if self.s.mode in (Mode.STOPPING, Mode.STOPPED):
            self.s.out.log("info", text)
        else:
            self.s.out.log("warn", text)
        self._switch(was, now)

    def _switch(self, was: bool, now: float) -> None:
        if self.client_alive(IPFAIL, now) != was:
            self.ipfail(not was, now)

    def client_alive(self, name: str, now: float) -> bool:
        if name in self.held:
            return True
        seen = self.clients.get(name)
        return seen is not None and now - seen <= self.client_timeout

    def handle_timer(self, now: float) -> None:
        """Checked at every wake-up, not on a timer of its own: the node wakes at least
        every keepalive, and its wake-ups stay what the core and the manager ask for."""
        if IPFAIL in self.clients and not self.client_alive(IPFAIL, now):
            del self.clients[IPFAIL]
            self.s.out.log("warn", "client ipfail stopped answering: ipfail policy off")
            self.ipfail(False, now)
