"""Fault schedules: what is done to which node when, as data that replays.

A schedule is a list of steps, each at an offset (seconds) from the start. A
fault and the step that ends it (poweroff/poweron, kill/restart, freeze/thaw,
cut/heal, loss/clear, stop/start) share an *episode* number, so a shrinker can
take an episode out whole; standby and takeover are episodes of one step. The
generator keeps a model of the cluster (which node is off, whose daemon is
killed, frozen or stopped, which cable is out, where loss is on) and draws only
steps that make sense in it, with random gaps between them; at the end every
open episode is closed: the faults stop, and the checker then expects the
cluster to settle.

Delay and duplication are not among the faults: this kernel has no sch_netem,
and nftables can drop but not delay (lab.faults); duplication through nftables'
``dup`` on the node's own egress would loop the copy through the same hook.
"""

from __future__ import annotations

import enum
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "hblab-nemesis-schedule/1"
NODES = ("master", "slave")
MAX_OPEN = 2  # episodes open at once: enough to combine faults, few enough to read
LOSS_PERCENTS = (20, 40, 60)
CLOSE_SPACING = 0.2  # between the closing steps at the end


class Action(enum.StrEnum):
    POWEROFF = "poweroff"
    POWERON = "poweron"
    KILL = "kill"  # kill -9 of the daemon's process tree
    RESTART = "restart"  # service heartbeat start after a kill
    FREEZE = "freeze"  # SIGSTOP to the daemon's process tree
    THAW = "thaw"  # SIGCONT
    STOP = "stop"  # service heartbeat stop (orderly)
    START = "start"
    CUT = "cut"  # the node's cable on an interface pulled
    HEAL = "heal"
    LOSS = "loss"  # random loss on the node's egress (nftables)
    CLEAR = "clear"
    STANDBY = "standby"  # hb_standby on the node
    TAKEOVER = "takeover"  # hb_takeover on the node


OPENS: dict[Action, Action] = {
    Action.POWEROFF: Action.POWERON,
    Action.KILL: Action.RESTART,
    Action.FREEZE: Action.THAW,
    Action.STOP: Action.START,
    Action.CUT: Action.HEAL,
    Action.LOSS: Action.CLEAR,
}
CLOSES = {close: open_ for open_, close in OPENS.items()}
# The order the faults are ended in at the end of a schedule.
CLOSE_ORDER = (Action.THAW, Action.CLEAR, Action.HEAL, Action.POWERON, Action.RESTART, Action.START)


@dataclass(frozen=True, slots=True)
class Step:
    at: float  # seconds from the schedule's start
    action: Action
    node: str
    episode: int
    iface: str | None = None
    percent: int | None = None

    def describe(self) -> str:
        where = f" {self.iface}" if self.iface else ""
        amount = f" {self.percent}%" if self.percent is not None else ""
        return f"{self.action.value} {self.node}{where}{amount}"

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        data["action"] = self.action.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(
            at=float(data["at"]),
            action=Action(data["action"]),
            node=str(data["node"]),
            episode=int(data["episode"]),
            iface=data.get("iface"),
            percent=data.get("percent"),
        )


