"""rtnetlink on a plain AF_NETLINK socket: the five requests IPaddr needs.

List the links, list the IPv4 addresses, add an address, delete one, set a link
up. These were pyroute2's ``IPRoute``; importing pyroute2 cost the daemon 12.5 MiB
of PSS (some 250 modules, asyncio and unittest.mock among them) and 70 ms of
start-up, held for the daemon's whole life, for requests that are a few fixed
structs (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h). So they are
written out here: packing and parsing are pure functions, checked byte for byte
against pyroute2's own encoding in the unit tests, and the lab's tests drive the
real kernel. The surface is the part of ``IPRoute`` that hbnode.resources.ipaddr
uses, so a test can still hand the agent an IPRoute-like fake.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import struct
from typing import Any

# linux/netlink.h
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
# linux/rtnetlink.h
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
IFLA_IFNAME = 3
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
IFF_UP = 0x1

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTATTR = struct.Struct("=HH")  # len, type
_ERRNO = struct.Struct("=i")
_ADDR_ATTRS = {IFA_ADDRESS: "IFA_ADDRESS", IFA_LOCAL: "IFA_LOCAL", IFA_BROADCAST: "IFA_BROADCAST"}
RECV_BUFFER = 64 * 1024
MAX_REPLIES = 10_000  # datagrams read for one request: bounds a confused kernel reply
TIMEOUT = 5.0  # the kernel answers at once; this only bounds a wedged socket


class NetlinkError(OSError):
    """The kernel refused a request; ``code`` is the errno, as pyroute2's NetlinkError."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(code, message or os.strerror(code))
        self.code = code


class RtMessage(dict[str, Any]):
    """One parsed message: header fields by key (``index``, ``flags``, ``prefixlen``…),
    attributes by :meth:`get_attr`, as pyroute2's messages."""

    def __init__(self, header: dict[str, Any], attrs: dict[str, Any]) -> None:
        super().__init__(header)
        self.attrs = attrs

    def get_attr(self, name: str) -> Any:
        return self.attrs.get(name)


def _align(length: int) -> int:
    return (length + 3) & ~3


