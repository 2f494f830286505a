"""Configuration errors and warnings, both pointing at ``file:line``.

Modelled on CPython's ``netrc.NetrcParseError``: the error carries the file and
the line, and its text names them, so an admin can jump straight to the mistake.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass


def _where(path: str, line: int | None) -> str:
    return path if line is None else f"{path}:{line}"


class ConfigError(Exception):
    """A problem that stops the node from starting: ``str()`` is ``file:line: what``.

    ``line`` is ``None`` when the problem belongs to the whole file (a missing
    directive, bad permissions); the text is then ``file: what``.
    """

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str) -> None:
        self.path = os.fspath(path)
        self.line = line
        self.message = message
        super().__init__(self.path, line, message)  # args as given: the error pickles

    def __str__(self) -> str:
        return f"{_where(self.path, self.line)}: {self.message}"


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """Something Heartbeat would log as a warning at start-up; the node still starts."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{_where(self.path, self.line)}: {self.message}"


class ConfigErrors(ConfigError):
    """Every problem found in one reading, in file order; behaves as the first one.

    ``str()`` gives one ``file:line: what`` per line. Code that wants the first
    problem only (its ``path``, ``line``, ``message``) can treat it as a ConfigError.
    """

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        first = errors[0]
        super().__init__(first.path, first.line, first.message)
        self.errors = list(errors)

    def __reduce__(self) -> tuple[type[ConfigErrors], tuple[list[ConfigError]]]:
        return (ConfigErrors, (self.errors,))

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def raise_if_any(errors: Sequence[ConfigError]) -> None:
    """Raise the errors (one as itself, several as ConfigErrors); nothing if none."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)
