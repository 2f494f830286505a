"""hbnode's resource manager as the tutorial's master, beside a scripted peer 'slave'.

The peer's messages are given by the test (a real Heartbeat's, or an hbnode's with its
heal field); actions succeed at once; our own messages loop back as Heartbeat's do.
``asks`` records the standby exchanges we start, with their time.
"""

from __future__ import annotations

from hbnode.config.hacf import AutoFailback
from hbnode.config.haresources import parse_haresources_text
from hbnode.message import Message
from hbnode.rm import ResourceManager
from hbnode.rm import messages as m
from hbnode.rm.events import RmEvent

KEY = "192.168.0.38/24/eth0:0"
KEEPALIVE = 1.0
DEADTIME = 10.0


class Master:
    """hbnode as the tutorial's master; the peer 'slave' is scripted."""

    def __init__(self, ping_nodes: tuple[str, ...] = ()) -> None:
        self.rm = ResourceManager(
            me="master",
            nodes=["master", "slave"],
            groups=parse_haresources_text(f"master {KEY}\n"),
            auto_failback=AutoFailback.ON,
            keepalive=KEEPALIVE,
            deadtime=DEADTIME,
            deadping=10.0,
            ping_nodes=list(ping_nodes),
            isolation=False,
        )
        self.now = 0.0
        self.asks: list[tuple[float, str]] = []  # (when, t/info) of what we started
        self.events: list[RmEvent] = []  # log lines and event-log steps, in order

    def peer(self, *pairs: tuple[str, str], hbnode: bool = False) -> None:
        msg = Message.of(*pairs)
        if hbnode and msg.get("rtype") == "full":
            msg.add(m.HEAL_FIELD, m.HEAL_IN_PLACE)
        msg.set("src", "slave")
        self.rm.receive(msg, self.now)
        self.pump()

    def report(self, hold: str, stable: bool, *, hbnode: bool = False, info: str = "") -> None:
        pairs = [("t", "resource"), ("rsc_hold", hold), ("rtype", "full")]
        pairs.append(("isstable", "1" if stable else "0"))
        if info:
            pairs.append(("info", info))
        self.peer(*pairs, hbnode=hbnode)

    def pump(self) -> None:
        for _ in range(20):
            self.events += self.rm.take_events()
            for action in self.rm.take_actions():
                self.rm.action_done(action.id, True, self.now)
            out = self.rm.take_outgoing()
            if not out:
                return
            for msg in out:
                if msg.get("t") in ("ask_resources", "hb_takeover"):
                    self.asks.append((self.now, f"{msg.get('t')} {msg.get('info') or ''}"))
                mine = msg.copy()
                mine.set("src", "master")
                self.rm.receive(mine, self.now)  # the loopback

    def run_until(self, end: float) -> None:
        for _ in range(10_000):
            due = self.rm.get_timer()
            if due is None or due > end:
                break
            self.now = max(self.now, due)
            self.rm.handle_timer(self.now)
            self.pump()
        self.now = end
