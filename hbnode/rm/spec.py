"""What the resource manager takes from the configuration, as types of its own.

hbnode.config parses ha.cf and haresources (files, users, addresses: I/O); the
resource manager is sans-IO and must not import it. So the two things it needs
are defined here and the config layer uses them: the ``auto_failback`` policy
(hbnode.config re-exports it) and, structurally, a haresources line's key and
owner (hbnode.config's ResourceGroup has both).
"""

from __future__ import annotations

import enum
from typing import Protocol


class AutoFailback(enum.StrEnum):
    """``auto_failback``: legacy = no nice_failback; on/off = nice_failback (§4.3)."""

    LEGACY = "legacy"
    ON = "on"
    OFF = "off"


class GroupSpec(Protocol):
    """A resource group (one haresources line) as the resource manager knows it."""

    @property
    def key(self) -> str:
        """The group key: its first resource as written in haresources."""
        ...

    @property
    def owner(self) -> str:
        """The node the line names first (lowercase): the group is that node's local set."""
        ...
