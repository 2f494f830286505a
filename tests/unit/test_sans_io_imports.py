"""The sans-IO part of hbnode imports nothing that does I/O, directly or through hbnode.

The messaging core, the resource manager, the codec (wire, auth, message) and the
node's glue (node, logwords, control_commands) take bytes, messages and ``now`` in
and hand back what to send, run and log; sockets, files, clocks and processes
belong to the daemon. An import of ``os`` or ``time`` there, or of an hbnode
module that does I/O (hbnode.config, hbnode.persist, …), is how that first goes
wrong, so every import is read from the source (ast) and checked: a module of
the standard library must be known to be pure, an hbnode module must be in the
pure set itself (so the check is transitive), and importing ``a.b.c`` runs
``a`` and ``a.b`` too. Imports under ``if TYPE_CHECKING:`` never run: they are
allowed (node.py types its config that way).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import hbnode

ROOT = Path(hbnode.__file__).parent
PURE_PACKAGES = ("hbnode.core", "hbnode.rm")
PURE_MODULES = frozenset(
    {
        "hbnode",  # the package itself: every hbnode import runs it
        "hbnode.wire",
        "hbnode.auth",
        "hbnode.message",
        "hbnode.node",
        "hbnode.logwords",
        "hbnode.control_commands",
        "hbnode.lograte",
    }
)
# The standard library the pure part may use: computation only, no clock or OS.
# (random.Random is given its seed or handed in; the core never reads the clock.)
PURE_STDLIB = frozenset(
    {
        "__future__",
        "abc",
        "base64",
        "binascii",
        "bisect",
        "collections",
        "dataclasses",
        "enum",
        "functools",
        "hashlib",
        "heapq",
        "hmac",
        "ipaddress",
        "itertools",
        "math",
        "operator",
        "random",
        "re",
        "string",
        "typing",
    }
)
# Named so a failure says why; anything else outside PURE_STDLIB fails too.
DOES_IO = frozenset(
    {
        "os", "sys", "io", "socket", "select", "selectors", "subprocess", "threading",
        "multiprocessing", "asyncio", "time", "datetime", "pathlib", "shutil", "tempfile",
        "logging", "syslog", "signal", "fcntl", "pwd", "grp", "uuid", "ctypes", "mmap",
        "importlib", "pyroute2", "scapy", "docker",
    }
)  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_pure(name: str) -> bool:
    return name in PURE_MODULES or any(
        name == package or name.startswith(package + ".") for package in PURE_PACKAGES
    )


def pure_files() -> list[Path]:
    files = sorted(path for path in ROOT.rglob("*.py") if is_pure(module_name(path)))
    return files


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that can run: the bodies of ``if TYPE_CHECKING:`` are left out."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for other in node.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield node
        yield from _runtime_nodes(node)


def _exists(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (ROOT / relative).with_suffix(".py").is_file() or (ROOT / relative).is_dir()


def imported_modules(source: str, module: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every module an import in ``source`` runs."""
    package = module if _is_package_name(module) else module.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # ``from hbnode.core import events`` runs a module
                candidate = f"{base}.{alias.name}"
                if base.split(".")[0] == "hbnode" and _exists(candidate):
                    yield node.lineno, candidate
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
        ):
            yield node.lineno, "importlib"  # a dynamic import is not checkable


def _is_package_name(module: str) -> bool:
    return module == "hbnode" or (ROOT / Path(*module.split(".")[1:]) / "__init__.py").is_file()


def violations(source: str, module: str) -> list[str]:
    found = []
    for line, name in imported_modules(source, module):
        top = name.split(".")[0]
        if top == "hbnode":
            prefixes = [".".join(name.split(".")[: i + 1]) for i in range(name.count(".") + 1)]
            for prefix in prefixes:
                if not is_pure(prefix):
                    found.append(f"{module}:{line}: {name} runs {prefix}, outside the pure set")
                    break
        elif top in DOES_IO:
            found.append(f"{module}:{line}: {name} does I/O")
        elif top not in PURE_STDLIB:
            found.append(f"{module}:{line}: {name} is not known to be pure (see PURE_STDLIB)")
    return found


def test_the_pure_part_is_found() -> None:
    names = {module_name(path) for path in pure_files()}
    # A wrong root would make the scan below pass on nothing.
    assert {"hbnode.core.protocol", "hbnode.rm.manager", "hbnode.wire", "hbnode.node"} <= names
    assert "hbnode.daemon" not in names and "hbnode.config.hacf" not in names


@pytest.mark.parametrize("path", pure_files(), ids=lambda path: module_name(path))
def test_imports_nothing_that_does_io(path: Path) -> None:
    assert violations(path.read_text(), module_name(path)) == []


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("import os\n", "os does I/O"),
        ("import time as clock\n", "time does I/O"),
        ("from pathlib import Path\n", "pathlib does I/O"),
        ("def f():\n    import socket\n", "socket does I/O"),
        ("import json\n", "json is not known to be pure"),
        ("from hbnode.config import ClusterConfig\n", "runs hbnode.config, outside"),
        ("from hbnode import persist\n", "runs hbnode.persist, outside"),
        ("from hbnode.config.hacf import HaCf\n", "runs hbnode.config, outside"),
        ("from .. import daemon\n", "runs hbnode.daemon, outside"),
        ("__import__('os')\n", "importlib does I/O"),
    ],
)
def test_the_scan_catches(source: str, complaint: str) -> None:
    found = violations(source, "hbnode.core.example")
    assert len(found) == 1 and complaint in found[0], found


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations\nimport enum\n",
        "from hbnode.rm import Action\nfrom hbnode.core import events as ev\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import os\n",
        "import typing\nif typing.TYPE_CHECKING:\n    from hbnode.config import HaCf\n",
        "from . import states\n",
    ],
)
def test_the_scan_lets_pass(source: str) -> None:
    assert violations(source, "hbnode.core.example") == []
