"""Issue 4's scenarios beyond the tutorial that a scenario file cannot say.

The planned handovers, the orderly stop, the failed start, isolation and heal are
scenario files now (tests/scenarios, run by test_scenarios.py); what is left reads
hbnode's own status (the respawned client's PID).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from .helpers import Cluster, wait_until

pytestmark = pytest.mark.failover

STARTUP_TIMEOUT = 60.0
# hbnode's own respawn, on an all-hbnode cluster whatever HBLAB_IMPLS says
# (a parametrised skip would fail CI, which allows no skipped lab test).
HBNODE = "hbnode"


def test_respawn_restarts_ipfail(lab_factory: Callable[..., Cluster]) -> None:
    cluster = lab_factory(HBNODE)
    cluster.startup("master", STARTUP_TIMEOUT)

    def ipfail_pid() -> int | None:
        done = cluster.lab.run("master", ["hbnode", "status", "--json"], timeout=10)
        if done.returncode != 0:
            return None
        clients = json.loads(done.stdout).get("respawn", [])
        pid = clients[0]["pid"] if clients else None
        return int(pid) if pid else None

    wait_until(lambda: ipfail_pid() is not None, 10.0, "ipfail is running under hbnode")
    first = ipfail_pid()
    assert first is not None
    cluster.lab.run("master", ["kill", "-9", str(first)], check=True)
    wait_until(lambda: ipfail_pid() not in (None, first), 10.0, "hbnode starts ipfail again")
    assert "ipfail" in cluster.log("master") and "respawning" in cluster.log("master")
