"""IPaddr / IPaddr2 arguments as the resource.d wrappers and resource-agents' findif read them.

Each row names the code path it mirrors: the wrappers' sed split (Heartbeat's
resource.d/IPaddr and IPaddr2), tools/findif.c (used by the OCF IPaddr) or
heartbeat/findif.sh (used by IPaddr2). Every row was run through the real
scripts (Debian's heartbeat 3.0.6, resource-agents 4.12) in a throwaway network
namespace holding the lab's addresses (eth0 192.168.0.18/24, eth1
172.16.254.18/24): accepted rows came up with the prefix, nic and broadcast
below, refused rows failed with the message below.
"""

from __future__ import annotations

import pytest

from hbnode.config.ipspec import IPSpec, WrapperFields, parse_ipspec, split_wrapper_argument
from hbnode.config.values import ValueSyntaxError

SED = "resource.d/IPaddr: sed 's%^'$BASEIP'/*%%'"


@pytest.mark.parametrize(
    ("path", "text", "fields"),
    [
        (SED, "1.2.3.4", WrapperFields("1.2.3.4")),
        (f"{SED}: a trailing / is dropped", "1.2.3.4/", WrapperFields("1.2.3.4")),
        (SED, "1.2.3.4/24", WrapperFields("1.2.3.4", "24")),
        (SED, "1.2.3.4/24/", WrapperFields("1.2.3.4", "24")),
        (SED, "1.2.3.4/24/eth0", WrapperFields("1.2.3.4", "24", "eth0", "")),
        (SED, "1.2.3.4/24/eth0:0", WrapperFields("1.2.3.4", "24", "eth0:0", "")),
        (f"{SED}: every / after ip goes, so eth0 is the netmask", "1.2.3.4//eth0",
         WrapperFields("1.2.3.4", "eth0")),
        (f"{SED}: every / after the netmask goes", "1.2.3.4/24//eth0",
         WrapperFields("1.2.3.4", "24", "eth0", "")),
        ("resource.d/IPaddr: case $NIC in [0-9]*) is the broadcast", "1.2.3.4/24/1.2.3.255",
         WrapperFields("1.2.3.4", "24", None, "1.2.3.255")),
        (SED, "1.2.3.4/24//1.2.3.255", WrapperFields("1.2.3.4", "24", None, "1.2.3.255")),
        (SED, "1.2.3.4/24/eth0/1.2.3.255", WrapperFields("1.2.3.4", "24", "eth0", "1.2.3.255")),
        (SED, "1.2.3.4/24/eth0//1.2.3.255", WrapperFields("1.2.3.4", "24", "eth0", "1.2.3.255")),
        (f"{SED}: 's%/.*%%' drops the rest", "1.2.3.4/24/eth0/1.2.3.255/x",
         WrapperFields("1.2.3.4", "24", "eth0", "1.2.3.255", "x")),
        (f"{SED}: after a broadcast third field the rest is dropped", "1.2.3.4/24/1.2.3.255/eth0",
         WrapperFields("1.2.3.4", "24", None, "1.2.3.255", "eth0")),
    ],
)  # fmt: skip
def test_the_wrappers_split(path: str, text: str, fields: WrapperFields) -> None:
    assert split_wrapper_argument(text) == fields, path


FINDIF_C = "tools/findif.c"
FINDIF_SH = "heartbeat/findif.sh"
BOTH = ("IPaddr", "IPaddr2")


