"""One expectation judged into a row of the report (lab.scenario.checks says how)."""

from __future__ import annotations

import time

from lab.scenario import sightings, states, windows
from lab.scenario.checks import Context, Judge, Window
from lab.scenario.model import CheckKind, Expectation
from lab.scenario.result import Row, Section, Status

JUDGES: dict[CheckKind, Judge] = {**states.JUDGES, **sightings.JUDGES, **windows.JUDGES}


def judge(exp: Expectation, ctx: Context, window: Window, section: Section) -> Row:
    started = time.monotonic()
    if exp.impls is not None and ctx.cluster not in exp.impls:
        what = f"{summary(exp)} ({', '.join(exp.impls)} only)"
        return Row(Status.SKIP, section, exp.line, exp.label or what, f"cluster is {ctx.cluster}")
    try:
        verdict = JUDGES[exp.kind](exp, ctx, window)
    except Exception as exc:  # a check that cannot be judged fails the run, visibly
        return Row(
            Status.ERROR,
            section,
            exp.line,
            exp.label or str(exp.kind),
            detail=f"{type(exc).__name__}: {exc}",
            hint=exp.hint,
            seconds=time.monotonic() - started,
        )
    status = Status.SKIP if verdict.skip else Status.PASS if verdict.ok else Status.FAIL
    return Row(
        status,
        section,
        exp.line,
        exp.label or verdict.what,
        verdict.measured,
        "" if verdict.ok else verdict.detail,
        exp.hint if status is Status.FAIL else None,
        time.monotonic() - started,
    )


def summary(exp: Expectation) -> str:
    """The check in words, without judging it (a row for a check that does not apply)."""
    spec = exp.spec
    if exp.kind is CheckKind.HOLDER:
        return f"VIP {states.holders_phrase(list(spec['nodes']))}"
    if exp.kind is CheckKind.FENCED:
        names = (" or " if spec["any_of"] else " and ").join(spec["nodes"]) or "nobody"
        return f"BMCs powered off {names}" + (" (one or more)" if spec["any_of"] else "")
    if exp.kind is CheckKind.PAGE:
        return f"client gets {' or '.join(spec['nodes']) or 'no'} page"
    if exp.kind is CheckKind.CL_STATUS:
        argv = " ".join(states.cl_status_argv(spec))
        return f"{argv} on {spec['on']} says {' or '.join(spec['is'])}"
    if exp.kind in (CheckKind.LOG, CheckKind.EVENT, CheckKind.PACKET, CheckKind.GARP):
        return sightings.describe(exp.kind, spec)
    if exp.kind is CheckKind.NODE:
        return f"{spec['name']}: {', '.join(f'{k} {v}' for k, v in spec.items() if k != 'name')}"
    if exp.kind is CheckKind.EXEC:
        return f"{spec['node']}: `{spec['cmd']}`"
    if exp.kind is CheckKind.ORDER:
        return "in order: " + " → ".join(sightings.describe(k, s) for k, s in spec["items"])
    bounds = [f"{b} {spec[b].text}" for b in ("min", "max") if spec.get(b) is not None]
    return f"{exp.kind} ({', '.join(bounds)})"
