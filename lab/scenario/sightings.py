"""Checks that something was seen (or never was): a log line, an hbnode event, a
heartbeat datagram or a gratuitous ARP on an interface, and several in order."""

from __future__ import annotations

import re
import time
from typing import Any

from lab import freezes
from lab.scenario.checks import (
    POLL,
    Context,
    Judge,
    Verdict,
    Window,
    limit_text,
    sleep_until,
    window_end,
    within,
)
from lab.scenario.model import CheckKind, Expectation
from lab.wirequery import Query, garp, msg

Spec = dict[str, Any]
Sighting = tuple[float, str]  # when (wall clock), what


# -- finding one thing after a moment ---------------------------------------------------------
def _log_matches(spec: Spec, line: str) -> bool:
    if "regex" in spec:
        return re.search(spec["regex"], line) is not None
    return bool(spec["contains"] in line)


def _event_matches(spec: Spec, event: dict[str, Any]) -> bool:
    if event.get("step") != spec["step"]:
        return False
    return all(str(event.get(k)) == str(v) for k, v in spec.get("fields", {}).items())


def _query(kind: CheckKind, spec: Spec, ctx: Context) -> Query:
    if kind is CheckKind.GARP:
        mac = None
        if "from" in spec:
            host = ctx.lab.topo.host(spec["from"])
            iface = host.interface(ctx.lab.topo.vip_iface) if host else None
            mac = iface.mac if iface else None
        ip = spec.get("ip", str(ctx.lab.topo.vip.ip))
        return garp(ip=ip, iface=spec["on"], mac=mac)
    auth = {"ok": True, "bad": False}.get(spec.get("auth", ""))
    fields: dict[str, Any] = {k: str(v) for k, v in spec.get("fields", {}).items()}
    return msg(spec.get("t"), spec.get("src"), spec["on"], auth=auth, **fields)


def sightings(kind: CheckKind | str, spec: Spec, ctx: Context, start: float) -> list[Sighting]:
    """Every matching thing seen after ``start`` (wall clock), in time order."""
    if kind == "step":
        timing = ctx.steps.get(spec["name"])
        moment = timing.began if timing else None
        # A step is its own window's start: it counts from there on.
        return [(moment, f"step {spec['name']}")] if moment and moment >= start else []
    if kind is CheckKind.LOG:
        lines = ctx.rec.log_lines(spec["node"])
        return [
            (t, f"{spec['node']}: {ln}") for t, ln in lines if t > start and _log_matches(spec, ln)
        ]
    if kind is CheckKind.EVENT:
        found = [e for e in ctx.rec.events(spec["node"]) if _event_matches(spec, e)]
        return [(float(e["ts"]), f"{spec['node']}: {e['step']}") for e in found if e["ts"] > start]
    trace = ctx.rec.trace
    if trace is None:
        return []
    events = trace.select(_query(CheckKind(kind), spec, ctx), after=start)
    return [(e.time, str(e)) for e in events]


def describe(kind: CheckKind | str, spec: Spec) -> str:
    if kind == "step":
        return f"step {spec['name']}"
    if kind is CheckKind.LOG:
        text = spec.get("contains") or f"/{spec.get('regex')}/"
        return (
            f"{spec['node']}'s ha-log has {text!r}"
            if "contains" in spec
            else f"{spec['node']}'s ha-log matches {text}"
        )
    if kind is CheckKind.EVENT:
        fields = "".join(f" {k}={v}" for k, v in spec.get("fields", {}).items())
        return f"{spec['node']}'s event log has {spec['step']}{fields}"
    if kind is CheckKind.GARP:
        sender = f" from {spec['from']}" if "from" in spec else ""
        return f"gratuitous ARP{sender} seen on {spec['on']}"
    parts = [f"{k}={spec[k]}" for k in ("t", "src") if k in spec]
    parts += [f"{k}={v}" for k, v in spec.get("fields", {}).items()]
    parts += [f"auth {spec['auth']}"] if "auth" in spec else []
    return f"heartbeat packet ({' '.join(parts) or 'any'}) seen on {spec['on']}"


# -- the checks ---------------------------------------------------------------------------------
def _unjudgeable(kind: CheckKind, spec: Spec, ctx: Context) -> str | None:
    if kind is CheckKind.EVENT and ctx.node_impls.get(spec["node"]) != "hbnode":
        return f"{spec['node']} runs {ctx.node_impls.get(spec['node'])}: no event log"
    if kind in (CheckKind.PACKET, CheckKind.GARP):
        return ctx.rec.tap_errors.get(spec["on"])
    return None