@dataclass
class Schedule:
    impl: str
    seed: int
    duration: float  # the faults stop here; the closing steps follow
    steps: list[Step]
    profile: str = "fast"
    overrides: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def end(self) -> float:
        return max((s.at for s in self.steps), default=0.0)

    def episodes(self) -> list[int]:
        return sorted({s.episode for s in self.steps})

    def without(self, episodes: set[int]) -> Schedule:
        """The same schedule with these episodes taken out whole."""
        kept = [s for s in self.steps if s.episode not in episodes]
        return Schedule(
            self.impl, self.seed, self.duration, kept, self.profile, dict(self.overrides)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "impl": self.impl,
            "seed": self.seed,
            "duration": self.duration,
            "profile": self.profile,
            "overrides": self.overrides,
            "note": self.note,
            "steps": [s.to_json() for s in self.steps],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schedule:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a nemesis schedule ({FORMAT})")
        return cls(
            impl=str(data["impl"]),
            seed=int(data["seed"]),
            duration=float(data["duration"]),
            steps=[Step.from_json(s) for s in data["steps"]],
            profile=str(data.get("profile", "fast")),
            overrides=dict(data.get("overrides", {})),
            note=str(data.get("note", "")),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Schedule:
        return cls.from_json(json.loads(path.read_text()))


@dataclass
class _Model:
    """What the generator believes the cluster is like after the steps so far."""

    off: set[str] = field(default_factory=set)
    daemon: dict[str, Action] = field(default_factory=dict)  # node → KILL/FREEZE/STOP
    cut: set[tuple[str, str]] = field(default_factory=set)
    loss: set[str] = field(default_factory=set)
    open: dict[tuple[str, ...], tuple[int, Step]] = field(default_factory=dict)

    def node_busy(self, node: str) -> bool:
        return any(key[1] == node for key in self.open)

    def openings(self, node: str) -> list[tuple[Action, str | None]]:
        if node in self.off:
            return []
        found: list[tuple[Action, str | None]] = []
        if not self.node_busy(node):
            found.append((Action.POWEROFF, None))
        if node not in self.daemon:
            found += [(Action.KILL, None), (Action.FREEZE, None), (Action.STOP, None)]
        if not (self.off or self.daemon):  # an admin asks for a move on a healthy cluster
            found += [(Action.STANDBY, None), (Action.TAKEOVER, None)]
        found += [(Action.CUT, i) for i in ("eth1", "eth0") if (node, i) not in self.cut]
        if node not in self.loss:
            found.append((Action.LOSS, "eth1"))
        return found


def _key(action: Action, node: str, iface: str | None) -> tuple[str, ...]:
    kind = {
        Action.POWEROFF: "power",
        Action.KILL: "daemon",
        Action.FREEZE: "daemon",
        Action.STOP: "daemon",
        Action.CUT: f"cut-{iface}",
        Action.LOSS: "loss",
    }[action]
    return (kind, node)


def _apply(model: _Model, step: Step) -> None:
    action, node = step.action, step.node
    if action in OPENS:
        model.open[_key(action, node, step.iface)] = (step.episode, step)
    if action is Action.POWEROFF:
        model.off.add(node)
    elif action is Action.POWERON:
        model.off.discard(node)
    elif action in (Action.KILL, Action.FREEZE, Action.STOP):
        model.daemon[node] = action
    elif action in (Action.RESTART, Action.THAW, Action.START):
        model.daemon.pop(node, None)
    elif action is Action.CUT and step.iface:
        model.cut.add((node, step.iface))
    elif action is Action.HEAL and step.iface:
        model.cut.discard((node, step.iface))
    elif action is Action.LOSS:
        model.loss.add(node)
    elif action is Action.CLEAR:
        model.loss.discard(node)
    if action in CLOSES:
        opener = CLOSES[action]
        model.open.pop(_key(opener, node, step.iface), None)


def generate(
    seed: int,
    duration: float,
    deadtime: float,
    impl: str = "hbnode",
    profile: str = "fast",
    overrides: dict[str, str] | None = None,
) -> Schedule:
    """A random schedule of ``duration`` seconds of faults, then every fault ended."""
    rng = random.Random(seed)
    model = _Model()
    steps: list[Step] = []
    at = rng.uniform(0.5, 2.0) * deadtime
    episode = 0
    while at < duration:
        step = _draw(rng, model, at, episode)
        if step.action not in CLOSES:
            episode += 1
        steps.append(step)
        _apply(model, step)
        at += _gap(rng, deadtime)
    at = max(at, duration)
    for action in CLOSE_ORDER:
        for (_kind, node), (number, opener) in sorted(model.open.items()):
            if OPENS[opener.action] is action:
                steps.append(Step(round(at, 3), action, node, number, opener.iface))
                at += CLOSE_SPACING
    return Schedule(impl, seed, duration, steps, profile, dict(overrides or {}))


def _gap(rng: random.Random, deadtime: float) -> float:
    """Mostly less than a deadtime or two; now and then long enough to settle."""
    if rng.random() < 0.2:
        return rng.uniform(2.0, 6.0) * deadtime
    return rng.uniform(0.1, 2.0) * deadtime


def _draw(rng: random.Random, model: _Model, at: float, episode: int) -> Step:
    closes = [(number, opener) for number, opener in model.open.values()]
    openings = [
        (action, node, iface)
        for node in NODES
        for action, iface in model.openings(node)
        if len(model.open) < MAX_OPEN or action in (Action.STANDBY, Action.TAKEOVER)
    ]
    # Close about as often as open, so faults last a few steps, not the whole run.
    if closes and (not openings or rng.random() < 0.45):
        number, opener = rng.choice(sorted(closes, key=lambda c: c[0]))
        return Step(round(at, 3), OPENS[opener.action], opener.node, number, opener.iface)
    action, node, iface = rng.choice(openings)
    percent = rng.choice(LOSS_PERCENTS) if action is Action.LOSS else None
    return Step(round(at, 3), action, node, episode, iface, percent)
