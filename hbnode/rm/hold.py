"""``rsc_hold``: which of the two resource sets a node says it holds (§3.2, §4.3).

Heartbeat's R1 design has two sets per node: *local* groups (haresources lines
that name the node) and *foreign* groups (all the others). A ``resource`` report
carries the sender's claim relative to itself, so the same group is "local" in
one node's report and "foreign" in the other's. A claim is about the set, not
about each group: a node with no local groups still reports ``local`` once it
has taken its (empty) local set, exactly as the capture shows.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from hbnode.rm.spec import GroupSpec


class Hold(enum.IntFlag):
    NONE = 0
    LOCAL = 1
    FOREIGN = 2
    ALL = 3

    @property
    def text(self) -> str:
        """The wire and ``cl_status rscstatus`` word: none/local/foreign/all."""
        return _TEXT[int(self)]

    @classmethod
    def parse(cls, text: str | None) -> Hold | None:
        """The flag for a wire word; ``failback`` means foreign (hb_standby's alias)."""
        if text is None:
            return None
        word = text.strip().lower()
        if word == "failback":
            return cls.FOREIGN
        for value, name in _TEXT.items():
            if name == word:
                return cls(value)
        return None


_TEXT = {0: "none", 1: "local", 2: "foreign", 3: "all"}


def set_of(group: GroupSpec, node: str) -> Hold:
    """Which of ``node``'s sets ``group`` belongs to."""
    return Hold.LOCAL if group.owner == node else Hold.FOREIGN


def keys_in(hold: Hold, node: str, groups: Iterable[GroupSpec]) -> list[str]:
    """The keys of the groups ``hold`` covers, relative to ``node``, in haresources order."""
    return [g.key for g in groups if set_of(g, node) & hold]


def claims(hold: Hold, node: str, group: GroupSpec) -> bool:
    """Whether ``node``'s claim ``hold`` covers ``group``."""
    return bool(set_of(group, node) & hold)


def mirror(part: Hold) -> Hold:
    """A set seen from the other node (two nodes): my local groups are its foreign ones."""
    mirrored = Hold.NONE
    if part & Hold.LOCAL:
        mirrored |= Hold.FOREIGN
    if part & Hold.FOREIGN:
        mirrored |= Hold.LOCAL
    return mirrored