def _sighting(exp: Expectation, ctx: Context, window: Window) -> Verdict:
    kind, spec = exp.kind, exp.spec
    what = describe(kind, spec)
    problem = _unjudgeable(kind, spec, ctx)
    if problem is not None:
        return Verdict(False, what, detail=problem, skip=kind is CheckKind.EVENT)
    if exp.negative:
        return _never(exp, ctx, window, what)
    start = window.start()
    if kind in (CheckKind.PACKET, CheckKind.GARP):
        start = max(window.since, ctx.rec.started)  # the trace saw nothing before it began
    deadline = window.since + within(exp, ctx)
    what += limit_text(exp, ctx) if kind in (CheckKind.LOG, CheckKind.EVENT) else _within(exp, ctx)
    while True:  # bounded by the deadline
        found = sightings(kind, spec, ctx, start)
        if found:
            when = found[0][0]
            measured = f"after {when - window.since:.2f} s" if not window.history else "seen"
            return Verdict(True, what, measured)
        if time.time() >= freezes.extended(deadline, window.since):
            said = f"not seen within {deadline - window.since:.1f} s{freezes.said(window.since)}"
            return Verdict(False, what, "never seen", said)
        time.sleep(POLL)


def _within(exp: Expectation, ctx: Context) -> str:
    return f" within {ctx.say(exp.within)}" if exp.within is not None else ""


def _never(exp: Expectation, ctx: Context, window: Window, what: str) -> Verdict:
    end = window_end(exp, ctx, window)
    sleep_until(end)
    start = window.start()
    if exp.kind in (CheckKind.PACKET, CheckKind.GARP):
        # On the wire, "never" starts once the step's action has returned: a packet
        # sent while it ran is the old state (a heartbeat master sent during the
        # 0.12 s its poweroff took failed a lesson in CI).
        start = max(ctx.rec.started, window.done or window.since)
    found = [(t, text) for t, text in sightings(exp.kind, exp.spec, ctx, start) if t <= end]
    span = f"{end - window.since:.1f} s" if not window.history else "the logs and after"
    what = f"never: {what} (over {span})"
    if found:
        when, text = found[0]
        return Verdict(False, what, f"seen at {when - window.since:+.2f} s", text[:160])
    return Verdict(True, what, "not seen")


def _order(exp: Expectation, ctx: Context, window: Window) -> Verdict:
    items: list[tuple[CheckKind | str, Spec]] = exp.spec["items"]
    what = "in order: " + " → ".join(describe(kind, spec) for kind, spec in items)
    for kind, spec in items:
        if not isinstance(kind, str) or kind != "step":
            problem = _unjudgeable(CheckKind(kind), spec, ctx)
            if problem is not None:
                return Verdict(False, what, detail=problem)
    deadline = window.since + within(exp, ctx)
    while True:  # bounded by the deadline
        found, missing = _in_order(items, ctx, window.start())
        if missing is None:
            times = ", ".join(f"{t - window.since:+.2f} s" for t, _ in found)
            return Verdict(True, what, times)
        if time.time() >= freezes.extended(deadline, window.since):
            return Verdict(
                False, what, "out of order or missing", missing + freezes.said(window.since)
            )
        time.sleep(POLL)


def _in_order(
    items: list[tuple[CheckKind | str, Spec]], ctx: Context, start: float
) -> tuple[list[Sighting], str | None]:
    """The first of each after the one before, or what never came (and what came first)."""
    found: list[Sighting] = []
    cursor = start
    for number, (kind, spec) in enumerate(items, start=1):
        after = sightings(kind, spec, ctx, cursor)
        if not after:
            name = f"{number}. {describe(kind, spec)}"
            if found and sightings(kind, spec, ctx, start):
                return found, f"{name} came, but only before {number - 1}. ({found[-1][1][:80]})"
            return found, f"{name} never came"
        found.append(after[0])
        cursor = after[0][0]
    return found, None


JUDGES: dict[CheckKind, Judge] = {
    CheckKind.LOG: _sighting,
    CheckKind.EVENT: _sighting,
    CheckKind.PACKET: _sighting,
    CheckKind.GARP: _sighting,
    CheckKind.ORDER: _order,
}
