"""ipfail: the node that sees fewer ping nodes hands its resources to its peer.

Not part of the failover suite that also runs on containers: it cuts the ping node
off with an nftables rule inside the node's network namespace (netns backend).
"""

from __future__ import annotations

from collections.abc import Callable

from .helpers import Cluster

STARTUP_TIMEOUT = 60.0


def _block_ping(cluster: Cluster, node: str, blocked: bool) -> None:
    """Drop the ping node's echo replies to ``node``, inside the node's own namespace only.

    On input, so the pings go unanswered as when the path to the ping node breaks:
    a drop on output would fail the sender's sendto with EPERM, which the real
    Heartbeat logs as an ERROR at every ping (tests/integration/badnews.py)."""
    gw = "172.16.254.1"
    if blocked:
        script = (
            "add table inet hbtest\n"
            "add chain inet hbtest in { type filter hook input priority 0; }\n"
            f"add rule inet hbtest in ip saddr {gw} icmp type echo-reply drop\n"
        )
    else:
        script = "delete table inet hbtest\n"
    done = cluster.lab.run(node, ["sh", "-c", f"printf '{script}' | nft -f -"], timeout=10)
    assert done.returncode == 0, done.stderr


def test_ipfail_hands_over_to_the_better_connected_node(
    lab_factory: Callable[..., Cluster], impl_spec: str, measure: Callable[..., None]
) -> None:
    # The holder loses its ping node but still hears its peer: ipfail moves the group.
    cluster = lab_factory(impl_spec, {"auto_failback": "off"})
    cluster.startup("master", STARTUP_TIMEOUT)
    with cluster.arp_watch() as watch:
        _block_ping(cluster, "master", True)
        try:
            took = cluster.wait_holder("slave", cluster.deadtime + 20.0)
            cluster.wait_page("slave", 5.0)
        finally:
            _block_ping(cluster, "master", False)
    windows = watch.windows()
    measure("ipfail_handover_s", round(took, 3), impl=impl_spec)
    assert windows.two_holders == 0
