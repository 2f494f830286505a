"""Configuration errors and warnings, both pointing at ``file:line``.

Modelled on CPython's ``netrc.NetrcParseError``: the error carries the file and
the line, and its text names them, so an admin can jump straight to the mistake.
"""

from __future__ import annotations

import os
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
