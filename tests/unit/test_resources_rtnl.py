"""hbnode's own rtnetlink requests, byte for byte as pyroute2 encodes them, and its parser
fed pyroute2's encoding of the kernel's answers. The last tests read (never change)
this machine's links and addresses through both and compare."""

from __future__ import annotations

import errno
import socket
import struct
from typing import Any

import pytest
from pyroute2 import IPRoute
from pyroute2.netlink import nlmsgerr
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from hbnode.resources import rtnl
from hbnode.resources.rtnl import NetlinkError, RtNetlink, parse_replies

ADD = rtnl.NLM_F_REQUEST | rtnl.NLM_F_ACK | rtnl.NLM_F_CREATE | rtnl.NLM_F_EXCL
ACK_ONLY = rtnl.NLM_F_REQUEST | rtnl.NLM_F_ACK


def encoded(msg: Any, kind: int, nl_flags: int, seq: int, /, **fields: Any) -> bytes:
    """pyroute2's bytes for ``msg`` (an ifaddrmsg or ifinfmsg) with these fields."""
    attrs = fields.pop("attrs", [])
    for name, value in fields.items():
        msg[name] = value
    msg["attrs"] = attrs
    msg["header"]["type"] = kind
    msg["header"]["flags"] = nl_flags
    msg["header"]["sequence_number"] = seq
    msg.encode()
    return bytes(msg.data)


@pytest.mark.parametrize(
    ("label", "broadcast"), [("eth0:0", "192.168.0.255"), (None, None), ("eth0", None)]
)
def test_add_is_what_pyroute2_sends(label: str | None, broadcast: str | None) -> None:
    attrs = [("IFA_LOCAL", "192.168.0.38"), ("IFA_ADDRESS", "192.168.0.38")]
    attrs += [("IFA_LABEL", label)] if label else []
    attrs += [("IFA_BROADCAST", broadcast)] if broadcast else []
    theirs = encoded(
        ifaddrmsg(), rtnl.RTM_NEWADDR, ADD, 7, family=2, prefixlen=24, index=2, attrs=attrs
    )
    ours = rtnl.addr_request(
        rtnl.RTM_NEWADDR,
        ADD,
        7,
        index=2,
        address="192.168.0.38",
        prefixlen=24,
        label=label,
        broadcast=broadcast,
    )
    assert ours == theirs


def test_delete_and_link_up_are_what_pyroute2_sends() -> None:
    attrs = [("IFA_LOCAL", "10.0.0.9"), ("IFA_ADDRESS", "10.0.0.9")]
    theirs = encoded(
        ifaddrmsg(), rtnl.RTM_DELADDR, ACK_ONLY, 3, family=2, prefixlen=8, index=5, attrs=attrs
    )
    ours = rtnl.addr_request(
        rtnl.RTM_DELADDR, ACK_ONLY, 3, index=5, address="10.0.0.9", prefixlen=8
    )
    assert ours == theirs
    up = encoded(ifinfmsg(), rtnl.RTM_NEWLINK, ACK_ONLY, 9, family=0, index=3, flags=1, change=1)
    assert rtnl.link_up_request(9, 3) == up


def test_dump_requests() -> None:
    dump = rtnl.NLM_F_REQUEST | rtnl.NLM_F_DUMP
    assert rtnl.dump_request(rtnl.RTM_GETLINK, 4) == encoded(
        ifinfmsg(), rtnl.RTM_GETLINK, dump, 4, family=0
    )
    assert rtnl.dump_request(rtnl.RTM_GETADDR, 5) == encoded(
        ifaddrmsg(), rtnl.RTM_GETADDR, dump, 5, family=2
    )


def done(seq: int, code: int = 0) -> bytes:
    return rtnl.nlmsg(rtnl.NLMSG_DONE, rtnl.NLM_F_MULTI, seq, struct.pack("=i", code))


