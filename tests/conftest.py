"""The test run as a whole: lab (integration) tests are opt-in with ``--lab``.

They need root, namespaces and the lab's packages, and take minutes. Without
``--lab`` they are not selected at all, and the summary says so: a plain
``pytest`` as a user runs the unit tests and tells them how to run the rest,
instead of reporting a wall of skips. ``make test`` passes ``--lab``; CI fails
on any skipped lab test (scripts/check_no_skips.py).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.schedule import longest_first, measured

# Parallel lab tests (pytest-xdist, `make test` runs several workers): each worker
# brings its labs up under a prefix and state directories of its own, so they never
# meet. Set before any lab module is imported: lab.topology and lab.state read them
# once. A test that needs a fixed prefix of its own sets its own.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw"):
    _N = _WORKER.removeprefix("gw")
    os.environ["HBLAB_PREFIX"] = f"hbt{_N}"
    os.environ["HBLAB_STATE_DIR"] = f"/var/lib/hbt{_N}"
    os.environ["HBLAB_D_STATE_DIR"] = f"/var/lib/hbt{_N}-d"

_DESELECTED: list[int] = [0]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--lab",
        action="store_true",
        default=False,
        help="also run the lab (integration) tests: root, namespaces, minutes",
    )


def _is_lab(item: pytest.Item) -> bool:
    return bool({"integration", "package"} & set(item.nodeid.split("/")))


def _spread_unit_tests(items: list[pytest.Item]) -> None:
    """Under xdist, put the unit tests between the lab tests instead of before them.

    The unit tests are CPU work (2 cores busy for about 100 s when they ran first, the
    labs not yet started); a lab test mostly waits on its cluster's timers. Spread,
    each worker's unit tests run while the other workers' labs wait. The order is the
    same in every worker (xdist requires it); the lab tests keep theirs."""
    labs = [item for item in items if _is_lab(item)]
    units = [item for item in items if not _is_lab(item)]
    if not labs or not units or not _WORKER:
        return
    share = len(units) / len(labs)
    spread: list[pytest.Item] = []
    for index, lab_item in enumerate(labs):
        spread.append(lab_item)
        spread += units[round(index * share) : round((index + 1) * share)]
    items[:] = spread


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--lab"):
        if _WORKER:
            items[:] = longest_first(items, measured())
        _spread_unit_tests(items)
        return
    lab_items = [item for item in items if _is_lab(item)]
    if not lab_items:
        return
    keep = [item for item in items if item not in lab_items]
    config.hook.pytest_deselected(items=lab_items)
    items[:] = keep
    _DESELECTED[0] = len(lab_items)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _DESELECTED[0]:
        terminalreporter.write_line(
            f"lab tests not selected ({_DESELECTED[0]}): run them as root with --lab "
            "(make test does)"
        )
