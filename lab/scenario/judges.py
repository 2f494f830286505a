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
        what = f"{exp.kind} (for {', '.join(exp.impls)} only)"
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
