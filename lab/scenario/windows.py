"""Checks over a window of time, measured as the bench measures them: the time two
MACs (or two nodes' ip addr) held the VIP, the time none did, the client's outage."""

from __future__ import annotations

import time

from lab.bench.analysis import ARP_INTERVAL, outage
from lab.bench.runner import RECOVERY_TIMEOUT
from lab.probes import windows_of
from lab.scenario.checks import POLL, Context, Judge, Verdict, Window, sleep_until, window_end
from lab.scenario.duration import Duration
from lab.scenario.model import CheckKind, Expectation
from lab.scenario.record import ADDR_INTERVAL


def _bounds(exp: Expectation, ctx: Context, figure: str) -> str:
    upper, lower = exp.spec.get("max"), exp.spec.get("min")
    if upper is not None and lower is not None:
        return f"{figure} between {ctx.say(lower)} and {ctx.say(upper)}"
    if upper is not None:
        return f"{figure} ≤ {ctx.say(upper)}"
    return f"{figure} ≥ {ctx.say(lower)}"


def _compare(exp: Expectation, ctx: Context, value: float) -> str | None:
    """Why ``value`` breaks the bounds, or None."""
    upper: Duration | None = exp.spec.get("max")
    lower: Duration | None = exp.spec.get("min")
    if upper is not None and value > upper.resolve(ctx.timers) + 1e-9:
        return f"{value:.3f} s is over {upper.resolve(ctx.timers):g} s"
    if lower is not None and value < lower.resolve(ctx.timers) - 1e-9:
        return f"{value:.3f} s is under {lower.resolve(ctx.timers):g} s"
    return None


def _span(start: float, end: float) -> str:
    return f"over {end - start:.1f} s"


def _holders(exp: Expectation, ctx: Context, window: Window) -> Verdict:
    by_addr = exp.spec["by"] == "addr"
    end = window_end(exp, ctx, window)
    sleep_until(end)
    if by_addr:
        samples, interval, seen = ctx.rec.addr_samples(window.since, end), ADDR_INTERVAL, "ip addr"
    else:
        samples, interval, seen = ctx.rec.arp_samples(window.since, end), ARP_INTERVAL, "ARP"
    longest = bool(exp.spec.get("longest"))
    figure = {
        CheckKind.TWO_HOLDERS: f"time with two VIP holders ({seen})",
        CheckKind.NO_HOLDER: f"{'longest ' if longest else ''}time with no VIP holder ({seen})",
    }[exp.kind]
    what = _bounds(exp, ctx, figure)
    if not samples:
        return Verdict(False, what, "no samples", f"nothing was sampled {_span(window.since, end)}")
    counted = windows_of(samples, interval)
    if exp.kind is CheckKind.TWO_HOLDERS:
        value = counted.two_holders
    else:
        value = counted.longest_no_holder if longest else counted.no_holder
    problem = _compare(exp, ctx, value)
    measured = f"{value:.3f} s {_span(window.since, end)}"
    return Verdict(problem is None, what, measured, problem or "")


def _outage(exp: Expectation, ctx: Context, window: Window) -> Verdict:
    what = _bounds(exp, ctx, "client's HTTP outage")
    if exp.for_ is not None:
        end = window_end(exp, ctx, window)
        sleep_until(end)
    else:
        # As the bench: the outage is over once the page is back (bounded wait).
        deadline = time.time() + (0.0 if ctx.observe else RECOVERY_TIMEOUT)
        while not ctx.rec.page_back() and time.time() < deadline:
            time.sleep(POLL)
        end = window_end(exp, ctx, window)
        sleep_until(end)
    samples = ctx.rec.http_samples(window.since, end)
    if not samples:
        return Verdict(False, what, "no samples", f"no probe ran {_span(window.since, end)}")
    relative = [(t - window.since, ok, server) for t, ok, server in samples]
    value = outage(relative, end - window.since)
    problem = _compare(exp, ctx, value)
    if problem is None and not ctx.rec.page_back():
        problem = f"the page was not back by the end ({_span(window.since, end)})"
    measured = f"{value:.3f} s {_span(window.since, end)}"
    return Verdict(problem is None, what, measured, problem or "")


JUDGES: dict[CheckKind, Judge] = {
    CheckKind.TWO_HOLDERS: _holders,
    CheckKind.NO_HOLDER: _holders,
    CheckKind.OUTAGE: _outage,
}
