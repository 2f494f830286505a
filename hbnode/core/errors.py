"""Errors of the core. A bad *peer* never raises: its messages become Dropped events.

Only our own misuse of the API raises (h11's LocalProtocolError idea): calling
``receive`` before ``start``, or setting a status Heartbeat has no word for.
"""


class LocalProtocolError(Exception):
    """The caller used :class:`~hbnode.core.protocol.HeartbeatCore` wrongly."""
