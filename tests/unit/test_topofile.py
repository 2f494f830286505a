"""Topology files: the shipped ones are valid and drive the rendered files; a bad one
gets every problem as ``file:line: …``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import compose
from lab.hafiles import render_hacf, render_haresources
from lab.topofile import TopologyError, load_topology
from lab.topology import REFERENCE, REFERENCE_FILE, Role, load

REPO = Path(__file__).resolve().parents[2]
REDUNDANT = REPO / "lab" / "topologies" / "redundant-links.yaml"


def test_the_reference_file_is_valid_and_is_the_tutorial() -> None:
    topo = load_topology(REFERENCE_FILE, "hblab", validate=True)
    assert topo == load_topology(REFERENCE_FILE, "hblab", validate=False)
    assert [h.name for h in topo.cluster_nodes] == ["master", "slave"]
    assert [str(i.address) for i in topo.host("master").interfaces] == [  # type: ignore[union-attr]
        "192.168.0.18/24",
        "172.16.254.18/24",
    ]
    assert [h.name for h in topo.hosts if h.role is Role.PING_NODE] == ["gw"]
    assert str(topo.vip) == "192.168.0.38/24" and topo.vip_label == "eth0:0"
    assert render_haresources(topo) == "master 192.168.0.38/24/eth0:0 nginx\n"
    assert REFERENCE.segments == topo.segments and REFERENCE.hosts == topo.hosts


def test_compose_yaml_is_what_the_topology_makes() -> None:
    source = "lab/topologies/reference.yaml"
    assert (REPO / "compose.yaml").read_text() == compose.render(REFERENCE, source), (
        "compose.yaml is stale: run python -m lab.compose"
    )


def test_redundant_links_heartbeat_on_both_segments() -> None:
    topo = load(REDUNDANT)
    hacf = render_hacf(topo, topo.host("master"), "fast")  # type: ignore[arg-type]
    media = [line for line in hacf.splitlines() if line.split()[0] in ("bcast", "ucast")]
    assert media == ["bcast eth0", "ucast eth1 172.16.254.28"]
    lines = hacf.splitlines()
    assert lines.index("udpport 694") < lines.index("bcast eth0")  # ha.cf's order rule


BASE = """\
segments:
  eth0: {subnet: 10.0.0.0/24}
hosts:
  a: {role: node, interfaces: {eth0: 10.0.0.1/24}}
  b: {role: node, interfaces: {eth0: 10.0.0.2/24}}
vip: {address: 10.0.0.9/24, label: eth0:0, owner: a}
media: [bcast eth0]
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("b: {role: node", "b: {role: nod", 5, "not one of"),
        ("owner: a}", "owner: a, colour: red}", 6, "unknown key"),
        ("media: [bcast eth0]", "media: [frob eth0]", 7, "not a valid value"),
        ("10.0.0.2/24}", "10.0.1.2/24}", 5, "is not in segment eth0"),
        ("10.0.0.2/24}", "10.0.0.1/24}", 5, "is a's eth0 already"),
        ("owner: a}", "owner: c}", 6, "'c' is not a node"),
        ("media: [bcast eth0]", "media: [ucast eth1]", 7, "every node needs an interface eth1"),
        ("address: 10.0.0.9/24", "address: 10.9.0.9/24", 6, "is in no segment"),
        ("  b: {role: node", "  b: {role: client", 3, "want exactly two hosts"),
        ("eth0: {subnet: 10.0.0.0/24}", "eth0: {subnet: [oops}", 2, "not YAML"),
    ],
)  # fmt: skip
def test_a_bad_file_says_where(tmp_path: Path, old: str, new: str, line: int, words: str) -> None:
    assert old in BASE
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.replace(old, new, 1))
    with pytest.raises(TopologyError) as caught:
        load_topology(path, "hbt")
    problems = str(caught.value).splitlines()
    assert any(p.startswith(f"{path}:{line}: ") and words in p for p in problems), problems


def test_every_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.replace("role: node", "role: nod").replace("owner: a}", "owner: a, x: 1}"))
    with pytest.raises(TopologyError) as caught:
        load_topology(path, "hbt")
    assert [line for line, _ in caught.value.problems] == [4, 5, 6]


def test_the_base_example_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(BASE)
    topo = load_topology(path, "hbt")
    assert topo.prefix == "hbt" and topo.netns_of("a") == "hbt-a"
    assert render_haresources(topo) == "a 10.0.0.9/24/eth0:0\n"
