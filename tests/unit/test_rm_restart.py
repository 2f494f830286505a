"""kill -9 of the daemon, then a restart: groups it left running are found and reconciled.

The harness's ``kill9`` stops the resource manager but leaves what it started
running; ``boot(..., probe=True)`` starts a new one that first asks what runs.
"""

from __future__ import annotations

import pytest

from hbnode.config.hacf import AutoFailback
from hbnode.rm.events import Outbox
from hbnode.rm.groups import GroupState, GroupTable
from tests.harness.rm_sim import MASTER_KEY, SLAVE_KEY, RmClusterSim

BOTH = {MASTER_KEY, SLAVE_KEY}
DEADTIME = 10.0  # the harness default


def _steady(auto_failback: AutoFailback = AutoFailback.ON) -> RmClusterSim:
    c = RmClusterSim(auto_failback=auto_failback)
    c.boot("master", "slave", probe=True)
    c.run(12)
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    return c


def _kinds(c: RmClusterSim, node: str, key: str) -> list[str]:
    return [a.kind for a in c.actions[node] if a.group == key]


def test_a_fresh_start_probes_every_group_and_finds_nothing() -> None:
    c = _steady()
    assert _kinds(c, "master", MASTER_KEY)[:2] == ["probe", "acquire"]
    assert "found_running" not in c.steps("master") and c.doubles == []


def test_restart_before_the_peer_notices_adopts_what_runs_without_stopping_it() -> None:
    c = _steady()
    c.kill9("master")
    c.run(1)  # well within deadtime: the slave has not declared master dead
    before = len(c.actions["master"])
    c.boot("master", probe=True)
    c.run(5)
    assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}
    assert "found_running" in c.steps("master")
    # Adopted: started again (idempotent), never stopped, never taken by the slave.
    assert [a.kind for a in c.actions["master"][before:] if a.group == MASTER_KEY] == [
        "probe",
        "acquire",
    ]
    assert MASTER_KEY not in [a.group for a in c.actions["slave"] if a.kind == "acquire"]
    assert c.rm("master").status()[MASTER_KEY]["state"] == "held"
    assert c.doubles == []


@pytest.mark.parametrize("auto_failback", [AutoFailback.ON, AutoFailback.OFF])
def test_restart_after_the_takeover_stops_the_copy_left_behind(
    auto_failback: AutoFailback,
) -> None:
    c = _steady(auto_failback)
    c.kill9("master")
    c.run(DEADTIME + 2)  # the slave took over: the VIP runs on both machines now
    assert c.where() == {"master": {MASTER_KEY}, "slave": BOTH}
    restarted_at = c.now
    c.boot("master", probe=True)
    c.run(DEADTIME)
    assert "stale_release" in c.steps("master")
    late = [d for d in c.doubles if d[0] > restarted_at + DEADTIME / 2]
    assert late == [], "a second holder outlived the restart by half a deadtime"
    if auto_failback is AutoFailback.ON:
        assert c.where() == {"master": {MASTER_KEY}, "slave": {SLAVE_KEY}}  # failed back
    else:
        assert c.where() == {"master": set(), "slave": BOTH}
        assert c.holdings() == {"master": "none", "slave": "all"}


def test_without_the_probe_the_copy_would_stay_forever() -> None:
    """What Heartbeat does (it only complains in verifyallidle): with auto_failback
    off nothing ever stops the copy the killed daemon left behind."""
    c = _steady(AutoFailback.OFF)
    c.kill9("master")
    c.run(DEADTIME + 2)
    c.boot("master")  # no probe
    c.run(3 * DEADTIME)
    assert c.where() == {"master": {MASTER_KEY}, "slave": BOTH}


def test_restart_alone_adopts_its_own_and_takes_the_rest() -> None:
    c = _steady()
    c.kill9("master")
    c.crash("slave")  # the slave loses power meanwhile
    c.boot("master", probe=True)
    c.run(DEADTIME + 3)
    assert c.where()["master"] == BOTH
    assert "acquire" in _kinds(c, "master", MASTER_KEY)
    assert "release" not in _kinds(c, "master", MASTER_KEY)


def test_stop_before_comm_up_gives_up_what_was_found() -> None:
    c = _steady()
    c.kill9("master")
    c.crash("slave")
    c.boot("master", probe=True)
    c.run(1)  # probed, comm not up yet (initdead)
    assert c.rm("master").status()[MASTER_KEY]["state"] == "found"
    c.stop("master")
    c.run(2)
    assert c.where()["master"] == set()


def _table() -> tuple[GroupTable, Outbox]:
    from hbnode.config.haresources import parse_haresources_text

    out = Outbox()
    groups = parse_haresources_text(f"master {MASTER_KEY} nginx\nslave {SLAVE_KEY}\n")
    return GroupTable(groups, out), out


def test_table_a_probe_answered_after_the_verdict_is_released_at_once() -> None:
    table, out = _table()
    table.probe(0.0)
    probes = out.take_actions()
    assert [(a.kind, a.group) for a in probes] == [("probe", MASTER_KEY), ("probe", SLAVE_KEY)]
    assert table.release_found("stale", 1.0) == []  # nothing known to run yet
    table.done(probes[1].id, True, 2.0)  # the slave's group runs here after all
    [release] = out.take_actions()
    assert (release.kind, release.group, release.reason) == ("release", SLAVE_KEY, "stale")
    assert table.state(SLAVE_KEY) is GroupState.RELEASING
    table.done(probes[0].id, False, 2.0)
    assert table.state(MASTER_KEY) is GroupState.RELEASED and out.take_actions() == []


def test_table_a_found_group_wanted_later_is_acquired_not_released() -> None:
    table, out = _table()
    table.probe(0.0)
    probe = out.take_actions()[0]
    table.done(probe.id, True, 0.5)
    assert table.state(MASTER_KEY) is GroupState.FOUND and not table.active(MASTER_KEY)
    assert out.take_actions() == []  # held off until start-up decides
    table.hold([MASTER_KEY], "initial", 1.0)
    [acquire] = out.take_actions()
    assert (acquire.kind, acquire.group) == ("acquire", MASTER_KEY)
    assert table.release_found("stale", 1.0) == []
