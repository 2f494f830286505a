"""A BMC for every lab node: what ``hblab up --fencing`` adds to the topology.

Real servers are fenced through their BMC: a small computer of its own, on a
management network, that answers IPMI over LAN and switches the server's power.
The lab gives each cluster node one, as data first (this module):

* a management segment ``eth2`` (192.168.100.0/24) of the lab's own: a bridge in
  the switch namespace (netns) or an internal network (docker), like eth0/eth1;
* each node gets ``eth2`` on it, 192.168.100.<its own last octet> (.18, .28);
* each node's BMC is a host of its own, ``<node>bmc`` (``masterbmc``), with
  ``eth0`` on the segment at .118/.128, so cutting its cable (``hblab link
  masterbmc eth0 down``) makes exactly that BMC unreachable, and a powered-off
  node's BMC still answers, as on real hardware;
* each node's ha.cf gets the ``stonith_host`` lines: cluster-glue's
  ``external/ipmi`` plugin pointed at the *peer's* BMC, the way Heartbeat's
  documentation configures a two-node cluster (the same two lines on both
  nodes; each node uses the one naming itself).

:mod:`lab.bmc.launch` starts OpenIPMI's ``ipmi_sim`` inside each BMC host and the
power agent (:mod:`lab.bmc.agent`) that turns its chassis commands into the lab's
own poweroff/poweron.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from lab.topology import Host, Interface, Role, Segment, Topology

MGMT_SEGMENT = "eth2"  # the nodes' interface on it, as eth0/eth1 name theirs
MGMT_SUBNET = ipaddress.IPv4Network("192.168.100.0/24")
BMC_IFACE = "eth0"  # a BMC has one port
BMC_OFFSET = 100  # masterbmc is .118 when master is .18
IPMI_USER = "admin"
IPMI_PASSWORD = "hbfence"
# IPMI 1.5 ("lan", external/ipmi's default). ipmi_sim 2.0.33 does not answer the
# Get Channel Cipher Suites query that ipmitool 1.8.19 sends first on lanplus, so a
# lanplus session waits out that query's retries (about 10 s) before it falls back;
# lan needs 20 ms. `ipmitool -I lanplus -C 3 …` skips the query by hand.
IPMI_INTERFACE = "lan"
STONITH_PLUGIN = "external/ipmi"


def bmc_name(node: str) -> str:
    """The BMC host of ``node``: no dash, as every lab host name (lab.cleanup)."""
    return f"{node}bmc"


def _last_octet(host: Host) -> int:
    return int(host.interfaces[0].address.ip.packed[3])


def node_mgmt_address(host: Host) -> ipaddress.IPv4Interface:
    return ipaddress.IPv4Interface(f"{MGMT_SUBNET[_last_octet(host)]}/{MGMT_SUBNET.prefixlen}")


def bmc_address(host: Host) -> ipaddress.IPv4Interface:
    octet = _last_octet(host) + BMC_OFFSET
    if octet > 254:
        raise ValueError(f"{host.name}: no BMC address for last octet {_last_octet(host)}")
    return ipaddress.IPv4Interface(f"{MGMT_SUBNET[octet]}/{MGMT_SUBNET.prefixlen}")


def is_fenced(topo: Topology) -> bool:
    return any(h.role is Role.BMC for h in topo.hosts)


def fenced(topo: Topology) -> Topology:
    """``topo`` with the management segment, each node's eth2 and each node's BMC."""
    if is_fenced(topo):
        return topo
    segment = Segment(MGMT_SEGMENT, f"br-{MGMT_SEGMENT}", MGMT_SUBNET, "management (IPMI)")
    hosts: list[Host] = []
    bmcs: list[Host] = []
    for host in topo.hosts:
        if host.role is not Role.CLUSTER_NODE:
            hosts.append(host)
            continue
        eth2 = Interface(MGMT_SEGMENT, MGMT_SEGMENT, node_mgmt_address(host))
        hosts.append(dataclasses.replace(host, interfaces=(*host.interfaces, eth2)))
        port = Interface(BMC_IFACE, MGMT_SEGMENT, bmc_address(host))
        bmcs.append(Host(bmc_name(host.name), Role.BMC, (port,)))
    return dataclasses.replace(topo, segments=(*topo.segments, segment), hosts=(*hosts, *bmcs))


def bmc_of(topo: Topology, node: str) -> Host | None:
    return topo.host(bmc_name(node))


def node_of(topo: Topology, bmc: str) -> Host | None:
    return next((h for h in topo.cluster_nodes if bmc_name(h.name) == bmc), None)


def stonith_host_lines(topo: Topology) -> list[str]:
    """ha.cf ``stonith_host`` values: each node fences its peer through the peer's BMC.

    config.c set_stonith_host_info keeps the line naming this host (or ``*``) and
    ignores the others, so every node gets all of them, as in Heartbeat's docs.
    The parameters are external/ipmi's getconfignames order: hostname ipaddr
    userid passwd interface.
    """
    lines = []
    for node in topo.cluster_nodes:
        peer = topo.peer_of(node.name)
        bmc = bmc_of(topo, peer.name)
        if bmc is None:
            continue
        params = (peer.name, str(bmc.interfaces[0].address.ip), IPMI_USER, IPMI_PASSWORD)
        lines.append(" ".join((node.name, STONITH_PLUGIN, *params, IPMI_INTERFACE)))
    return lines
