"""The argument of IPaddr and IPaddr2 in haresources, read as Heartbeat 3.0.6 reads it.

``/etc/ha.d/resource.d/IPaddr`` and ``IPaddr2`` (the wrappers Heartbeat ships)
cut their argument with sed into the OCF parameters ip, cidr_netmask, nic and
broadcast, and the OCF agents check them with resource-agents' findif:

* ip is everything before the first ``/``; then **every** ``/`` that follows is
  skipped (``s%^IP/*%%``), so the next field is the netmask even after ``//``:
  ``1.2.3.4//eth0`` has the netmask ``eth0``, which findif refuses.
* the netmask is up to the next ``/``; again every ``/`` after it is skipped.
* the third field is the broadcast address when it starts with a digit, else
  the nic, followed by the broadcast; anything after that is ignored.

The checks differ between the agents (both measured on Debian's heartbeat
3.0.6 with resource-agents 4.12):

==============  ====================================  ===================================
field           IPaddr (tools/findif.c)               IPaddr2 (heartbeat/findif.sh)
==============  ====================================  ===================================
netmask bits    1 or 2 digits, 1..32                  1 to 3 digits, 1..32
dotted netmask  any address; bits = 32 - trailing 0s  contiguous only; else "Bogus netmask"
nic ``:label``  the label is dropped                  ``nic:label`` (15 characters at most)
broadcast       an IPv4 address                       an IPv4 address, ``+`` or ``-``
==============  ====================================  ===================================
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from hbnode.config.values import IFNAMSIZ, ValueSyntaxError, is_ipv4, parse_ifname

IPADDR_SCRIPTS = frozenset({"IPaddr", "IPaddr2"})  # implemented inside hbnode


@dataclass(frozen=True, slots=True)
class IPSpec:
    """``ip[/netmask[/nic[:label]|/broadcast[/broadcast]]]`` with the agents' meaning.

    ``broadcast`` is an address, ``-`` (IPaddr2: the network address) or None
    (computed from ip and prefix, which is also what IPaddr2's ``+`` asks for).
    """

    ip: str
    prefix: int | None = None
    nic: str | None = None
    label: str | None = None  # IPaddr2's alias label; IPaddr picks a free alias (§6)
    broadcast: str | None = None


@dataclass(frozen=True, slots=True)
class WrapperFields:
    """The fields the resource.d wrapper exports, as strings (None: not exported)."""

    ip: str
    netmask: str | None = None
    nic: str | None = None
    broadcast: str | None = None
    ignored: str = ""  # what the wrapper's sed drops at the end


def _cut(text: str) -> tuple[str, str]:
    """The field up to the next ``/``, and what follows with all its leading ``/`` gone."""
    field, _, rest = text.partition("/")
    return field, rest.lstrip("/")


def split_wrapper_argument(text: str) -> WrapperFields:
    """Cut an IPaddr/IPaddr2 argument the way the resource.d wrappers' sed does."""
    ip, rest = _cut(text)
    if not rest:
        return WrapperFields(ip)
    netmask, rest = _cut(rest)
    third, after = _cut(rest)
    if not third:
        return WrapperFields(ip, netmask)
    if third[0].isdigit():  # case $NIC in [0-9]*) BROADCAST=$NIC
        return WrapperFields(ip, netmask, None, third, after)
    broadcast, ignored = _cut(after)
    return WrapperFields(ip, netmask, third, broadcast, ignored)


def _netmask_bits(text: str, script: str) -> int:
    """cidr_netmask as findif reads it, in bits (1..32)."""
    bad = f"Invalid netmask specification [{text}]"
    if "." in text:
        try:
            mask = int(ipaddress.IPv4Address(text))
        except ValueError:
            raise ValueSyntaxError(bad) from None
        trailing = (mask & -mask).bit_length() - 1 if mask else 32
        if script == "IPaddr2" and mask != (0xFFFFFFFF << trailing) & 0xFFFFFFFF:
            raise ValueSyntaxError(f"Bogus netmask: {text} (IPaddr2 wants contiguous bits)")
        bits = 32 - trailing  # findif.c netmask_bits: counted from the lowest set bit
    else:
        longest = 3 if script == "IPaddr2" else 2  # findif.sh prefixcheck / findif.c
        if not (text.isascii() and text.isdigit() and len(text) <= longest):
            raise ValueSyntaxError(bad)
        if len(text) == 3:
            # findif.sh lets "024" through, but ip(8) then reads it as octal.
            raise ValueSyntaxError(f"{bad} (write it without a leading zero)")
        bits = int(text)
    if not 1 <= bits <= 32:
        raise ValueSyntaxError(bad)
    return bits


def _prefix(text: str, ip: str, netmask: str, script: str) -> int:
    try:
        return _netmask_bits(netmask, script)
    except ValueSyntaxError as exc:
        if text.startswith(f"{ip}//") and not netmask[:1].isdigit():
            hint = f"the wrapper skips the empty field: write {ip}/bits/{netmask}"
            raise ValueSyntaxError(f"{exc} ({hint})") from None
        raise


def _nic(text: str, script: str) -> tuple[str, str | None]:
    nic, colon, label = text.partition(":")
    parse_ifname(nic)
    if not colon:
        return nic, None
    if script == "IPaddr":
        return nic, label or None  # kept for the record: IPaddr takes the first free alias
    if len(f"{nic}:{label}") >= IFNAMSIZ:
        raise ValueSyntaxError(
            f"Interface label [{nic}:{label}] exceeds maximum character limit of 15"
        )
    return nic, label or None


def _broadcast(text: str, script: str) -> str | None:
    if script == "IPaddr2" and text in ("+", "-"):
        return None if text == "+" else "-"  # ip addr add … brd +|-
    if not is_ipv4(text):
        raise ValueSyntaxError(f"Invalid broadcast address [{text}].")
    return text


def parse_ipspec(text: str, script: str = "IPaddr", notes: list[str] | None = None) -> IPSpec:
    """Check an IPaddr/IPaddr2 argument as the wrapper and findif would.

    Raises ValueSyntaxError with findif's wording where the agent would refuse
    the resource at takeover; adds to ``notes`` what it silently ignores.
    """
    said = [] if notes is None else notes
    fields = split_wrapper_argument(text)
    if not is_ipv4(fields.ip):
        raise ValueSyntaxError(f"IP address [{fields.ip}] not valid.")
    prefix = None if fields.netmask is None else _prefix(text, fields.ip, fields.netmask, script)
    nic = label = None
    if fields.nic is not None:
        nic, label = _nic(fields.nic, script)
    broadcast = _broadcast(fields.broadcast, script) if fields.broadcast else None
    if fields.ignored:
        said.append(f"{script} ignores {fields.ignored!r} at the end of {text!r}")
    return IPSpec(fields.ip, prefix, nic, label, broadcast)
