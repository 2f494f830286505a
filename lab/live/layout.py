"""Where the page draws each host, bridge and cable (pure: from the topology only).

The same arrangement as `hblab topology` (lab.bench.topodraw): the two cluster
nodes above and below, the bridges side by side in the middle, the client left of
the service LAN and the ping node right of the heartbeat link. Coordinates are in
a 1000 x 600 box; the page scales it.
"""

from __future__ import annotations

from typing import Any

from lab.topology import Role, Topology

WIDTH, HEIGHT = 1000, 600


def layout(topo: Topology) -> dict[str, Any]:
    count = len(topo.segments)
    bridges = {
        seg.name: (WIDTH / 2 + (i - (count - 1) / 2) * 300, HEIGHT / 2)
        for i, seg in enumerate(topo.segments)
    }
    places: dict[str, tuple[float, float]] = {}
    for i, host in enumerate(topo.cluster_nodes):
        places[host.name] = (WIDTH / 2, 90 if i == 0 else HEIGHT - 90)
    for host in topo.hosts:
        if host.role is not Role.CLUSTER_NODE:
            bx, _ = bridges[host.interfaces[0].segment]
            places[host.name] = (90 if bx < WIDTH / 2 else WIDTH - 90, HEIGHT / 2)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "vip": str(topo.vip.ip),
        "vip_label": topo.vip_label,
        "heartbeat_ifaces": sorted({m.iface for m in topo.media}),
        "segments": [
            {
                "name": seg.name,
                "bridge": seg.bridge,
                "subnet": str(seg.subnet),
                "purpose": seg.purpose,
                "x": bridges[seg.name][0],
                "y": bridges[seg.name][1],
            }
            for seg in topo.segments
        ],
        "hosts": [
            {
                "name": host.name,
                "role": host.role.value,
                "x": places[host.name][0],
                "y": places[host.name][1],
                "interfaces": [
                    {"name": i.name, "segment": i.segment, "address": str(i.address), "mac": i.mac}
                    for i in host.interfaces
                ],
            }
            for host in topo.hosts
        ],
    }
