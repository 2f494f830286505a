"""Durations in scenario files: ``500ms``, ``2s``, ``1.5`` (seconds), ``deadtime + 2s``,
``3 * keepalive``, ``deadtime - 1s``.

A teacher writes "the slave must hold the VIP within deadtime + 2 s": a time in
terms of the cluster's own timers, so one file holds for the ``fast`` and the
``seed`` profile alike. The timers are the nodes' ha.cf as hbnode's parser reads it
(lab.labcore.LabBase.timers), resolved when the scenario runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hbnode.core.timers import Timers

TIMERS = ("keepalive", "deadtime", "warntime", "initdead")
_NUMBER = r"\d+(?:\.\d+)?"
_TERM = rf"(?:{_NUMBER}\s*(?:ms|s)?|(?:{_NUMBER}\s*\*\s*)?(?:{'|'.join(TIMERS)}))"
PATTERN = rf"^\s*{_TERM}(?:\s*[-+]\s*{_TERM})*\s*$"
FORMS = "not a duration (500ms, 2s, 1.5, deadtime + 2s, 3 * keepalive, deadtime - 1s)"
# The JSON schema of a duration: a number of seconds or an expression.
SCHEMA = {
    "x-error": FORMS,
    "oneOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": PATTERN},
    ],
}


@dataclass(frozen=True, slots=True)
class Duration:
    """``seconds`` plus ``factor`` times each named timer."""

    text: str
    seconds: float = 0.0
    factors: tuple[tuple[str, float], ...] = ()

    def resolve(self, timers: Timers) -> float:
        """Seconds, never below zero (``deadtime - 5s`` with a short deadtime is 0)."""
        total = self.seconds + sum(f * float(getattr(timers, name)) for name, f in self.factors)
        return max(0.0, total)

    def describe(self, timers: Timers | None) -> str:
        """``deadtime + 2s (3.5 s)``, or ``2 s`` when there is nothing to resolve."""
        if not self.factors:
            return f"{self.seconds:g} s"
        if timers is None:
            return self.text
        return f"{self.text} ({self.resolve(timers):g} s)"


def parse(value: str | float | int) -> Duration:
    """A duration from the file (already checked against :data:`PATTERN`); ValueError if bad."""
    if isinstance(value, bool):
        raise ValueError(FORMS)
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(FORMS)
        return Duration(f"{value:g}s", float(value))
    if re.fullmatch(PATTERN, value) is None:
        raise ValueError(FORMS)
    seconds, factors = 0.0, []
    for sign, term in re.findall(r"([-+]?)\s*([^-+]+)", value):
        term, scale = term.strip(), -1.0 if sign == "-" else 1.0
        coefficient, _, name = term.rpartition("*") if "*" in term else ("1", "", term)
        name = name.strip()
        if name in TIMERS:
            factors.append((name, scale * float(coefficient)))
        elif name.endswith("ms"):
            seconds += scale * float(name[:-2]) / 1000
        else:
            seconds += scale * float(name.removesuffix("s"))
    return Duration(value.strip(), seconds, tuple(factors))


def seconds(value: float) -> Duration:
    """A fixed duration made in code (a default)."""
    return Duration(f"{value:g}s", value)
