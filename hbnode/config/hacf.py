"""The parsed /etc/ha.d/ha.cf: a typed :class:`HaCf`, and what the daemon derives from it.

Parsing lives in :mod:`hbnode.config.hacf_parse`; this module holds the data
model, so the rest of hbnode can import it without the parser.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import pwd
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hbnode.config.errors import ConfigError, ConfigWarning
from hbnode.rm.spec import AutoFailback as AutoFailback  # the rm's policy, parsed here

DEFAULT_UDPPORT = 694  # IANA "ha-cluster"; Heartbeat's UDPPORT


class MsgFormat(enum.StrEnum):
    """``msgfmt``: how Heartbeat would encode messages it originates."""

    CLASSIC = "classic"
    NETSTRING = "netstring"


class AutoJoin(enum.StrEnum):
    """``autojoin``: whether unknown nodes may join (must be NONE with haresources)."""

    NONE = "none"
    OTHER = "other"
    ANY = "any"


class UuidFrom(enum.StrEnum):
    """``uuidfrom``: where a node's uuid comes from."""

    FILE = "file"
    NODENAME = "nodename"


class GenMethod(enum.StrEnum):
    """``hbgenmethod``: how the generation number (hg) is computed."""

    FILE = "file"
    TIME = "time"


@dataclass(frozen=True, slots=True)
class BcastMedium:
    """``bcast dev`` (or the obsolete ``udp dev``): UDP broadcast on one interface."""

    dev: str
    port: int  # udpport as it was when this line was read (Heartbeat reads it then)
    line: int


@dataclass(frozen=True, slots=True)
class UcastMedium:
    """``ucast dev peer``: UDP unicast to one peer (an address or a host name)."""

    dev: str
    peer: str
    port: int  # udpport as it was when this line was read
    line: int


@dataclass(frozen=True, slots=True)
class McastMedium:
    """``mcast dev group port ttl loop``: UDP multicast; it carries its own port."""

    dev: str
    group: str
    port: int
    ttl: int
    loop: bool
    line: int


Medium = BcastMedium | UcastMedium | McastMedium


@dataclass(frozen=True, slots=True)
class PingGroup:
    """``ping_group name ip…``: one ping node that is up while any member answers."""

    name: str
    addresses: tuple[str, ...]
    line: int


@dataclass(frozen=True, slots=True)
class StonithDevice:
    """The STONITH device this node fences with (``stonith`` or ``stonith_host``).

    ``stonith_host HOST TYPE PARAMS…``: PARAMS is the rest of the line, given to the
    plugin in its ``getconfignames`` order (cluster-glue's ``stonith -p``).
    ``stonith TYPE FILE``: the parameters are in FILE (``stonith -F``). config.c keeps
    one device, the last line that applies to this node.
    """

    plugin: str  # cluster-glue's type: external/ipmi, meatware, …
    params: str | None  # stonith_host: the parameter string as written
    config_file: str | None  # stonith: the file with the parameters
    directive: str  # "stonith" or "stonith_host"
    line: int


@dataclass(frozen=True, slots=True)
class RespawnEntry:
    """``respawn user /path args…``: a client the daemon starts at comm-up and restarts."""

    user: str
    path: str
    args: tuple[str, ...]
    line: int

    @property
    def command(self) -> str:
        """The command line as Heartbeat keeps it (path and arguments)."""
        return " ".join((self.path, *self.args))


@dataclass(frozen=True, slots=True)
class ApiAuth:
    """``apiauth client uid=…|gid=…``: who may register as an API client of that name."""

    client: str
    uids: tuple[str, ...]
    gids: tuple[str, ...]
    line: int


