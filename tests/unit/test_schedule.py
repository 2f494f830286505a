"""tests/schedule.py and scripts/lab_durations.py: the longest lab tests start first."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, cast

import pytest

from tests.schedule import junit_key, longest_first, measured, parse_shard, shard
from tests.scripts_util import load_script

REPORT = """<testsuites><testsuite name="pytest">
<testcase classname="tests.integration.test_cts" name="test_cts[hbnode]" time="104.9"/>
<testcase classname="tests.integration.test_newcomer" name="test_clone@newcomer" time="41.0"/>
<testcase classname="tests.integration.test_failover" name="test_quick[hbnode]" time="12.0"/>
<testcase classname="tests.integration.test_skip" name="test_s" time="99.0"><skipped/></testcase>
<testcase classname="tests.unit.test_slow_unit" name="test_u" time="50.0"/>
</testsuite></testsuites>
"""


def _script() -> ModuleType:
    return load_script("lab_durations")


def _items(*nodeids: str) -> list[pytest.Item]:
    return [cast(pytest.Item, SimpleNamespace(nodeid=n)) for n in nodeids]


def test_a_nodeid_is_named_as_the_junit_report_names_it() -> None:
    assert junit_key("tests/integration/test_cts.py::test_cts[hbnode]") == (
        "tests.integration.test_cts::test_cts[hbnode]"
    )
    # A class joins the module; xdist's "@group" suffix is not part of the name.
    assert junit_key("tests/unit/test_x.py::TestA::test_b[p/q]@wheels") == (
        "tests.unit.test_x.TestA::test_b[p/q]"
    )


def test_measured_tests_go_first_longest_first_the_rest_keep_their_order() -> None:
    items = _items(
        "tests/unit/test_a.py::test_1",
        "tests/integration/test_f.py::test_short",
        "tests/integration/test_cts.py::test_cts[hbnode]",
        "tests/unit/test_a.py::test_2",
        "tests/integration/test_n.py::test_nemesis",
    )
    seconds = {
        "tests.integration.test_n::test_nemesis": 83.0,
        "tests.integration.test_cts::test_cts[hbnode]": 105.0,
    }
    order = [item.nodeid for item in longest_first(items, seconds)]
    assert order == [
        "tests/integration/test_cts.py::test_cts[hbnode]",
        "tests/integration/test_n.py::test_nemesis",
        "tests/unit/test_a.py::test_1",
        "tests/integration/test_f.py::test_short",
        "tests/unit/test_a.py::test_2",
    ]


def test_the_durations_file_keeps_long_lab_tests_that_ran(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(REPORT)
    out = tmp_path / "durations.json"
    assert _script().main([str(report), "--over", "30", "--out", str(out)]) == 0
    data: dict[str, Any] = json.loads(out.read_text())
    assert data["seconds"] == {
        "tests.integration.test_cts::test_cts[hbnode]": 104.9,
        "tests.integration.test_newcomer::test_clone": 41.0,
    }
    assert measured(out) == data["seconds"]


def test_no_durations_file_means_collection_order(tmp_path: Path) -> None:
    assert measured(tmp_path / "missing.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert measured(tmp_path / "bad.json") == {}


def test_the_shards_together_are_every_test_once_in_collection_order() -> None:
    items = _items(*(f"tests/integration/test_f.py::test_{n}" for n in range(7)))
    seconds = {"tests.integration.test_f::test_3": 60.0, "tests.integration.test_f::test_5": 40.0}
    shares = [shard(items, seconds, k, 3) for k in (1, 2, 3)]
    ids = [item.nodeid for share in shares for item in share]
    assert sorted(ids) == sorted(item.nodeid for item in items)
    for share in shares:
        assert share == [item for item in items if item in share]  # collection order


def test_a_shard_balances_measured_time() -> None:
    # Longest first, each to the share with less so far (unmeasured: TYPICAL_SECONDS,
    # 18): 3 (60) | 5 (40), 0 | 1 | 2 to the first | 4 | 6 to the first: 96 s and 94 s.
    items = _items(*(f"tests/integration/test_f.py::test_{n}" for n in range(7)))
    seconds = {"tests.integration.test_f::test_3": 60.0, "tests.integration.test_f::test_5": 40.0}
    first = [item.nodeid.rsplit("_", 1)[1] for item in shard(items, seconds, 1, 2)]
    second = [item.nodeid.rsplit("_", 1)[1] for item in shard(items, seconds, 2, 2)]
    assert first == ["2", "3", "6"] and second == ["0", "1", "4", "5"]


@pytest.mark.parametrize("text", ["", "2", "0/2", "3/2", "a/b", "1/0"])
def test_a_bad_shard_is_refused_with_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="expected K/N"):
        parse_shard(text)
    assert parse_shard("2/3") == (2, 3)
