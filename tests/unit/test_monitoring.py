"""The alert rules and the Grafana dashboard (monitoring/) speak of metrics that exist.

The rules are tested by Prometheus' own promtool (``promtool test rules``, from
Debian's ``prometheus``) on recorded series; here every metric and label they and
the dashboard name is checked against what a real node's endpoint exposes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hbnode.control_commands import snapshot
from hbnode.metrics import StatusCollector
from hbnode.rm import Action, ActionKind
from hbnode.takeovers import TakeoverStats
from tests.harness.stepped_pair import SteppedPair

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
RULES = MONITORING / "prometheus" / "hbnode-alerts.yml"
RULE_TESTS = MONITORING / "prometheus" / "hbnode-alerts.test.yml"
DASHBOARD = MONITORING / "grafana" / "hbnode-dashboard.json"
METRIC = re.compile(r"\b((?:hbnode|process)_[a-z_]+)")


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Sample name → label names, from a node that has made a takeover."""
    pair = SteppedPair(tmp_path_factory.mktemp("pair"))
    pair.start("master")
    pair.start("slave")
    pair.step(15.0)
    stats = TakeoverStats()
    action = Action(1, ActionKind.ACQUIRE, "web", "initial")
    stats.submitted(action, 0.0)
    stats.finished(action, True, 0.3, 1.0)
    snap = snapshot(pair.nodes["master"], pair.clock.now, pid=1)
    snap |= {"io": {"datagrams_received": 1, "datagrams_sent": 1, "rejected": {"bad": 1}}}
    snap["takeovers"] = stats.to_json()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(lambda: snap))
    ProcessCollector(registry=registry)
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def _expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    rules = yaml.safe_load(RULES.read_text())
    exprs += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert len(exprs) > 14
    return exprs


def test_every_metric_named_is_exposed(exposed: dict[str, set[str]]) -> None:
    named = {name for expr in _expressions() for name in METRIC.findall(expr)}
    assert len(named) >= 10
    assert named - set(exposed) == set()


def test_every_label_a_rule_filters_on_is_on_its_metric(exposed: dict[str, set[str]]) -> None:
    for expr in _expressions():
        for name, selector in re.findall(r"((?:hbnode|process)_[a-z_]+)\{([^}]*)\}", expr):
            labels = set(re.findall(r"(\w+)\s*=~?", selector)) - {"job", "instance"}
            assert labels <= exposed[name], (name, labels)


def test_the_dashboard_is_importable_json() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "hbnode-cluster"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool: apt install prometheus")
def test_promtool_checks_and_tests_the_rules() -> None:
    check = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run(
        ["promtool", "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "SUCCESS" in tests.stdout
