"""Checks of a state that must come and last: the VIP's holders, the client's page,
cl_status, a node's power and daemon, the nodes fenced; and a command's output in a node."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

from lab import bmc, freezes
from lab.errors import LabError
from lab.ready import fetch_page
from lab.scenario.checks import POLL, Context, Judge, Verdict, Window, hold, limit_text, within
from lab.scenario.model import CheckKind, Expectation
from lab.topology import Role

Probe = Callable[[], tuple[bool, str]]  # (holds now, what was seen)


def lasting(probe: Probe, since: float, wait: float, hold_s: float) -> tuple[float | None, str]:
    """Poll until the state has held ``hold_s`` without a break, having begun by
    ``since + wait``. Returns when it began (seconds after ``since``) or None, and the
    last thing seen. A state already true at the first look began no later than that
    look, and is not held against the deadline: it may have begun long before."""
    latest_start = since + wait
    began: float | None = None
    seen, was_false = "", False
    # Bounded: a run that began in time ends by latest_start + hold_s.
    while True:
        ok, seen = probe()
        now = time.time()
        if ok:
            began = now if began is None else began
            # Held means sampled: time the checker stood still in between is not counted.
            if now - began - freezes.frozen_since(began) >= hold_s:
                return max(0.0, began - since), seen
            if was_false and began > freezes.extended(latest_start, since):
                return None, f"{seen} only after {began - since:.2f} s{freezes.said(since)}"
        else:
            if began is not None:
                seen = f"{seen} (after {now - began:.2f} s of the state wanted)"
            began, was_false = None, True
            if now >= freezes.extended(latest_start, since):
                return None, seen + freezes.said(since)
        time.sleep(POLL)


def _judge_lasting(
    exp: Expectation, ctx: Context, window: Window, what: str, probe: Probe
) -> Verdict:
    wait, hold_s = within(exp, ctx), hold(exp, ctx)
    began, seen = lasting(probe, window.since, wait, hold_s)
    lasting_text = f", lasting {hold_s:g} s" if hold_s else ""
    what = f"{what}{limit_text(exp, ctx)}{lasting_text}"
    if began is None:
        return Verdict(False, what, seen, f"not so: {seen}")
    measured = seen if ctx.observe else f"after {began:.2f} s"
    return Verdict(True, what, measured)


def holders_phrase(holders: list[str]) -> str:
    if not holders:
        return "held by nobody"
    return f"held by {' and '.join(holders)}"


def _holder(exp: Expectation, ctx: Context, window: Window) -> Verdict:
    wanted, one_of = tuple(exp.spec["nodes"]), exp.spec.get("one_of", False)

    def probe() -> tuple[bool, str]:
        holders = sorted(ctx.lab.vip_holders())
        if one_of:
            return len(holders) == 1 and holders[0] in wanted, holders_phrase(holders)
        return tuple(holders) == wanted, holders_phrase(holders)

    what = f"VIP {holders_phrase(list(wanted))}" if wanted else "VIP held by nobody"
    if one_of:
        what = f"VIP held by one node alone, {' or '.join(wanted)}"
    return _judge_lasting(exp, ctx, window, what, probe)


def _client_netns(ctx: Context) -> str:
    for host in ctx.lab.topo.hosts:
        if host.role is Role.CLIENT:
            return ctx.lab.netns_of(host.name)
    raise LabError("the topology has no client")


def _page(exp: Expectation, ctx: Context, window: Window) -> Verdict:
    wanted, netns, vip = exp.spec["nodes"], _client_netns(ctx), str(ctx.lab.topo.vip.ip)

    def probe() -> tuple[bool, str]:
        page = fetch_page(netns, vip)
        ok = page in wanted if wanted else page is None
        return ok, f"{page}'s page" if page else "no page"

    whose = " or ".join(f"{node}'s" for node in wanted)
    what = f"client gets {whose} page via the VIP" if wanted else "client gets no page"
    return _judge_lasting(exp, ctx, window, what, probe)


def cl_status_argv(spec: dict[str, str]) -> list[str]:
    if spec.get("resources"):
        return ["cl_status", "rscstatus"]
    if "link" in spec:
        return ["cl_status", "hblinkstatus", spec["node"], spec["link"]]
    return ["cl_status", "nodestatus", spec["node"]]


def _cl_status(exp: Expectation, ctx: Context, window: Window) -> Verdict:
    spec, wanted = exp.spec, tuple(exp.spec["is"])
    argv = cl_status_argv(spec)

    def probe() -> tuple[bool, str]:
        try:
            done = ctx.lab.run(spec["on"], argv, timeout=10)
        except (LabError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        said = done.stdout.strip() or f"nothing (exit {done.returncode}) {done.stderr.strip()}"
        return said in wanted, f"says {said}"

    what = f"{' '.join(argv)} on {spec['on']} says {' or '.join(wanted)}"
    return _judge_lasting(exp, ctx, window, what, probe)


def _node(exp: Expectation, ctx: Context, window: Window) -> Verdict:
    spec = exp.spec
    name = spec["name"]

    def probe() -> tuple[bool, str]:
        on = ctx.lab.is_on(name)
        daemon = "running" if on and ctx.lab.daemon_pid(name) else "stopped"
        seen = f"power {'on' if on else 'off'}, heartbeat {daemon}"
        ok = spec.get("power", "on" if on else "off") == ("on" if on else "off")
        return ok and spec.get("daemon", daemon) == daemon, seen

    wanted = [f"power {spec['power']}"] if "power" in spec else []
    wanted += [f"heartbeat {spec['daemon']}"] if "daemon" in spec else []
    return _judge_lasting(exp, ctx, window, f"{name}: {', '.join(wanted)}", probe)


def _fenced(exp: Expectation, ctx: Context, window: Window) -> Verdict:
    """The nodes a BMC powered off (a reset or a power off through IPMI) since the
    window's start, from the power agent's event log (lab.bmc.agent); hblab poweroff
    is no fence and is not counted."""
    wanted, any_of = set(exp.spec["nodes"]), exp.spec.get("any_of", False)
    if not bmc.is_fenced(ctx.lab.topo):
        no_bmc = "the lab has no BMCs (hblab up --fencing; the file's lab: fencing: true)"
        return Verdict(False, "nodes fenced", no_bmc, no_bmc)
    from lab.bmc import launch  # the agent's event log; only a fenced lab needs it

    def probe() -> tuple[bool, str]:
        offs = [
            e["node"]
            for e in launch.events(ctx.lab)
            if e.get("event") == "power_off" and e["t"] >= window.start()
        ]
        fenced = set(offs)
        ok = bool(fenced) and fenced <= wanted if any_of else fenced == wanted
        said = ", ".join(f"{n} ×{offs.count(n)}" for n in sorted(fenced))
        return ok, f"fenced: {said}" if fenced else "nobody fenced"

    names = " or ".join(sorted(wanted)) if any_of else " and ".join(sorted(wanted))
    what = f"BMCs powered off {names}" + (" (one or more)" if any_of else "")
    return _judge_lasting(exp, ctx, window, what if wanted else "no node fenced", probe)


def _exec(exp: Expectation, ctx: Context, window: Window) -> Verdict:
    spec = exp.spec
    cmd = spec["cmd"]
    argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    shown = cmd if isinstance(cmd, str) else " ".join(cmd)
    parts = [f"exit {spec['rc']}"] + [f"shows {t!r}" for t in spec["contains"]]
    parts += [f"never {t!r}" for t in spec["lacks"]]
    what = f"{spec['node']}: `{shown}` {', '.join(parts)}"
    deadline = window.since + within(exp, ctx)
    while True:  # bounded by the deadline: one try when there is no within
        problem = _exec_problem(ctx, spec, argv)
        if problem is None:
            return Verdict(True, what, "as wanted")
        if time.time() >= freezes.extended(deadline, window.since):
            return Verdict(False, what, problem, problem + freezes.said(window.since))
        time.sleep(POLL * 4)


def _exec_problem(ctx: Context, spec: dict[str, Any], argv: list[str]) -> str | None:
    done = ctx.lab.run(str(spec["node"]), argv, timeout=30)
    output = done.stdout + done.stderr
    if done.returncode != spec["rc"]:
        return f"exit {done.returncode}: {output.strip()[-200:]}"
    missing = [t for t in spec["contains"] if t not in output]
    if missing:
        return f"no {missing[0]!r} in its output"
    present = [t for t in spec["lacks"] if t in output]
    if present:
        return f"{present[0]!r} is in its output"
    return None


JUDGES: dict[CheckKind, Judge] = {
    CheckKind.HOLDER: _holder,
    CheckKind.PAGE: _page,
    CheckKind.CL_STATUS: _cl_status,
    CheckKind.NODE: _node,
    CheckKind.EXEC: _exec,
    CheckKind.FENCED: _fenced,
}
