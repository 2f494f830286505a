"""Read ha.cf the way Heartbeat 3.0.6's heartbeat/config.c ``parse_config`` does (§5.1).

A line is: leading blanks skipped, everything from ``#`` dropped, cut at the
first CR or LF. The directive is the first word (up to a blank; case matters).
Whole-line directives (``ucast``, ``mcast``, ``ping_group``, ``respawn``,
``apiauth``, ``stonith_host``, …) get the rest of the line; the others get their
values split on spaces, tabs and commas, applied one at a time (``node a,b`` is
two nodes). A directive with no value at all does nothing, as in Heartbeat.

Like Heartbeat, a refused value is counted and reading goes on; unlike it, the
start-up checks (:mod:`hbnode.config.hacf_checks`) run too, so one reading
reports every problem. :func:`read_hacf_text` returns them;
:func:`parse_hacf_text` raises them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from hbnode.config import hacf_checks, hacf_directives, hacf_lines
from hbnode.config.errors import ConfigError, raise_if_any
from hbnode.config.hacf import HaCf
from hbnode.config.hacf_state import ParseState
from hbnode.config.values import C_WHITESPACE, ValueSyntaxError

_DIRECTIVE_END = re.compile(r"[ \t\n\r\f]")  # heartbeat.h WHITESPACE
_DELIMS = re.compile(r"[, \t\n\r\f]+")  # heartbeat.h DELIMS: values split on these
_DELIM_CHARS = ", \t\n\r\f"


def _body(raw: str) -> str:
    """The part of a raw line config.c looks at: no leading blanks, comment, CR/LF."""
    body = raw.lstrip(C_WHITESPACE).split("#", 1)[0]
    return re.split(r"[\r\n]", body, maxsplit=1)[0]


def _feed(state: ParseState, text: str) -> None:
    for state.line, raw in enumerate(text.split("\n"), start=1):
        body = _body(raw)
        if body:
            _directive(state, body)


def _directive(state: ParseState, body: str) -> None:
    directive = _DIRECTIVE_END.split(body, maxsplit=1)[0]
    rest = body[len(directive) :].lstrip(_DELIM_CHARS)
    if directive == "udp":
        # config.c DIRTYALIASKLUDGE: the obsolete name of bcast.
        state.warn("WARNING: directive 'udp' replaced by 'bcast'")
        directive = "bcast"
    handler = hacf_directives.handler_for(directive)
    line_handler = hacf_lines.WHOLE_LINE.get(directive)
    refused = directive in hacf_directives.REFUSED
    if handler is None and line_handler is None and not refused:
        state.error(f"Illegal directive [{directive}] in {state.path}")
        return
    state.cfg.lines[directive] = state.line
    if refused:
        state.failed.add(directive)
        state.error(f"{directive}: not supported: {hacf_directives.REFUSED[directive]}")
    elif line_handler is not None:
        _apply(state, directive, line_handler, rest)
    elif handler is not None:
        _values(state, directive, rest)


def _values(state: ParseState, directive: str, rest: str) -> None:
    handler = hacf_directives.handler_for(directive)
    assert handler is not None
    values = [value for value in _DELIMS.split(rest) if value]
    if not values:
        state.warn(f"{directive}: no value; the line does nothing (Heartbeat ignores it too)")
    for value in values:
        recorded = directive not in hacf_directives.NOT_RECORDED
        if _apply(state, directive, handler, value) and recorded:
            state.cfg.parameters[directive] = value


def _apply(
    state: ParseState, directive: str, handler: Callable[[ParseState, str], None], text: str
) -> bool:
    """Run one handler call; a refusal becomes an error on this line."""
    try:
        handler(state, text)
    except ValueSyntaxError as exc:
        state.failed.add(directive)
        text = str(exc)  # a plugin's own wording may already start with its name
        state.error(text if text.startswith(f"{directive} [") else f"{directive}: {text}")
        return False
    return True


def read_hacf_text(
    text: str, path: str = "ha.cf", node_name: str | None = None
) -> tuple[HaCf, list[ConfigError]]:
    """Parse ha.cf text; apply Heartbeat's defaults and start-up checks.

    Returns what was understood and every problem found, in file order.
    ``node_name`` is the node that must be among the ``node`` lines; None checks
    the file for no node in particular.
    """
    state = ParseState(HaCf(path=path))
    _feed(state, text)
    hacf_checks.finish(state, node_name)
    return state.cfg, sort_errors(state.errors)


def sort_errors(errors: list[ConfigError]) -> list[ConfigError]:
    """File order: by line, with whole-file problems (no line) last."""
    return sorted(errors, key=lambda error: float("inf") if error.line is None else error.line)


def parse_hacf_text(text: str, path: str = "ha.cf", node_name: str | None = None) -> HaCf:
    """Parse ha.cf text; raise every problem (ConfigError/ConfigErrors) if there is any.

    ``node_name`` defaults to this machine's (lowercase ``uname -n``).
    """
    cfg, errors = read_hacf_text(
        text, path, default_node_name() if node_name is None else node_name
    )
    raise_if_any(errors)
    return cfg


def read_hacf_file(path: str | os.PathLike[str]) -> str:
    """The text of an ha.cf file; ConfigError (Heartbeat's wording) if it cannot be read."""
    where = os.fspath(path)
    try:
        with open(where, encoding="utf-8", errors="surrogateescape") as stream:
            return stream.read()
    except OSError as exc:
        raise ConfigError(where, None, f"Cannot open config file: {exc.strerror}") from exc


def load_hacf(path: str | os.PathLike[str], node_name: str | None = None) -> HaCf:
    """Read and parse an ha.cf file (see :func:`parse_hacf_text`)."""
    return parse_hacf_text(read_hacf_file(path), os.fspath(path), node_name)


def default_node_name() -> str:
    """This machine's node name as Heartbeat sees it: ``uname -n`` in lowercase."""
    return os.uname().nodename.lower()
