"""Per-group state: what we want each resource group to be, and the actions to get there.

Every protocol above only says *hold* or *release* for some keys and asks to be
told when they have settled; this table turns that into acquire/release actions,
one in flight per group, retries failed stops, and cleans up after a failed start.
Keeping "want" apart from "state" means a change of mind mid-action (a standby
request while a takeover is still starting nginx) simply queues the reverse
action when the current one finishes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hbnode.rm.actions import Action, ActionKind
from hbnode.rm.events import Outbox
from hbnode.rm.spec import GroupSpec

RELEASE_RETRY = 1.0  # ResourceManager retries a failed stop every second
STOP_RETRY_MAX = 10  # HA_STOPRETRYMAX: after this many, Heartbeat reboots; we say so and go on


class GroupState(enum.StrEnum):
    RELEASED = "released"
    ACQUIRING = "acquiring"
    HELD = "held"
    RELEASING = "releasing"
    FAILED = "failed"  # the last start failed; the group has been stopped again
    FOUND = "found"  # running when the daemon started; the start-up negotiation decides


@dataclass
class Slot:
    group: GroupSpec
    state: GroupState = GroupState.RELEASED
    want: bool = False
    reason: str = ""
    action: Action | None = None
    retry_at: float | None = None  # a failed stop is retried then
    stop_failures: int = 0
    failed: bool = False  # set by a failed start, until the next successful one
    held_since: float | None = None


@dataclass
class _Waiter:
    tag: str
    keys: tuple[str, ...]
    then: Callable[[float], None]


class GroupTable:
    """The resource groups of haresources, in file order, and their actions."""

    def __init__(self, groups: Iterable[GroupSpec], out: Outbox) -> None:
        self.slots = {g.key: Slot(g) for g in groups}
        self.out = out
        self._waiters: list[_Waiter] = []
        self._firing = False
        self._announces: dict[int, str] = {}  # announce actions in flight → group key
        self._probes: dict[int, str] = {}  # start-up probes in flight → group key
        # Once start-up has decided, groups found running that we do not want are
        # stopped at once, also when their probe answers late (see release_found).
        self._found_verdict: str | None = None

    # -- intent -----------------------------------------------------------------------
    def hold(self, keys: Iterable[str], reason: str, now: float) -> list[str]:
        """Want ``keys`` running; returns those that were not already wanted."""
        changed = self._set_want(list(keys), True, reason)
        for key in self._ordered(changed):
            self._reconcile(self.slots[key], now)
        self._fire(now)
        return changed

    def release(self, keys: Iterable[str], reason: str, now: float) -> list[str]:
        """Want ``keys`` stopped (right to left across groups too); returns the changed ones."""
        changed = self._set_want(list(keys), False, reason)
        for key in reversed(self._ordered(changed)):
            self._reconcile(self.slots[key], now)
        self._fire(now)
        return changed

    def announce(self, key: str, reason: str) -> None:
        """Re-send gratuitous ARP for a group we keep (does not change its state)."""
        slot = self.slots.get(key)
        if slot is not None and slot.want:
            action = self.out.act(ActionKind.ANNOUNCE, key, reason)
            self._announces[action.id] = key

    # -- what runs at start-up ------------------------------------------------------------
    def probe(self, now: float) -> None:
        """Ask whether each group already runs here (a daemon killed with -9 leaves its
        resources behind). Heartbeat's init script only complains (verifyallidle)."""
        for slot in self.slots.values():
            action = self.out.act(ActionKind.PROBE, slot.group.key, "startup")
            self._probes[action.id] = slot.group.key

    def release_found(self, reason: str, now: float) -> list[str]:
        """Start-up has decided who holds what: stop every group found running that
        we do not hold (the peer does, or nobody may), right to left across groups."""
        self._found_verdict = reason
        keys = [k for k, slot in self.slots.items() if slot.state is GroupState.FOUND]
        for key in reversed(keys):
            self._stop_found(self.slots[key], now)
        self._fire(now)
        return keys

    def _stop_found(self, slot: Slot, now: float) -> None:
        if slot.want or self._found_verdict is None:
            return
        slot.state, slot.reason = GroupState.HELD, self._found_verdict
        self.out.log(
            "warn",
            f"Releasing resource group {slot.group.key}: running here but not ours to hold",
            "stale_release",
            group=slot.group.key,
            reason=self._found_verdict,
        )
        self._reconcile(slot, now)

    def _probed(self, key: str, running: bool, now: float) -> None:
        slot = self.slots[key]
        if not running:
            return
        self.out.log(
            "warn",
            f"Resource group {key} is running at start-up (left by an earlier run?)",
            "found_running",
            group=key,
        )
        if slot.state is not GroupState.RELEASED or slot.action is not None:
            return  # already being acquired (idempotent: adopted) or released
        slot.state = GroupState.FOUND
        self._reconcile(slot, now)  # wanted meanwhile: acquire (idempotent) at once
        self._stop_found(slot, now)

    def _set_want(self, keys: list[str], want: bool, reason: str) -> list[str]:
        changed = []
        for key in keys:
            slot = self.slots.get(key)
            if slot is None or slot.want == want:
                continue
            slot.want, slot.reason = want, reason
            changed.append(key)
        return changed

    # -- results ----------------------------------------------------------------------
    def done(self, action_id: int, ok: bool, now: float) -> Action | None:
        """Record an action's result; returns the action, or None if it is not ours."""
        announced = self._announces.pop(action_id, None)
        if announced is not None:
            if not ok:
                self.out.log("warn", f"Re-announcing resource group {announced} failed")
            return None
        probed = self._probes.pop(action_id, None)
        if probed is not None:
            self._probed(probed, ok, now)
            self._fire(now)
            return None
        slot = next((s for s in self.slots.values() if s.action and s.action.id == action_id), None)
        if slot is None or slot.action is None:
            return None
        action, slot.action = slot.action, None
        if action.kind is ActionKind.ACQUIRE:
            self._acquired(slot, ok, now)
        elif action.kind is ActionKind.RELEASE:
            self._released(slot, ok, now)
        self._reconcile(slot, now)
        self._fire(now)
        return action

    def _acquired(self, slot: Slot, ok: bool, now: float) -> None:
        key = slot.group.key
        if ok:
            slot.state, slot.failed, slot.held_since = GroupState.HELD, False, now
            self.out.log(
                "info",
                f"resource group {key} acquired",
                "group_acquired",
                group=key,
                reason=slot.reason,
            )
            return
        # ResourceManager: a start failed, so the whole group is stopped again (right
        # to left, which also stops what did start) and the node gives it up.
        slot.state, slot.failed, slot.want = GroupState.RELEASING, True, False
        slot.reason = "acquire_failed"
        self.out.log(
            "crit", f"Giving up resources due to failure of {key}", "acquire_failed", group=key
        )

    def _released(self, slot: Slot, ok: bool, now: float) -> None:
        key = slot.group.key
        if ok:
            slot.state = GroupState.FAILED if slot.failed else GroupState.RELEASED
            slot.held_since, slot.stop_failures = None, 0
            self.out.log(
                "info",
                f"resource group {key} released",
                "group_released",
                group=key,
                reason=slot.reason,
            )
            return
        slot.state = GroupState.RELEASING
        slot.stop_failures += 1
        slot.retry_at = now + RELEASE_RETRY
        self.out.log(
            "err",
            f"Stop of resource group {key} failed (attempt {slot.stop_failures})",
            "release_failed",
            group=key,
            attempt=slot.stop_failures,
        )
        if slot.stop_failures == STOP_RETRY_MAX:
            # Heartbeat reboots here; a daemon that reboots hosts is not ours to be.
            self.out.log("crit", f"Resource STOP failure. Reboot required! ({key}; still retrying)")

    # -- the one place actions are made --------------------------------------------------
    def _reconcile(self, slot: Slot, now: float) -> None:
        if slot.action is not None:
            return  # one action per group at a time; we come back when it is done
        if slot.want:
            if slot.state in (
                GroupState.RELEASED,
                GroupState.FAILED,
                GroupState.RELEASING,
                GroupState.FOUND,  # start is idempotent: completes and re-announces it
            ):
                slot.retry_at = None
                slot.state = GroupState.ACQUIRING
                slot.action = self.out.act(ActionKind.ACQUIRE, slot.group.key, slot.reason)
            return
        stop_due = slot.retry_at is None or now >= slot.retry_at
        if slot.state in (GroupState.HELD, GroupState.RELEASING) and stop_due:
            slot.retry_at = None
            slot.state = GroupState.RELEASING
            slot.action = self.out.act(ActionKind.RELEASE, slot.group.key, slot.reason)

    # -- time ---------------------------------------------------------------------------
    def timer(self) -> float | None:
        earliest = None
        for slot in self.slots.values():
            if slot.retry_at is not None and (earliest is None or slot.retry_at < earliest):
                earliest = slot.retry_at
        return earliest

    def handle_timer(self, now: float) -> None:
        for slot in reversed(list(self.slots.values())):
            if slot.retry_at is not None and now >= slot.retry_at:
                self._reconcile(slot, now)
        self._fire(now)

    # -- queries ------------------------------------------------------------------------
    def active(self, key: str) -> bool:
        """We hold the group or are on our way to (what a peer must not also do)."""
        slot = self.slots.get(key)
        if slot is None:
            return False
        return slot.want or slot.state in (GroupState.ACQUIRING, GroupState.HELD)

    def active_keys(self) -> list[str]:
        return [key for key in self.slots if self.active(key)]

    def settled(self, keys: Iterable[str]) -> bool:
        """No action in flight and no stop retry pending for any of ``keys``."""
        slots = (self.slots[k] for k in keys if k in self.slots)
        return all(s.action is None and s.retry_at is None for s in slots)

    def busy(self) -> bool:
        return not self.settled(self.slots)

    def state(self, key: str) -> GroupState:
        return self.slots[key].state

    # -- completion callbacks -----------------------------------------------------------
    def when_settled(
        self, tag: str, keys: Iterable[str], then: Callable[[float], None], now: float
    ) -> None:
        """Call ``then(now)`` once ``keys`` have settled (at once if they already have)."""
        self._waiters.append(_Waiter(tag, tuple(keys), then))
        self._fire(now)

    def cancel(self, tag: str) -> None:
        self._waiters = [w for w in self._waiters if w.tag != tag]

    def waiting(self, tag: str) -> bool:
        return any(w.tag == tag for w in self._waiters)

    def _fire(self, now: float) -> None:
        # Callbacks change wants and add waiters; the outer loop picks those up, the
        # guard keeps a callback from re-entering this loop.
        if self._firing:
            return
        self._firing = True
        try:
            while True:
                ready = next((w for w in self._waiters if self.settled(w.keys)), None)
                if ready is None:
                    return
                self._waiters.remove(ready)
                ready.then(now)
        finally:
            self._firing = False

    def _ordered(self, keys: list[str]) -> list[str]:
        wanted = set(keys)
        return [key for key in self.slots if key in wanted]
