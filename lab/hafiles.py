"""The /etc/ha.d files each lab node gets: the tutorial's, with a choice of timers.

Profiles:
  seed  the tutorial's values (keepalive 2, deadtime 30, warntime 10, initdead 60);
  fast  for tests and demos: sub-second keepalive and a deadtime of 1.5 s, which
        still satisfies Heartbeat's own rules (deadtime > 2 x keepalive,
        initdead >= deadtime).

`--set DIRECTIVE=VALUE` overrides or adds a directive; an empty value removes it
(`--set ping=` gives a cluster without a ping node).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hbnode.config.errors import ConfigError, ConfigErrors
from hbnode.config.hacf_parse import parse_hacf_text
from hbnode.core.timers import Timers as CoreTimers
from lab.bmc import stonith_host_lines
from lab.errors import LabError
from lab.topology import Host, Topology


class ProfileError(LabError, ValueError):
    """A bad profile, --set or ha.cf for the lab (one line, exit 2)."""


@dataclass(frozen=True, slots=True)
class Timers:
    keepalive: str
    deadtime: str
    warntime: str
    initdead: str

    def seconds(self, name: str) -> float:
        """A timer's value in seconds (lab-side waits are derived from it)."""
        raw = getattr(self, name).strip()
        if raw.endswith("ms"):
            return float(raw[:-2]) / 1000
        return float(raw)


PROFILES: dict[str, Timers] = {
    "seed": Timers(keepalive="2", deadtime="30", warntime="10", initdead="60"),
    "fast": Timers(keepalive="250ms", deadtime="1500ms", warntime="750ms", initdead="3"),
}

AUTHKEYS = "auth 3\n3 md5 Hello!\n"
IPFAIL = "/usr/lib64/heartbeat/ipfail"


def timers_for(profile: str) -> Timers:
    try:
        return PROFILES[profile]
    except KeyError:
        raise ProfileError(
            f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})"
        ) from None


def media_lines(topo: Topology, node: Host) -> list[tuple[str, str]]:
    """The topology's media as ha.cf lines for ``node`` (``ucast`` to the peer)."""
    pairs: list[tuple[str, str]] = []
    for medium in topo.media:
        if medium.kind == "ucast":
            segment = (node.interface(medium.iface) or node.interfaces[0]).segment
            peer = topo.peer_address(node.name, segment)
            pairs.append(("ucast", f"{medium.iface} {peer.ip if peer else ''}"))
        else:
            pairs.append((medium.kind, " ".join((medium.iface, *medium.args))))
    return pairs


def _ping_addresses(topo: Topology) -> str:
    """Each ping host's address on a segment the nodes are on (ha.cf's ``ping``)."""
    node_segments = {i.segment for h in topo.cluster_nodes for i in h.interfaces}
    addresses = []
    for host in topo.ping_nodes:
        iface = next((i for i in host.interfaces if i.segment in node_segments), None)
        if iface is not None:
            addresses.append(str(iface.address.ip))
    return " ".join(addresses)


def _directives(topo: Topology, node: Host, timers: Timers) -> list[tuple[str, str]]:
    ping = _ping_addresses(topo)
    pairs = [
        ("debugfile", "/var/log/ha-debug"),
        ("logfile", "/var/log/ha-log"),
        ("logfacility", "local0"),
        ("keepalive", timers.keepalive),
        ("deadtime", timers.deadtime),
        ("warntime", timers.warntime),
        ("initdead", timers.initdead),
        ("udpport", "694"),  # before the media lines: ha.cf's order rule
        *media_lines(topo, node),
        ("auto_failback", "on"),
    ]
    pairs += [("node", n.name) for n in topo.cluster_nodes]
    if ping:
        pairs.append(("ping", ping))
    pairs.append(("respawn", f"hacluster {IPFAIL}"))
    # hblab up --fencing: the peer's BMC through cluster-glue's external/ipmi (lab.bmc).
    pairs += [("stonith_host", line) for line in stonith_host_lines(topo)]
    return pairs


def _apply_overrides(
    pairs: list[tuple[str, str]], overrides: dict[str, str]
) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, value in pairs:
        if key in overrides:
            if key not in seen and overrides[key]:
                result.append((key, overrides[key]))
            seen.add(key)
        else:
            result.append((key, value))
    # New directives go before the media lines would matter only for udpport;
    # appending is fine for everything else ha.cf knows.
    result += [(k, v) for k, v in overrides.items() if k not in seen and v]
    return result


