"""YAML files people edit (topologies, scenarios), checked the way a compiler checks.

A file is read into plain data plus the line of every key and item (from the YAML
parser's marks), then checked against a JSON schema (jsonschema). Every problem
is reported at once, one ``file:line: what is wrong`` each, so that a typo in a
key or a bad value points at the line to fix. The callers (lab.topofile,
lab.scenario.load) add the checks a schema cannot express, with the same lines.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.errors import LabError

DataPath = tuple[str | int, ...]
Problem = tuple[int, str]
# A schema may say what a value should look like in its own words (jsonschema
# ignores keywords it does not know): {"pattern": "...", "x-error": "not a duration"}.
ERROR_KEYWORD = "x-error"


class FileProblems(LabError):
    """A file that cannot be used: every problem, one ``file:line:`` each."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = sorted(problems)
        super().__init__("\n".join(f"{path}:{line}: {text}" for line, text in self.problems))


@dataclass(frozen=True)
class Marked:
    """A file's plain data and the (1-based) line of each path in it."""

    data: Any
    lines: dict[DataPath, int]

    def line(self, path: DataPath) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return 1


def read(path: Path, error: type[FileProblems] = FileProblems) -> Marked:
    """Parse ``path``; ``error`` (a FileProblems) if it cannot be read or is not YAML."""
    where = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise error(where, [(1, f"cannot read: {exc.strerror}")]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise error(where, [(line, f"not YAML: {getattr(exc, 'problem', exc)}")]) from None
    if root is None:
        raise error(where, [(1, "empty file")])
    lines: dict[DataPath, int] = {}
    return Marked(_plain(root, (), lines), lines)


def _plain(node: yaml.Node, path: DataPath, lines: dict[DataPath, int]) -> Any:
    """The node as plain data, noting the line of every path in ``lines``.

    A key's line is where the key is written (its value may start on the next line).
    """
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            result[key] = _plain(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def dotted(path: DataPath) -> str:
    """``steps[2].link.node``: a path as a reader finds it in the file."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the file"


def schema_problems(marked: Marked, schema: dict[str, Any]) -> Iterator[Problem]:
    """Every place ``marked`` breaks ``schema``, at its line, in a reader's words."""
    import jsonschema  # only when a file is checked: it is slow to import

    validator = jsonschema.Draft202012Validator(schema)
    for error in validator.iter_errors(marked.data):
        yield from _problems(marked, error)


def _problems(marked: Marked, error: Any) -> Iterator[Problem]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        yield from _unknown_keys(marked, path, error)
        return
    inner = _branch_errors(error)
    if inner:
        # A mapping where a choice allows a word or a mapping: say what is wrong
        # inside the mapping (a typo in a key) rather than "matches no choice".
        for sub in inner:
            yield from _problems(marked, sub)
        return
    yield marked.line(path), f"{dotted(path)}: {_say(error)}"


def _branch_errors(error: Any) -> list[Any]:
    """For a oneOf/anyOf over a container: the errors of the one branch of its type."""
    if error.validator not in ("oneOf", "anyOf") or not isinstance(error.instance, dict | list):
        return []
    wanted = "object" if isinstance(error.instance, dict) else "array"
    branches = [
        i
        for i, sub in enumerate(error.validator_value)
        if isinstance(sub, dict) and sub.get("type") == wanted
    ]
    if len(branches) != 1:
        return []
    return [e for e in error.context if e.schema_path and e.schema_path[0] == branches[0]]


def _unknown_keys(marked: Marked, path: DataPath, error: Any) -> Iterator[Problem]:
    """One problem per unknown key, on the key's own line, with the likely intended one."""
    known = sorted(error.schema.get("properties", {}))
    for key in error.instance:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
        yield marked.line((*path, key)), f"{dotted(path)}: unknown key {key!r}{hint}"


def _say(error: Any) -> str:
    own = error.schema.get(ERROR_KEYWORD) if isinstance(error.schema, dict) else None
    if own:
        scalar = not isinstance(error.instance, dict | list)
        return f"{error.instance!r}: {own}" if scalar else str(own)
    if error.validator == "pattern":
        return f"{error.instance!r} is not a valid value here"
    return str(error.message)
