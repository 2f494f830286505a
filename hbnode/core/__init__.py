"""The sans-IO messaging core: Heartbeat's membership and reliability, no I/O.

Messages, link names and the time go in (:class:`~hbnode.core.protocol.HeartbeatCore`);
events, messages to send and ping probes come out. Signing, encoding, sockets and
clocks belong to the caller.
"""
