"""The invariants a nemesis run is checked against, over its recorded timeline (pure).

1. ``two_holders``: two nodes hold the VIP (netlink) or answer ARP for it only
   inside an allowance window of a fault that can cause it (``Bounds``).
2. ``no_settle``: once the last step is done, exactly one node holds the VIP,
   the same one for 3 x deadtime, within deadtime + the settle bound; the
   client's ARP and HTTP agree with it.
3. ``service_without_vip``: once settled, the service runs on no node without
   the VIP; ``lost_resource``: the holder runs it.
4. ``daemon_crash`` / ``daemon_restart``: a daemon's PID goes or changes only
   when a step explains it (kill, stop, poweroff; start, restart, poweron), or
   the daemon logged its own restart (Heartbeat's partition restart); no Python
   traceback in a log.
5. ``leak``: the lab at the end against its baseline (addresses, processes,
   daemon fds and threads): the soak's snapshot diff.
6. ``view_disagrees``: once settled, each daemon's own view (``hbnode status``,
   ``cl_status rscstatus``) says what the lab shows: the holder holds, the other
   does not.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from lab.nemesis.timeline import ProcSample, StepRecord, Timeline

HOLD_DEADTIMES = 3.0
SETTLE_HBNODE = 10.0  # boot + start + a deadtime for a thawed or restarted node, loaded machine
SETTLE_HEARTBEAT = 30.0  # + RQSTDELAY (10 s) and the partition restart (deadtime + 1 s sleep)
HEAL_HBNODE = 2.0  # after the fault ends, beyond a deadtime: the two notice each other
HEAL_HEARTBEAT = 30.0  # Heartbeat's partition restart (give up, sleep deadtime+1, start)
EXPLAIN_BEFORE = 0.5  # a PID change this long before a step's start still counts (sampling)
EXPLAIN_AFTER = 3.0  # ... and this long after its end (a 0.5 s sampler, a slow exit)
SELF_RESTART = ("Heartbeat restart triggered", "Performing heartbeat restart exec")
CRASH_WORDS = ("Traceback (most recent call last)",)


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    t: float
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"invariant": self.invariant, "t": round(self.t, 3), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Bounds:
    """How long two holders may last after each fault class ends, and the settle time."""

    deadtime: float
    hbnode_only: bool

    @property
    def heal(self) -> float:
        return self.deadtime + (HEAL_HBNODE if self.hbnode_only else HEAL_HEARTBEAT)

    @property
    def settle(self) -> float:
        return self.deadtime + (SETTLE_HBNODE if self.hbnode_only else SETTLE_HEARTBEAT)

    @property
    def hold(self) -> float:
        return HOLD_DEADTIMES * self.deadtime

    def after(self, opener: str, iface: str | None) -> float | None:
        """The allowance after the fault ends; None: this class may never cause it."""
        if opener in ("freeze", "kill", "loss"):
            return self.heal
        if opener == "cut" and iface == "eth1":
            # hbnode: with a ping node the cut-off side lets go before the other side's
            # deadtime (hbnode_isolation), so a cut alone never gives two holders.
            return None if self.hbnode_only else self.heal
        return None

    def table(self) -> dict[str, str]:
        rows = {
            "freeze (SIGSTOP) of a daemon": f"until SIGCONT + {self.heal:g} s",
            "kill -9 of a daemon": f"until its restart + {self.heal:g} s",
            "loss on eth1": f"until cleared + {self.heal:g} s",
            "eth1 cut": "never"
            if self.hbnode_only
            else f"until healed + {self.heal:g} s (Heartbeat's split brain)",
            "eth0 cut, poweroff/poweron, stop/start, standby/takeover": "never",
        }
        rows["settle"] = f"one holder within {self.settle:g} s, kept {self.hold:g} s"
        return rows


CLOSERS = {"thaw": "freeze", "restart": "kill", "clear": "loss", "heal": "cut"}
# every step that ends an episode (the ones above, and those no overlap is allowed for)
ENDINGS = {*CLOSERS, "start", "poweron"}


def allowance_windows(steps: list[StepRecord], bounds: Bounds) -> list[tuple[float, float, str]]:
    """(from, to, fault) for every episode whose fault may give two holders."""
    opened: dict[int, StepRecord] = {}
    windows: list[tuple[float, float, str]] = []
    end = max((s.ended for s in steps), default=0.0)
    for step in steps:
        if step.action in ("freeze", "kill", "loss", "cut"):
            opened[step.episode] = step
        elif step.action in CLOSERS and step.episode in opened:
            opener = opened.pop(step.episode)
            after = bounds.after(opener.action, opener.iface)
            if after is not None:
                windows.append((opener.started, step.ended + after, _name(opener)))
    for opener in opened.values():  # never closed (a run cut short): until the end
        if bounds.after(opener.action, opener.iface) is not None:
            windows.append((opener.started, end + bounds.heal, _name(opener)))
    return windows


def _name(step: StepRecord) -> str:
    return f"{step.action} {step.node}" + (f" {step.iface}" if step.iface else "")


def check(tl: Timeline) -> list[Violation]:
    bounds = Bounds(tl.deadtime, tl.hbnode_only)
    found = _two_holders(tl, bounds)
    settled = settled_window(tl, bounds)
    if settled is None:
        found.append(
            Violation(
                "no_settle",
                tl.faults_end,
                f"no single holder kept for {bounds.hold:g} s within {bounds.settle:g} s "
                f"of the last step (holders at the end: {_last(tl.holders)})",
            )
        )
    else:
        lo, _, holder = settled
        found += _settled_state(tl, bounds, lo, tl.end, holder)
    found += _daemons(tl)
    found += [Violation("leak", tl.end, line) for line in tl.leaks]
    return found


def _last(samples: list[tuple[float, list[str]]]) -> list[str]:
    return samples[-1][1] if samples else []


def _two_holders(tl: Timeline, bounds: Bounds) -> list[Violation]:
    windows = allowance_windows(tl.steps, bounds)
    found: list[Violation] = []
    for source, samples in (("netlink", tl.holders), ("ARP", tl.arp)):
        reported_until = -1.0
        for t, nodes in samples:
            if len(nodes) < 2 or any(lo <= t <= hi for lo, hi, _ in windows):
                continue
            if t > reported_until:  # one violation per run of samples
                found.append(
                    Violation("two_holders", t, f"{' and '.join(nodes)} hold the VIP ({source})")
                )
            reported_until = t + 1.0
    return found


def settled_window(tl: Timeline, bounds: Bounds) -> tuple[float, float, str] | None:
    """(from, to, holder): the first single holder after the faults, kept for ``hold``."""
    since: float | None = None
    holder: str | None = None
    for t, nodes in tl.holders:
        if t < tl.faults_end:
            continue
        single = nodes[0] if len(nodes) == 1 else None
        if single is None or single != holder or since is None:
            since, holder = (t, single) if single is not None else (None, None)
            continue
        if t - since >= bounds.hold:
            return since, t, holder
    return None


def _settled_state(
    tl: Timeline, bounds: Bounds, lo: float, hi: float, holder: str
) -> list[Violation]:
    found: list[Violation] = []
    if lo - tl.faults_end > bounds.settle:
        found.append(
            Violation(
                "no_settle",
                lo,
                f"{holder} held alone only {lo - tl.faults_end:.1f} s after the last step",
            )
        )
    moved = [(t, nodes) for t, nodes in tl.holders if lo <= t <= hi and nodes != [holder]]
    if moved:
        found.append(
            Violation("no_settle", moved[0][0], f"the VIP moved after settling: {moved[0][1]}")
        )
    arp = [nodes for t, nodes in tl.arp if lo <= t <= hi]
    if any(nodes and nodes != [holder] for nodes in arp) or [holder] not in arp:
        found.append(
            Violation(
                "no_settle", lo, f"ARP in the settled window: {sorted({tuple(n) for n in arp})}"
            )
        )
    http = [(ok, server) for t, ok, server in tl.http if lo <= t <= hi]
    if not http or http[-1] != (True, holder) or any(ok and s != holder for ok, s in http):
        found.append(
            Violation(
                "no_settle", lo, f"the client is not served by {holder} (last probe {http[-1:]})"
            )
        )
    procs = [p for p in tl.procs if lo <= p.t <= hi]
    for p in procs:
        if p.service and p.node != holder:
            found.append(
                Violation(
                    "service_without_vip", p.t, f"the service runs on {p.node}, which has no VIP"
                )
            )
            break
    mine = [p for p in procs if p.node == holder]
    if mine and not mine[-1].service:
        found.append(
            Violation("lost_resource", mine[-1].t, f"{holder} holds the VIP without the service")
        )
    found += _views(tl, lo, hi, holder)
    return found


def _views(tl: Timeline, lo: float, hi: float, holder: str) -> list[Violation]:
    """Each daemon's last view in the settled window names the holder.

    hbnode says who holds each group. cl_status rscstatus speaks of a node's own
    sets: its local set (groups it owns) and its foreign set (the peer's), so the
    owner holds the group when it says local or all, the other node when it says
    foreign or all (a node holding only its own, empty, set says local)."""
    last: dict[str, dict[str, Any]] = {}
    for t, node, view in tl.views:
        if lo <= t <= hi:
            last[node] = view
    found: list[Violation] = []
    for node, view in sorted(last.items()):
        resources = view.get("resources")
        if isinstance(resources, dict) and resources:
            says = {str(r.get("holder")) for r in resources.values() if isinstance(r, dict)}
            if says != {holder}:
                found.append(
                    Violation(
                        "view_disagrees",
                        hi,
                        f"{node} says {sorted(says)} hold(s) the group; the VIP is on {holder}",
                    )
                )
            continue
        rsc = str(view.get("rscstatus", ""))
        mine = {"local", "all"} if node == tl.owner else {"foreign", "all"}
        if (rsc in mine) != (node == holder):
            found.append(
                Violation(
                    "view_disagrees", hi, f"{node} says rscstatus {rsc!r}; the VIP is on {holder}"
                )
            )
    return found


def _daemons(tl: Timeline) -> list[Violation]:
    found = [
        Violation("daemon_crash", t, f"{node}: {line.strip()[:160]}")
        for t, node, line in tl.logs
        if any(word in line for word in CRASH_WORDS)
    ]
    by_node: dict[str, list[ProcSample]] = {}
    for sample in tl.procs:
        by_node.setdefault(sample.node, []).append(sample)
    for node, samples in by_node.items():
        for before, after in itertools.pairwise(samples):
            changed = before.power and after.power and before.daemon != after.daemon
            if not changed or _explained(tl, node, before, after):
                continue
            kind = "daemon_crash" if after.daemon is None else "daemon_restart"
            found.append(
                Violation(
                    kind,
                    after.t,
                    f"{node}: daemon PID {before.daemon} -> {after.daemon}, "
                    "no step or log line explains it",
                )
            )
    return found


def _explained(tl: Timeline, node: str, before: ProcSample, after: ProcSample) -> bool:
    if after.daemon is None:
        causes = {"kill", "stop", "poweroff"}
    elif before.daemon is None:
        causes = {"restart", "start", "poweron"}
    else:
        causes = {"kill", "stop", "poweroff", "restart", "start", "poweron"}
    for step in tl.steps:
        near = step.started - EXPLAIN_BEFORE <= after.t and before.t <= step.ended + EXPLAIN_AFTER
        if step.node == node and step.action in causes and near:
            return True
    return any(
        n == node and before.t - 15.0 <= t <= after.t + 1.0 and any(w in line for w in SELF_RESTART)
        for t, n, line in tl.logs
    )


def overlap_stats(tl: Timeline) -> dict[str, dict[str, float]]:
    """Two holders (netlink) per fault class: how many episodes of the class ran, the
    seconds two nodes held the VIP while one was on or just ended, and the longest
    that lasted past the fault's end. The figures beside the bounds in the report."""
    bounds = Bounds(tl.deadtime, tl.hbnode_only)
    episodes = _episodes(tl.steps, tl.end)
    stats: dict[str, dict[str, float]] = {}
    for kind, _, _ in episodes:
        entry = stats.setdefault(kind, {"episodes": 0, "two_holders_s": 0.0, "past_end_s": 0.0})
        entry["episodes"] += 1
    for start, end in _runs([t for t, nodes in tl.holders if len(nodes) >= 2]):
        near = [e for e in episodes if e[1] <= start <= e[2] + bounds.heal]
        # the fault that may cause it, if one was on; else the latest one
        allowed = [e for e in near if bounds.after(*_opener_of(e[0])) is not None]
        near = allowed or near
        kind, _, ended = max(near, key=lambda e: e[1]) if near else ("no fault", start, end)
        entry = stats.setdefault(kind, {"episodes": 0, "two_holders_s": 0.0, "past_end_s": 0.0})
        entry["two_holders_s"] = round(entry["two_holders_s"] + end - start, 3)
        entry["past_end_s"] = round(max(entry["past_end_s"], end - ended), 3)
    return stats


def _episodes(steps: list[StepRecord], end: float) -> list[tuple[str, float, float]]:
    """(fault class, start, end) of every episode; a one-step episode lasts its step."""
    opened: dict[int, StepRecord] = {}
    found: list[tuple[str, float, float]] = []
    for step in steps:
        if step.action in ENDINGS:
            opener = opened.pop(step.episode, None)
            if opener is not None:
                found.append((_kind(opener), opener.started, step.ended))
        elif step.action in ("standby", "takeover"):
            found.append((step.action, step.started, step.ended))
        else:
            opened[step.episode] = step
    found += [(_kind(o), o.started, end) for o in opened.values()]
    return found


def _opener_of(kind: str) -> tuple[str, str | None]:
    action, _, iface = kind.partition(" ")
    return action, iface or None


def _kind(step: StepRecord) -> str:
    return f"{step.action} {step.iface}" if step.iface else step.action


def _runs(times: list[float], gap: float = 0.35) -> list[tuple[float, float]]:
    """Consecutive sample times (no more than ``gap`` apart) as (first, last + 0.1)."""
    runs: list[tuple[float, float]] = []
    for t in times:
        if runs and t - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], t + 0.1)
        else:
            runs.append((t, t + 0.1))
    return runs
