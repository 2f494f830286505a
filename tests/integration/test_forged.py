"""Forged heartbeats: with the cluster's key they are believed, without it they are not.

The forger sniffs master's heartbeats as slave receives them, master is powered
off, and the forger (on gw, spoofing master's address) continues master's
sequence with status messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from lab.forge import StatusForger
from lab.hafiles import AUTHKEYS
from lab.hbcodec import parse_authkeys
from lab.topology import REFERENCE

from .badnews import REJECTED_PACKET, ExpectedLog
from .helpers import Cluster, holds_for, wait_until

pytestmark = pytest.mark.failover
MARGIN = 6.0
WRONG_KEYS = "auth 3\n3 md5 NotTheKey\n"
AUTH_FAILURE_LOGS = (
    "authentication failed",
    "authtoken does not match",
    "Invalid authentication",
    "failed authentication",
    "bad signature",
)


@contextmanager
def forging(cluster: Cluster, keys_text: str) -> Iterator[StatusForger]:
    # By lab.netns_of: a name on netns, a /proc path on docker (the record's is empty there).
    netns = {name: cluster.lab.netns_of(name) for name in cluster.lab.require_up().nodes}
    forger = StatusForger(
        REFERENCE,
        netns,
        victim="master",
        target="slave",
        sender="gw",
        keys=parse_authkeys(keys_text),
    )
    try:
        forger.start_learning()
        wait_until(
            lambda: forger.learned.last is not None, 10.0, "the forger saw a status from master"
        )
        cluster.lab.poweroff("master")
        forger.start_forging(interval=cluster.timers["keepalive"])
        yield forger
    finally:
        forger.stop()


def test_forged_status_with_the_key_keeps_master_alive(
    lab_factory: Callable[..., Cluster], impl_spec: str, measure: Callable[..., None]
) -> None:
    cluster = lab_factory(impl_spec)
    cluster.startup("master", 60.0)
    with forging(cluster, AUTHKEYS) as forger:
        holds_for(
            lambda: "slave" not in cluster.holders(),
            3 * cluster.deadtime,
            "no takeover while forged heartbeats in master's name arrive",
        )
        assert cluster.nodestatus("slave", "master") == "active"
        measure("forged_packets_sent", forger.sent, impl=impl_spec)
    # The forgery was what kept master "alive": once it stops, slave takes over.
    cluster.wait_holder("slave", cluster.deadtime + MARGIN)


def test_forged_status_with_a_wrong_key_is_ignored(
    lab_factory: Callable[..., Cluster],
    impl_spec: str,
    measure: Callable[..., None],
    expect_log: ExpectedLog,
) -> None:
    expect_log(REJECTED_PACKET, "the forged packets carry a wrong key", ["slave"])
    cluster = lab_factory(impl_spec)
    cluster.startup("master", 60.0)
    with forging(cluster, WRONG_KEYS) as forger:
        took = cluster.wait_holder("slave", cluster.deadtime + MARGIN)
        wait_until(lambda: forger.sent > 3, 5.0, "forged packets were sent")
        measure("takeover_despite_forgery_s", took, impl=impl_spec)
        wait_until(
            lambda: any(
                text in cluster.log("slave", "ha-debug") + cluster.log("slave")
                for text in AUTH_FAILURE_LOGS
            ),
            5.0,
            "slave logs the authentication failure",
        )
