"""The accounting of a run, its verdicts and the table a person reads.

Every datagram sent must be accounted for at the target:

    sent + peer's datagrams = received by hbnode + dropped by the kernel (RcvbufErrors)
    received by hbnode      = rejected by reason (link_io) + handed to the core
    handed to the core      = dropped by reason (core) + accepted

The peer's own datagrams arrive on the same socket. Its counter is read just
before and just after the target's at each end, which brackets how many of them
arrived in the target's window: the first equation must hold inside that bracket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hbnode.lograte import LOG_INTERVAL  # each kind of rejection logged once per this
from lab.fuzz.observe import CORE_DROPS, Snapshot


def _delta(after: dict[str, Any], before: dict[str, Any], key: str) -> int:
    return int(after.get(key, 0) or 0) - int(before.get(key, 0) or 0)


def _peer_sent(snap: Snapshot) -> int:
    errors = sum(int(v) for v in (snap.io.get("send_errors") or {}).values())
    return int(snap.io.get("datagrams_sent", 0)) - errors


@dataclass
class Accounting:
    sent: int
    received: int
    rejected: dict[str, int]
    core_received: int
    core_drops: dict[str, int]
    kernel_drops: int
    kernel_in_errors: int
    kernel_delivered: int  # Udp InDatagrams: handed to a socket in the target's namespace
    peer_low: int
    peer_high: int

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def core_dropped_total(self) -> int:
        return sum(self.core_drops.values())

    @property
    def accepted(self) -> int:
        return self.core_received - self.core_dropped_total

    @property
    def link_balanced(self) -> bool:
        return self.received == self.rejected_total + self.core_received

    @property
    def arrived(self) -> int:
        return self.received + self.kernel_drops

    @property
    def unexplained(self) -> int:
        """How far arrivals fall outside sent + the peer's bracket (0: it adds up)."""
        low, high = self.sent + self.peer_low, self.sent + self.peer_high
        return (
            0
            if low <= self.arrived <= high
            else self.arrived - (low if self.arrived < low else high)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "rejected_total": self.rejected_total,
            "core_dropped_total": self.core_dropped_total,
            "accepted": self.accepted,
            "link_balanced": self.link_balanced,
            "unexplained": self.unexplained,
        }


def account(
    sent: int,
    target: tuple[Snapshot, Snapshot],
    peer: tuple[Snapshot, Snapshot, Snapshot, Snapshot],
) -> Accounting:
    """``peer``: its snapshots just before and after the target's, at start and at end."""
    before, after = target
    rejected_before = before.io.get("rejected", {})
    rejected_after = after.io.get("rejected", {})
    reasons = sorted(set(rejected_before) | set(rejected_after))
    p0a, p0b, p1a, p1b = (_peer_sent(s) for s in peer)
    return Accounting(
        sent=sent,
        received=_delta(after.io, before.io, "datagrams_received"),
        rejected={r: _delta(rejected_after, rejected_before, r) for r in reasons},
        core_received=_delta(after.core, before.core, "received"),
        core_drops={r: _delta(after.core, before.core, r) for r in CORE_DROPS},
        kernel_drops=_delta(after.udp, before.udp, "RcvbufErrors"),
        kernel_in_errors=_delta(after.udp, before.udp, "InErrors"),
        kernel_delivered=_delta(after.udp, before.udp, "InDatagrams"),
        peer_low=max(0, p1a - p0b),
        peer_high=p1b - p0a,
    )


def log_line_bound(reasons: int, seconds: float) -> int:
    """The most rejection lines rate limiting allows: one per reason per interval,
    plus the first, plus one "N more were not logged" line each time."""
    return reasons * 2 * (math.ceil(seconds / LOG_INTERVAL) + 1)


@dataclass
class Verdict:
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


def render_table(result: dict[str, Any]) -> str:
    """The figures of one run as aligned text."""
    acc = result["accounting"]
    send = result["send"]
    usage = result["usage"]
    rows: list[tuple[str, str]] = [
        ("datagrams sent", f"{send['sent']:,} in {send['seconds']:.1f} s ({send['rate']:,.0f}/s)"),
    ]
    rows += [(f"  {k}", f"{v:,}") for k, v in sorted(send["by_category"].items())]
    if send["errors"]:
        rows.append(("  sendto errors (not sent)", f"{send['errors']:,}"))
    rows += [
        ("peer datagrams in the window", f"{acc['peer_low']:,}..{acc['peer_high']:,}"),
        ("dropped by the kernel (RcvbufErrors)", f"{acc['kernel_drops']:,}"),
        ("delivered to sockets (Udp InDatagrams)", f"{acc['kernel_delivered']:,}"),
        ("received by hbnode", f"{acc['received']:,}"),
        ("  rejected at the link", f"{acc['rejected_total']:,}"),
    ]
    rows += [(f"    {k}", f"{v:,}") for k, v in sorted(acc["rejected"].items()) if v]
    rows.append(("  handed to the core", f"{acc['core_received']:,}"))
    rows += [(f"    dropped: {k}", f"{v:,}") for k, v in acc["core_drops"].items() if v]
    log = result["log"]
    balanced = "yes" if not acc["unexplained"] else f"NO (off by {acc['unexplained']:,})"
    cpu = f"{usage.get('cpu_percent_mean')} / {usage.get('cpu_percent_max')}"
    pss = f"{usage.get('pss_kib_start')} / {usage.get('pss_kib_max')} / {usage.get('pss_kib_end')}"
    rows += [
        ("    accepted (the peer's, unsequenced replays)", f"{acc['accepted']:,}"),
        ("received = rejected + core", "yes" if acc["link_balanced"] else "NO"),
        ("sent + peer = received + kernel drops", balanced),
        ("daemon CPU mean / max (%)", cpu),
        ("daemon PSS start / max / end (KiB)", pss),
        ("rejection log lines (bound)", f"{log['rejection_lines']} ({log['bound']})"),
        ("ha-log lines written during the run", f"{log['lines']}"),
        ("VIP holders seen", ", ".join(usage.get("holder_sets", []))),
        (
            "death/takeover lines, bad events",
            f"{len(log['death_lines'])}, {len(log['bad_events'])}",
        ),
        ("daemon PIDs unchanged", "yes" if result["pids_unchanged"] else "NO"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{result['kind']}: {result['title']}"]
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    verdict = result["checks"]
    lines.append(
        "  checks: " + ", ".join(f"{k}={'ok' if v else 'FAILED'}" for k, v in verdict.items())
    )
    return "\n".join(lines) + "\n"