@pytest.mark.parametrize(
    ("path", "scripts", "text", "spec"),
    [
        ("tutorial form", BOTH, "192.168.0.38/24/eth0:0",
         IPSpec("192.168.0.38", 24, "eth0", "0")),
        ("canonname: a bare address", BOTH, "192.168.0.38", IPSpec("192.168.0.38")),
        ("wrapper: trailing slash", BOTH, "192.168.0.38/", IPSpec("192.168.0.38")),
        ("wrapper: trailing slash", BOTH, "192.168.0.38/24/", IPSpec("192.168.0.38", 24)),
        ("findif: /25 honoured", BOTH, "192.168.0.38/25", IPSpec("192.168.0.38", 25)),
        ("wrapper: '//' before the nic", BOTH, "192.168.0.38/24//eth0",
         IPSpec("192.168.0.38", 24, "eth0")),
        ("wrapper: empty label", BOTH, "192.168.0.38/24/eth0:",
         IPSpec("192.168.0.38", 24, "eth0")),
        ("wrapper: broadcast as third field", BOTH, "192.168.0.38/24/192.168.0.127",
         IPSpec("192.168.0.38", 24, None, None, "192.168.0.127")),
        ("wrapper: '//' before the broadcast", BOTH, "192.168.0.38/24//192.168.0.127",
         IPSpec("192.168.0.38", 24, None, None, "192.168.0.127")),
        ("wrapper: nic and broadcast", BOTH, "192.168.0.38/24/eth0/192.168.0.127",
         IPSpec("192.168.0.38", 24, "eth0", None, "192.168.0.127")),
        (f"{FINDIF_C} ConvertQuadToInt / {FINDIF_SH} maybe_convert_dotted_quad_to_cidr",
         BOTH, "192.168.0.38/255.255.255.0/eth0", IPSpec("192.168.0.38", 24, "eth0")),
        (f"{FINDIF_C} netmask_bits: counts from the lowest set bit", ("IPaddr",),
         "192.168.0.38/255.0.255.0", IPSpec("192.168.0.38", 24)),
        (f"{FINDIF_C}: the nic is not checked against the routes", BOTH,
         "192.168.0.38/24/eth1", IPSpec("192.168.0.38", 24, "eth1")),
        ("IPaddr: the label is dropped, any length", ("IPaddr",),
         "192.168.0.38/24/eth0:toolonglabelxx", IPSpec("192.168.0.38", 24, "eth0",
                                                       "toolonglabelxx")),
        (f"{FINDIF_SH}: brd +", ("IPaddr2",), "192.168.0.38/24/eth0/+",
         IPSpec("192.168.0.38", 24, "eth0")),
        (f"{FINDIF_SH}: brd -", ("IPaddr2",), "192.168.0.38/24/eth0/-",
         IPSpec("192.168.0.38", 24, "eth0", None, "-")),
        ("IPaddr2 ip_init: nic:label", ("IPaddr2",), "192.168.0.38/24/eth0:web",
         IPSpec("192.168.0.38", 24, "eth0", "web")),
    ],
)  # fmt: skip
def test_accepted(path: str, scripts: tuple[str, ...], text: str, spec: IPSpec) -> None:
    for script in scripts:
        assert parse_ipspec(text, script) == spec, (path, script)


def test_what_the_wrapper_drops_is_said() -> None:
    notes: list[str] = []
    spec = parse_ipspec("192.168.0.38/24/eth0/192.168.0.127/junk", "IPaddr", notes)
    assert spec == IPSpec("192.168.0.38", 24, "eth0", None, "192.168.0.127")
    assert notes == [
        "IPaddr ignores 'junk' at the end of '192.168.0.38/24/eth0/192.168.0.127/junk'"
    ]


@pytest.mark.parametrize(
    ("path", "scripts", "text", "message"),
    [
        (f"wrapper sed + {FINDIF_C}/{FINDIF_SH}: 'eth0' becomes the netmask", BOTH,
         "192.168.0.38//eth0",
         "Invalid netmask specification [eth0] (the wrapper skips the empty field:"
         " write 192.168.0.38/bits/eth0)"),
        (f"{FINDIF_C} ValidateNetmaskBits: 1..32", BOTH, "192.168.0.38/0",
         "Invalid netmask specification [0]"),
        (f"{FINDIF_C} ValidateNetmaskBits: 1..32", BOTH, "192.168.0.38/33",
         "Invalid netmask specification [33]"),
        (f"{FINDIF_C} ConvertNetmaskBitsToInt: at most 2 digits", ("IPaddr",), "192.168.0.38/024",
         "Invalid netmask specification [024]"),
        (f"{FINDIF_SH} prefixcheck passes 3 digits, ip(8) reads octal", ("IPaddr2",),
         "192.168.0.38/024", "Invalid netmask specification [024] (write it without a leading"
         " zero)"),
        (f"{FINDIF_C} ConvertQuadToInt: 0 bits", BOTH, "192.168.0.38/0.0.0.0",
         "Invalid netmask specification [0.0.0.0]"),
        (f"{FINDIF_SH} maybe_convert_dotted_quad_to_cidr: Bogus netmask", ("IPaddr2",),
         "192.168.0.38/255.0.255.0", "Bogus netmask: 255.0.255.0 (IPaddr2 wants contiguous bits)"),
        (f"{FINDIF_C} inet_pton: no leading zeros", BOTH, "192.168.0.038",
         "IP address [192.168.0.038] not valid."),
        ("OCF-style parameters are not what the wrapper takes", BOTH, "ip=192.168.0.38",
         "IP address [ip=192.168.0.38] not valid."),
        (f"{FINDIF_C}: broadcast via inet_pton", ("IPaddr",), "192.168.0.38/24/eth0/+",
         "Invalid broadcast address [+]."),
        (f"{FINDIF_C}: broadcast via inet_pton", BOTH, "192.168.0.38/24/192.168.0.999",
         "Invalid broadcast address [192.168.0.999]."),
        ("IPaddr2 ip_init: a label of 15 characters at most", ("IPaddr2",),
         "192.168.0.38/24/eth0:toolonglabelxx",
         "Interface label [eth0:toolonglabelxx] exceeds maximum character limit of 15"),
        ("wrapper: no address", BOTH, "/24", "IP address [] not valid."),
    ],
)  # fmt: skip
def test_refused(path: str, scripts: tuple[str, ...], text: str, message: str) -> None:
    for script in scripts:
        with pytest.raises(ValueSyntaxError) as caught:
            parse_ipspec(text, script)
        assert str(caught.value) == message, (path, script)