@dataclass(slots=True)
class HaCf:
    """Everything ha.cf says, with Heartbeat's defaults and derived values filled in.

    Times are in milliseconds. ``nodes`` are the cluster nodes (lowercase, in file
    order); ping nodes are listed apart and are not cluster nodes. ``warnings`` are
    what Heartbeat would log at start-up; the daemon logs them.
    """

    path: str
    nodes: list[str] = field(default_factory=list)
    keepalive_ms: int = 1000
    deadtime_ms: int = 30000
    warntime_ms: int = 0  # derived after parsing when not given: deadtime / 2
    initdead_ms: int = 0  # derived after parsing when not given (§4.1)
    deadping_ms: int = 0  # derived after parsing when not given: deadtime
    udpport: int = DEFAULT_UDPPORT
    hopfudge: int = 1
    auto_failback: AutoFailback = AutoFailback.LEGACY
    logfile: str | None = None
    debugfile: str | None = None
    logfacility: str | None = None  # the facility name as written; None for unset and "none"
    use_logd: bool = False  # as given, or derived (config.c check_logd_usage)
    watchdog: str | None = None  # the device Heartbeat opens and feeds (``watchdog``)
    syslogmsgfmt: bool = True
    media: list[Medium] = field(default_factory=list)
    ping_nodes: list[str] = field(default_factory=list)
    ping_groups: list[PingGroup] = field(default_factory=list)
    respawn: list[RespawnEntry] = field(default_factory=list)
    apiauth: list[ApiAuth] = field(default_factory=list)
    msgfmt: MsgFormat = MsgFormat.CLASSIC
    max_rexmit_delay_ms: int = 250
    autojoin: AutoJoin = AutoJoin.NONE
    uuidfrom: UuidFrom = UuidFrom.FILE
    hbgenmethod: GenMethod = GenMethod.FILE
    debug: int = 0
    log_badpack: bool = True
    isolation: bool = True  # hbnode_isolation: only acts when ping nodes are configured
    resource_timeout_ms: int = 120000  # hbnode_resource_timeout: script start/stop limit
    stonith: StonithDevice | None = None  # stonith / stonith_host naming this node
    stonith_timeout_ms: int = 60000  # hbnode_stonith_timeout: one reset's time limit
    stonith_retry_ms: int = 5000  # hbnode_stonith_retry: Heartbeat's 5 s between tries
    stonith_delay_ms: int = 5000  # hbnode_stonith_delay: a node holding nothing waits
    metrics: tuple[str, int] | None = None  # hbnode_metrics ADDRESS:PORT: Prometheus endpoint
    compression: str = "zlib"
    compression_threshold_kb: int = 2
    traditional_compression: bool = False
    env: dict[str, str] = field(default_factory=dict)  # keyed by the variable: HA_<name>
    cluster: str = "linux-ha"
    conn_logd_time_ms: int = 60000
    baud: int = 19200
    # Accepted for compatibility, with no effect in hbnode (recorded for the record):
    realtime: bool = True
    rtprio: int | None = None
    coredumps: bool = True
    coreroot: str | None = None
    memreserve_kb: int = 6500
    use_apphbd: bool = False
    quorum_server: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # directive → last line it was on
    warnings: list[ConfigWarning] = field(default_factory=list)

    def raw_parameter(self, name: str) -> str | None:
        """The value string Heartbeat records for ``name`` (``cl_status hbparameter``).

        As written in ha.cf (``2`` for ``keepalive 2``), else Heartbeat's default
        (``1000ms``) or derived value (``15000ms`` for warntime); ``None`` if unset.
        """
        return self.parameters.get(name)

    def directive_line(self, name: str) -> int | None:
        """The line that last set directive ``name``, or None if it was not given."""
        return self.lines.get(name)

    @property
    def ping_node_names(self) -> list[str]:
        """Every ping pseudo-node: each ``ping`` address and each ``ping_group`` name."""
        return [*self.ping_nodes, *(group.name for group in self.ping_groups)]


def resolve_ipv4(host: str) -> set[str]:
    """The IPv4 addresses ``host`` resolves to (empty if it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        return set()
    return {str(info[4][0]) for info in infos}


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def effective_media(
    hacf: HaCf,
    local_addresses: Iterable[str],
    resolve: Callable[[str], set[str]] = resolve_ipv4,
) -> list[Medium]:
    """The media to open on this node: ha.cf's, minus ``ucast`` lines aimed at ourselves.

    A common ha.cf lists ``ucast eth1 <peer>`` for both nodes so that one file
    fits both; the line whose peer is one of *our* addresses is skipped here.
    A peer given as a host name is looked up with ``resolve`` (injectable for tests).
    """
    local = set(local_addresses)
    kept: list[Medium] = []
    for medium in hacf.media:
        if isinstance(medium, UcastMedium):
            targets = {medium.peer} if _is_address(medium.peer) else resolve(medium.peer)
            if targets & local:
                continue
        kept.append(medium)
    return kept


def check_respawn_programs(hacf: HaCf) -> list[ConfigError]:
    """What Heartbeat checks for ``respawn`` at start-up: the user exists, the program runs.

    Kept out of the parser, which never looks at the system; the daemon calls
    this before it starts.
    """
    errors: list[ConfigError] = []
    for entry in hacf.respawn:
        try:
            pwd.getpwnam(entry.user)
        except KeyError:
            message = f"respawn: Invalid uid [{entry.user}] specified for client child"
            errors.append(ConfigError(hacf.path, entry.line, message))
            continue
        if not os.access(entry.path, os.X_OK):
            message = f"respawn: Client child command [{entry.path}] is not executable"
            errors.append(ConfigError(hacf.path, entry.line, message))
    return errors