def rtattr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes (pure)."""
    data = _RTATTR.pack(_RTATTR.size + len(payload), kind) + payload
    return data + b"\0" * (_align(len(data)) - len(data))


def nlmsg(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """One netlink message: header, then the body (pure)."""
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, flags, seq, 0) + body


def addr_request(
    kind: int,
    flags: int,
    seq: int,
    *,
    index: int,
    address: str,
    prefixlen: int,
    label: str | None = None,
    broadcast: str | None = None,
) -> bytes:
    """RTM_NEWADDR / RTM_DELADDR for one IPv4 address: IFA_LOCAL and IFA_ADDRESS both
    carry it, as ``ip addr`` and pyroute2 send it (pure)."""
    packed = socket.inet_aton(address)
    body = _IFADDRMSG.pack(socket.AF_INET, prefixlen, 0, 0, index)
    body += rtattr(IFA_LOCAL, packed) + rtattr(IFA_ADDRESS, packed)
    if label is not None:
        body += rtattr(IFA_LABEL, label.encode() + b"\0")
    if broadcast is not None:
        body += rtattr(IFA_BROADCAST, socket.inet_aton(broadcast))
    return nlmsg(kind, flags, seq, body)


def link_up_request(seq: int, index: int) -> bytes:
    """RTM_NEWLINK setting IFF_UP on one link, nothing else (pure)."""
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)
    return nlmsg(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, body)


def dump_request(kind: int, seq: int) -> bytes:
    """RTM_GETLINK (every link) or RTM_GETADDR (every IPv4 address) (pure)."""
    if kind == RTM_GETLINK:
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    else:
        body = _IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
    return nlmsg(kind, NLM_F_REQUEST | NLM_F_DUMP, seq, body)


def _attrs(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    while offset + _RTATTR.size <= end:
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size or offset + length > end:
            break
        found[kind] = data[offset + _RTATTR.size : offset + length]
        offset += _align(length)
    return found


def _text(payload: bytes | None) -> str | None:
    return None if payload is None else payload.split(b"\0", 1)[0].decode(errors="replace")


def parse_link(data: bytes, offset: int, end: int) -> RtMessage:
    """An RTM_NEWLINK body (an ifinfomsg and its attributes) (pure)."""
    family, kind, index, flags, _change = _IFINFOMSG.unpack_from(data, offset)
    attrs = _attrs(data, offset + _IFINFOMSG.size, end)
    header = {"family": family, "ifi_type": kind, "index": index, "flags": flags}
    return RtMessage(header, {"IFLA_IFNAME": _text(attrs.get(IFLA_IFNAME))})


def parse_addr(data: bytes, offset: int, end: int) -> RtMessage:
    """An RTM_NEWADDR body (an ifaddrmsg and its attributes) (pure)."""
    family, prefixlen, flags, scope, index = _IFADDRMSG.unpack_from(data, offset)
    attrs = _attrs(data, offset + _IFADDRMSG.size, end)
    named: dict[str, Any] = {"IFA_LABEL": _text(attrs.get(IFA_LABEL))}
    for kind, name in _ADDR_ATTRS.items():
        payload = attrs.get(kind)
        named[name] = socket.inet_ntoa(payload) if payload and len(payload) == 4 else None
    header = {"family": family, "prefixlen": prefixlen, "flags": flags, "scope": scope}
    return RtMessage({**header, "index": index}, named)


def parse_replies(data: bytes, seq: int) -> tuple[list[RtMessage], bool]:
    """The messages of one datagram that answer request ``seq``, and whether the answer
    is complete (NLMSG_DONE, or the ACK). A refusal raises NetlinkError (pure)."""
    found: list[RtMessage] = []
    offset, done = 0, False
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, flags, msg_seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        body, end = offset + _NLMSGHDR.size, offset + length
        offset += _align(length)
        if msg_seq != seq:
            continue  # a late answer to an earlier request
        if kind == NLMSG_DONE:
            # A dump that failed half-way says so in its DONE (a negative errno).
            code = _ERRNO.unpack_from(data, body)[0] if end - body >= _ERRNO.size else 0
            if code < 0:
                raise NetlinkError(-code)
            done = True
        elif kind == NLMSG_ERROR:
            (code,) = _ERRNO.unpack_from(data, body)
            if code:
                raise NetlinkError(-code)
            done = True  # the ACK
        elif kind == RTM_NEWLINK:
            found.append(parse_link(data, body, end))
        elif kind == RTM_NEWADDR:
            found.append(parse_addr(data, body, end))
        if not flags & NLM_F_MULTI and kind not in (NLMSG_DONE, NLMSG_ERROR):
            done = True  # a single answer
    return found, done


class RtNetlink:
    """A NETLINK_ROUTE socket with IPRoute's ``get_links``, ``get_addr``, ``addr`` and
    ``link`` (the subset IPaddr uses). Open it in the namespace it is to act on."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.settimeout(TIMEOUT)
        self.sock.bind((0, 0))
        self._seq = itertools.count(1)

    def __enter__(self) -> RtNetlink:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def get_links(self) -> list[RtMessage]:
        seq = next(self._seq)
        return self._ask(dump_request(RTM_GETLINK, seq), seq)

    def get_addr(self, family: int = socket.AF_INET) -> list[RtMessage]:
        if family != socket.AF_INET:
            raise NetlinkError(errno.EAFNOSUPPORT, "only IPv4 addresses are listed")
        seq = next(self._seq)
        return [m for m in self._ask(dump_request(RTM_GETADDR, seq), seq) if m["family"] == family]

    def addr(self, command: str, **fields: Any) -> None:
        """``add`` (refused with EEXIST if present) or ``del`` one IPv4 address."""
        if command == "add":
            kind, flags = RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        elif command == "del":
            kind, flags = RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK
        else:
            raise ValueError(f"addr {command!r}: only add and del")
        seq = next(self._seq)
        self._ask(addr_request(kind, flags, seq, **fields), seq)

    def link(self, command: str, *, index: int, state: str) -> None:
        """``set`` one link ``up`` (the only change IPaddr makes to a link)."""
        if command != "set" or state != "up":
            raise ValueError(f"link {command!r} state={state!r}: only set up")
        seq = next(self._seq)
        self._ask(link_up_request(seq, index), seq)

    def _ask(self, request: bytes, seq: int) -> list[RtMessage]:
        self.sock.sendto(request, (0, 0))
        found: list[RtMessage] = []
        for _ in range(MAX_REPLIES):
            messages, done = parse_replies(self.sock.recv(RECV_BUFFER), seq)
            found += messages
            if done:
                return found
        raise NetlinkError(errno.EPROTO, "no end to the kernel's answer")
