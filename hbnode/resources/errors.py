"""Errors of the resource agent layer: one small hierarchy, each with a message for the log."""

from __future__ import annotations


class ResourceError(Exception):
    """A resource could not be started, stopped or probed; the message says why."""


class InterfaceError(ResourceError):
    """No usable interface for a VIP (missing, down, or no network that holds the IP)."""


class GarpError(ResourceError):
    """Gratuitous ARP could not be sent (no raw socket, interface not ARP-able)."""


class ArpFormatError(ValueError):
    """Bytes that are not an Ethernet ARP frame (raised only by ``*_untrusted`` parsers)."""


class ScriptError(ResourceError):
    """A resource script is missing or could not be run."""


class ScriptNotFound(ScriptError):
    """No executable script of that name in the search directories (retrying won't help)."""


class ScriptTimeout(ScriptError):
    """A resource script outlived its timeout; its process group was killed."""
