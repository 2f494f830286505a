"""The lab-facing half of CTS's resource checks: status scripts in the nodes, and
the client's remote look at the VIP and the service."""

from __future__ import annotations

import time

from lab.backends import Lab
from lab.cts.resources import Prober, Resource
from lab.probes import ArpWatch, HttpProbe

ARP_WAIT = 0.2  # how long the client waits for answers to one who-has
HTTP_TIMEOUT = 1.0


def lab_prober(lab: Lab) -> Prober:
    """A Prober that runs the status scripts in the nodes and asks from the client."""
    vip = str(lab.topo.vip.ip)
    client = lab.topo.host("client")
    address = client.address_on("eth0") if client is not None else None
    if address is None:
        raise ValueError("the topology has no client on eth0")
    macs = {i.mac: h.name for h in lab.topo.cluster_nodes for i in h.interfaces if i.name == "eth0"}

    def run(node: str, argv: list[str]) -> tuple[int, str]:
        done = lab.run(node, argv, timeout=60)
        return done.returncode, done.stdout

    def served_by(resource: Resource) -> str | None:
        netns = lab.netns_of("client")
        if resource.type in ("IPaddr", "IPaddr2"):
            arp = ArpWatch.on(netns, "eth0", vip, str(address.ip), ARP_WAIT, ARP_WAIT * 2)
            try:
                arp.probe_once(time.monotonic())
            finally:
                arp.sock.close()
            answered = arp.samples[-1].macs
            return macs.get(next(iter(answered))) if len(answered) == 1 else None
        http = HttpProbe(netns, vip, timeout=HTTP_TIMEOUT)
        http.probe_once(time.monotonic())
        sample = http.samples[-1]
        return sample.server if sample.ok else None

    return Prober(run, served_by)
