"""What ``hb_standby`` and ``hb_takeover`` move: all, local, foreign or failback (§8).

The same four words are the tools' arguments, the control socket's ``what`` and
the ``rsc_hold`` of an ``hb_takeover`` message, so they are spelled once, here.
"""

from __future__ import annotations

import enum

from hbnode.rm.hold import Hold


class StandbyScope(enum.StrEnum):
    """Which resource set an operator gives away (standby) or asks for (takeover)."""

    ALL = "all"
    LOCAL = "local"
    FOREIGN = "foreign"
    FAILBACK = "failback"  # hb_standby's word for foreign: give back what is not ours

    @classmethod
    def parse(cls, word: str | None) -> StandbyScope | None:
        """The scope a word names (any case, spaces ignored), or None."""
        try:
            return cls((word or "").strip().lower())
        except ValueError:
            return None

    @property
    def hold(self) -> Hold:
        """The set, relative to the node that goes standby."""
        return Hold.FOREIGN if self is StandbyScope.FAILBACK else Hold[self.name]

    @property
    def mirror(self) -> Hold:
        """hb_takeover R from the peer → the set we go standby for (rc.d/hb_takeover).

        all→all, local→foreign, foreign→local. ``failback`` is passed through unmapped
        by Heartbeat's script, so hb_standby runs with no argument: all. We keep that
        quirk so a mixed cluster behaves the same whichever node runs the tool.
        """
        return _MIRROR[self]


_MIRROR = {
    StandbyScope.ALL: Hold.ALL,
    StandbyScope.FAILBACK: Hold.ALL,
    StandbyScope.LOCAL: Hold.FOREIGN,
    StandbyScope.FOREIGN: Hold.LOCAL,
}
