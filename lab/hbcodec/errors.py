"""The codec's two errors: bad bytes from the wire, and a bad request from the lab."""

from __future__ import annotations


class CodecError(Exception):
    """Bytes that are not a well-formed Heartbeat datagram (protocol.md §1.3-1.4).

    Every ``*_untrusted`` function of :mod:`lab.hbcodec` raises this and nothing
    else, whatever the bytes: a sniffer or a dump must survive any packet.
    """


class BuildError(ValueError):
    """A message the lab asked to encode that the chosen encoding cannot carry."""
