"""compose.yaml, made from the topology file: the lab as plain Docker Compose.

``python -m lab.compose`` writes compose.yaml from the reference topology (or
``--topology FILE``); ``--check`` exits 1 if the file in the repository is not
what the topology makes (CI runs it). The docker backend builds the same
networks and containers from the same topology through the Docker SDK.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab.topology import REFERENCE, Host, Role, Segment, Topology, load

REPO = Path(__file__).resolve().parent.parent
IMAGE_OF_ROLE = {
    Role.CLUSTER_NODE: "node",
    Role.PING_NODE: "gateway",
    Role.CLIENT: "client",
    # A BMC's container only holds its network namespace: ipmi_sim runs on this
    # machine inside it (lab.bmc), so the small gateway image does.
    Role.BMC: "gateway",
}

HEADER = """\
# {name}: the hblab topology as plain Docker Compose, for people who never run hblab.
# Made by `python -m lab.compose` from {source}: edit that, not this.
#
#   make images                  # once: builds hblab-d-{{node,gateway,client}} offline
#   docker-compose up -d         # or: docker compose up -d
#   docker-compose exec {first} bash
#   [root@{first} ~]# ifconfig; service heartbeat status; tail /var/log/ha-log
#   docker-compose exec {client} curl -s http://{vip}/    # names the VIP holder
#   docker-compose kill {owner}   # pull {owner}'s plug: the peer takes the VIP
#   docker-compose down -t 1
#
# Every network is internal (no route out, no NAT); its gateway address is the last
# host address, so the lab's own addresses stay free, and inhibit_ipv4 keeps even
# that address off the bridge: the machine gets no address or route from the lab.
# Inside each host, hblab-ifnames names the interfaces by subnet (HBLAB_IFNAMES)
# whatever order Docker attaches the networks in, and sets the lab's MACs.
#
# HB_IMPL chooses the daemon (hbnode: ours, the default; heartbeat: the real
# Heartbeat 3.0.6), HB_PROFILE the timers (fast: deadtime 1.5 s; seed: the
# tutorial's 30 s), and HB_AUTOSTART=yes is `chkconfig heartbeat on`.
"""


def gateway_of(seg: Segment) -> str:
    """The network's gateway address: the last host address, never a lab host's."""
    return str(seg.subnet.broadcast_address - 1)


def host_environment(topo: Topology, host: Host) -> dict[str, str]:
    """What hblab-ifnames needs in a container: interface names by subnet, MACs."""
    subnets = {s.name: s.subnet for s in topo.segments}
    return {
        "HBLAB_IFNAMES": " ".join(f"{subnets[i.segment]}={i.name}" for i in host.interfaces),
        "HBLAB_MACS": " ".join(f"{i.address.ip}={i.mac}" for i in host.interfaces),
    }


def _caps(host: Host) -> list[str]:
    """A cluster node also locks its memory and runs Heartbeat under SCHED_RR as root on a
    real host does (lab.memlock, lab.rtsched)."""
    root = ["IPC_LOCK", "SYS_NICE"] if host.role is Role.CLUSTER_NODE else []  # lab.rtsched
    return ["NET_ADMIN", "NET_RAW", *root]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(topo: Topology, source: str) -> str:
    client = next((h.name for h in topo.hosts if h.role is Role.CLIENT), "client")
    lines = [
        HEADER.format(
            name=topo.name,
            source=source,
            first=topo.cluster_nodes[0].name,
            client=client,
            vip=topo.vip.ip,
            owner=topo.vip_owner,
        ),
        "x-hosts: &hosts",
    ]
    for host in topo.hosts:
        entry = f"{host.name}:{host.interfaces[0].address.ip}"
        lines.append(f"  - {_quote(entry)}")
    lines += ["", "services:"]
    for host in topo.hosts:
        lines += [
            f"  {host.name}:",
            f"    image: hblab-d-{IMAGE_OF_ROLE[host.role]}:latest",
            f"    hostname: {host.name}",
            f"    cap_add: [{', '.join(_caps(host))}]",
            *(["    ulimits: {memlock: -1}"] if host.role is Role.CLUSTER_NODE else []),
            "    tmpfs: [/run, /tmp]",
            "    stop_grace_period: 2s",
            "    extra_hosts: *hosts",
            "    environment:",
        ]
        env = host_environment(topo, host)
        if host.role is Role.CLUSTER_NODE:
            env = {
                "HB_IMPL": "${HB_IMPL:-hbnode}",
                "HB_PROFILE": "${HB_PROFILE:-fast}",
                "HB_AUTOSTART": "yes",
                **env,
            }
        lines += [f"      {key}: {_quote(value)}" for key, value in env.items()]
        lines.append("    networks:")
        lines += [f"      {i.segment}: {{ipv4_address: {i.address.ip}}}" for i in host.interfaces]
        lines.append("")
    lines.append("networks:")
    for seg in topo.segments:
        lines += [
            f"  {seg.name}:",
            "    internal: true",
            "    driver_opts:",
            '      com.docker.network.bridge.inhibit_ipv4: "true"',
            "    ipam:",
            "      config:",
            f"        - subnet: {seg.subnet}",
            f"          gateway: {gateway_of(seg)}",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.compose", description=__doc__)
    parser.add_argument("--topology", type=Path, help="a topology file (default: the reference)")
    parser.add_argument("-o", "--out", type=Path, default=REPO / "compose.yaml")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    topo = load(args.topology) if args.topology else REFERENCE
    source = str(args.topology or "lab/topologies/reference.yaml")
    text = render(topo, source)
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is not what {source} makes: run python -m lab.compose")
            return 1
        print(f"{args.out} is current")
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
