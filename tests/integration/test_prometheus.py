"""A real Prometheus server in the lab sees a failover through hbnode's metrics.

Both nodes run hbnode with ``hbnode_metrics 0.0.0.0:9694``; Prometheus (Debian's)
runs in the client's network namespace, scrapes both nodes every second and
evaluates the shipped alert rules (monitoring/prometheus/hbnode-alerts.yml).
Powering off master, it must see slave take the group over, master declared dead
by slave, the takeover counted, and the peer-dead alert raised, with no two-holders
alert firing and no link-down alert (the link died with its peer).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lab.prometheus import LabPrometheus

from .helpers import Cluster

RULES = Path(__file__).resolve().parents[2] / "monitoring" / "prometheus" / "hbnode-alerts.yml"
PORT = 9694
GROUP = "192.168.0.38/24/eth0:0"


def test_prometheus_sees_a_failover(lab_factory: Callable[..., Cluster]) -> None:
    cluster = lab_factory("hbnode", overrides={"hbnode_metrics": f"0.0.0.0:{PORT}"})
    cluster.startup("master")
    lab = cluster.lab
    addresses = {}
    for node in ("master", "slave"):
        address = lab.host(node).address_on("eth0")
        assert address is not None
        addresses[node] = f"{address.ip}:{PORT}"
    master, slave = addresses["master"], addresses["slave"]
    with LabPrometheus(lab, [master, slave], rules=[RULES]) as prom:
        prom.wait_for('count(up{job="hbnode"} == 1) == 2', 30)
        held = f'hbnode_resource_group_held{{group="{GROUP}"}} == 1'
        (before,) = prom.wait_for(held, 15)
        assert before["metric"]["instance"] == master
        lab.poweroff("master")
        prom.wait_for(f'hbnode_resource_group_held{{instance="{slave}"}} == 1', 30)
        prom.wait_for(f'up{{instance="{master}"}} == 0', 15)
        seen = f'hbnode_node_state{{instance="{slave}",node="master",state="dead"}} == 1'
        prom.wait_for(seen, 15)
        takeovers = f'hbnode_takeovers_total{{instance="{slave}",reason="mach_down",result="ok"}}'
        prom.wait_for(f"{takeovers} >= 1", 15)
        prom.wait_for(f'hbnode_link_last_heartbeat_age_seconds{{instance="{slave}"}} > 1.5', 15)
        alert = 'ALERTS{alertname="HbnodePeerDead",node="master"}'
        prom.wait_for(alert, 15)  # pending for its `for`, then firing
        (after,) = prom.query(held)  # master's series went stale when its scrapes failed
        assert after["metric"]["instance"] == slave
        # A scrape of the powered-off master hangs until its timeout, so for one rule
        # evaluation its last "held" may still stand beside slave's: the two-holders
        # alert may go pending (that is what its `for` is for), and must resolve.
        others = 'ALERTS{alertname=~"HbnodeTwoHolders|HbnodeLinkDown"}'
        prom.wait_empty(others, 15)
        fired = f'max_over_time({others[:-1]},alertstate="firing"}}[5m])'
        assert prom.query(fired) == []
    cluster.wait_page("slave", 10)