def error(seq: int, code: int) -> bytes:
    msg = nlmsgerr()
    msg["error"] = -code
    msg["header"]["type"] = rtnl.NLMSG_ERROR
    msg["header"]["sequence_number"] = seq
    msg.encode()
    return bytes(msg.data)


def test_a_dump_is_parsed_until_done() -> None:
    multi = rtnl.NLM_F_MULTI
    link = encoded(
        ifinfmsg(), rtnl.RTM_NEWLINK, multi, 6, index=2, flags=0x1043,
        attrs=[("IFLA_IFNAME", "eth0"), ("IFLA_MTU", 1500)],
    )  # fmt: skip
    addr = encoded(
        ifaddrmsg(), rtnl.RTM_NEWADDR, multi, 6, family=2, prefixlen=24, index=2,
        attrs=[("IFA_ADDRESS", "192.168.0.38"), ("IFA_LOCAL", "192.168.0.38"),
               ("IFA_LABEL", "eth0:0"), ("IFA_BROADCAST", "192.168.0.255")],
    )  # fmt: skip
    stale = encoded(ifinfmsg(), rtnl.RTM_NEWLINK, multi, 5, index=9)  # an earlier request's
    found, complete = parse_replies(link + stale + addr, 6)
    assert not complete
    assert [(m["index"], m["flags"], m.get_attr("IFLA_IFNAME")) for m in found[:1]] == [
        (2, 0x1043, "eth0")
    ]
    assert found[1]["prefixlen"] == 24 and found[1]["index"] == 2
    assert found[1].attrs == {
        "IFA_ADDRESS": "192.168.0.38",
        "IFA_LOCAL": "192.168.0.38",
        "IFA_LABEL": "eth0:0",
        "IFA_BROADCAST": "192.168.0.255",
    }
    assert parse_replies(done(6), 6) == ([], True)


def test_acks_and_refusals() -> None:
    assert parse_replies(error(3, 0), 3) == ([], True)
    with pytest.raises(NetlinkError) as refused:
        parse_replies(error(3, errno.EEXIST), 3)
    assert refused.value.code == errno.EEXIST and refused.value.errno == errno.EEXIST
    with pytest.raises(NetlinkError) as failed_dump:
        parse_replies(done(4, -errno.EINTR), 4)
    assert failed_dump.value.code == errno.EINTR
    assert parse_replies(error(2, errno.EEXIST), 3) == ([], False)  # not ours: skipped


@pytest.mark.parametrize("junk", [b"", b"\x01\x02", b"\xff" * 40, error(3, 0)[:18]])
def test_truncated_or_garbage_is_no_answer(junk: bytes) -> None:
    assert parse_replies(junk, 3) == ([], False)


def test_requests_other_than_ipaddr_s_are_refused() -> None:
    with RtNetlink() as ours:
        with pytest.raises(ValueError):
            ours.addr("replace", index=1, address="127.0.0.2", prefixlen=8)
        with pytest.raises(ValueError):
            ours.link("set", index=1, state="down")


def test_this_machine_s_links_and_addresses_read_alike() -> None:
    with RtNetlink() as ours, IPRoute() as theirs:
        our_links = {(m["index"], m["flags"], m.get_attr("IFLA_IFNAME")) for m in ours.get_links()}
        their_links = {
            (m["index"], m["flags"], m.get_attr("IFLA_IFNAME")) for m in theirs.get_links()
        }
        names = ("IFA_ADDRESS", "IFA_LOCAL", "IFA_LABEL", "IFA_BROADCAST")
        our_addrs = {
            (m["index"], m["prefixlen"], *(m.get_attr(n) for n in names)) for m in ours.get_addr()
        }
        their_addrs = {
            (m["index"], m["prefixlen"], *(m.get_attr(n) for n in names))
            for m in theirs.get_addr(family=socket.AF_INET)
        }
    assert our_links == their_links and (1, 0x49, "lo") in {
        (i, f & 0x49, n) for i, f, n in our_links
    }
    assert our_addrs == their_addrs and any(a[2] == "127.0.0.1" for a in our_addrs)
