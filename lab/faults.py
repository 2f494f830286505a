"""Link faults on a node's side of a cable: tc netem, or nftables where netem is missing.

Some kernels (this lab's CI machines among them) are built without sch_netem.
Random loss is still needed to show retransmission at work, so ``loss`` falls
back to an nftables rule in the node's own network namespace (``numgen random``
drops that share of the interface's outgoing packets). The rule sits on the
interface's egress hook (netdev family), where netem drops too: the sender is not
told, as on a lossy wire. A drop in the inet output hook would fail the sender's
sendto with EPERM, and the real Heartbeat logs every such failure as an ERROR
(docs/heartbeat-in-the-lab.md). Delay, duplication and reordering have no such
stand-in and say so. Nothing here touches the host's root namespace.
"""

from __future__ import annotations

import re
import subprocess

from lab.errors import LabError
from lab.netsock import netns_path

NETEM_KEYS = ("loss", "delay", "duplicate", "reorder")
NFT_TABLE = "hblab_faults"


def _in_ns(netns: str, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run this machine's ``tc``/``nft`` inside the node's network namespace (a name or a
    /proc path: both backends' nodes), without entering anything else of the node."""
    return subprocess.run(
        ["nsenter", f"--net={netns_path(netns)}", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )


def clear(netns: str, iface: str) -> None:
    _in_ns(netns, "tc", "qdisc", "del", "dev", iface, "root")  # nothing to clear is fine
    _in_ns(netns, "nft", "delete", "chain", "netdev", NFT_TABLE, f"out_{iface}")


def apply(netns: str, iface: str, params: dict[str, str]) -> str:
    """Apply ``params``; returns the mechanism used: ``netem`` or ``nft``."""
    unknown = set(params) - set(NETEM_KEYS)
    if unknown:
        raise LabError(f"unknown netem parameter(s): {', '.join(sorted(unknown))}")
    args = [word for key in NETEM_KEYS if key in params for word in (key, params[key])]
    done = _in_ns(netns, "tc", "qdisc", "replace", "dev", iface, "root", "netem", *args)
    if done.returncode == 0:
        return "netem"
    if "qdisc kind is unknown" not in done.stderr:
        raise LabError(f"tc netem failed: {done.stderr.strip()}")
    if set(params) != {"loss"}:
        raise LabError(
            "this kernel has no netem qdisc (sch_netem); only loss can be emulated "
            "(with nftables): drop delay/duplicate/reorder"
        )
    _nft_loss(netns, iface, _percent(params["loss"]))
    return "nft"


def _percent(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", text)
    if match is None or not 0 <= float(match.group(1)) <= 100:
        raise LabError(f"bad loss {text!r}: want a percentage such as 20%")
    return round(float(match.group(1)))


def _nft_loss(netns: str, iface: str, percent: int) -> None:
    chain = f"out_{iface}"
    # numgen's range is 0..99: "< 100" is refused, so 100% is a plain drop.
    chance = "" if percent >= 100 else f"numgen random mod 100 < {percent} "
    script = (
        f"add table netdev {NFT_TABLE}\n"
        f"add chain netdev {NFT_TABLE} {chain} "
        f'{{ type filter hook egress device "{iface}" priority 0; }}\n'
        f"flush chain netdev {NFT_TABLE} {chain}\n"
        f"add rule netdev {NFT_TABLE} {chain} {chance}drop\n"
    )
    done = _in_ns(netns, "nft", "-f", "-", stdin=script)
    if done.returncode != 0:
        raise LabError(f"nft loss rule failed: {done.stderr.strip()}")