def render_hacf(
    topo: Topology, node: Host, profile: str, overrides: dict[str, str] | None = None
) -> str:
    pairs = _apply_overrides(_directives(topo, node, timers_for(profile)), overrides or {})
    body = "\n".join(f"{key} {value}" for key, value in pairs)
    return f"# /etc/ha.d/ha.cf on {node.name}, written by hblab (profile {profile})\n{body}\n"


def render_haresources(topo: Topology) -> str:
    vip = f"{topo.vip.ip}/{topo.vip.network.prefixlen}/{topo.vip_label}"
    return " ".join((topo.vip_owner, vip, *topo.services)) + "\n"


def write_ha_d(
    target: Path,
    topo: Topology,
    node: Host,
    profile: str,
    overrides: dict[str, str] | None = None,
    config_dir: Path | None = None,
) -> None:
    """Write ha.cf, authkeys (mode 600) and haresources into ``target``.

    With ``config_dir`` the user's own files are copied instead (any of the three
    that exists there wins), so the lab runs whatever configuration people bring.
    """
    target.mkdir(parents=True, exist_ok=True)
    files = {
        "ha.cf": render_hacf(topo, node, profile, overrides),
        "authkeys": AUTHKEYS,
        "haresources": render_haresources(topo),
    }
    for name, text in files.items():
        source = config_dir / name if config_dir else None
        if source is not None and source.exists():
            text = source.read_text()
        path = target / name
        path.write_text(text)
        path.chmod(0o600 if name == "authkeys" else 0o644)


HBNODE_PREFIX = "hbnode_"


def overrides_for(impl: str, overrides: dict[str, str]) -> dict[str, str]:
    """The overrides one node gets: ``hbnode_*`` extensions only on hbnode nodes.

    The real Heartbeat refuses to start on a directive it does not know, so a mixed
    cluster can still turn hbnode's extensions on or off from one ``--set``.
    """
    if impl == "hbnode":
        return dict(overrides)
    return {k: v for k, v in overrides.items() if not k.startswith(HBNODE_PREFIX)}


def parse_overrides(items: list[str]) -> dict[str, str]:
    """`--set keepalive=500ms --set ping=` → {"keepalive": "500ms", "ping": ""}."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ProfileError(f"--set wants DIRECTIVE=VALUE, got {item!r}")
        result[key.strip()] = value.strip()
    return result


def hacf_text(
    topo: Topology,
    node: Host,
    profile: str,
    overrides: dict[str, str] | None = None,
    config_dir: Path | None = None,
) -> str:
    """The ha.cf a lab node gets (the user's own from ``config_dir`` when it has one)."""
    source = config_dir / "ha.cf" if config_dir else None
    if source is not None and source.exists():
        return source.read_text()
    return render_hacf(topo, node, profile, overrides)


def cluster_timers(
    topo: Topology,
    profile: str,
    overrides: dict[str, str] | None = None,
    config_dir: Path | None = None,
    node: str | None = None,
) -> CoreTimers:
    """The timers a node runs with, read by hbnode's own ha.cf parser.

    One source of truth: every wait in the lab, the bench and the tests asks this,
    so ``--set deadtime=…`` and ``--config`` are honoured everywhere.
    """
    host = topo.host(node) if node else topo.cluster_nodes[0]
    if host is None:
        raise ProfileError(f"unknown node {node!r}")
    text = hacf_text(topo, host, profile, overrides_for("hbnode", overrides or {}), config_dir)
    try:
        hacf = parse_hacf_text(text, f"ha.cf of {host.name}", node_name=host.name)
    except ConfigError as exc:
        raise ProfileError(first_problem(exc, config_dir)) from None
    return CoreTimers.from_hacf(hacf)


def first_problem(exc: ConfigError, config_dir: Path | None = None) -> str:
    """hbnode's config error as one line (hblab's errors are one line each): the first
    problem, and how many more there are, with the command that lists them all."""
    errors = exc.errors if isinstance(exc, ConfigErrors) else [exc]
    if len(errors) == 1:
        return str(errors[0])
    where = config_dir if config_dir is not None else "DIR"
    more = f"{len(errors) - 1} more: hbnode --ha-d {where} check --files-only"
    return f"{errors[0]} ({more})"
