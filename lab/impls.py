"""The heartbeat implementations a cluster node can run, and how each is installed.

Both answer to the same tutorial commands inside a node (`service heartbeat start`,
`cl_status …`): the node's /etc overlay decides which daemon /etc/init.d/heartbeat
starts, and where /usr/lib64/heartbeat/ipfail points.
"""

from __future__ import annotations

import enum
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


class Impl(enum.StrEnum):
    HEARTBEAT = "heartbeat"  # the real Heartbeat 3.0.6 (Debian package)
    HBNODE = "hbnode"  # ours


# The pid file both write: Heartbeat's is /var/run/heartbeat.pid and hbnode keeps it.
PIDFILE = "run/heartbeat.pid"
DEFAULT_IMPL = Impl.HBNODE
TOOL_NAMES = ("cl_status", "hb_standby", "hb_takeover", "hbnode")


class ImplError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ImplSpec:
    impl: Impl
    ipfail: str  # what /usr/lib64/heartbeat/ipfail resolves to
    init_script: str | None  # None: the distribution's /etc/init.d/heartbeat
    tools: dict[str, str]  # command name in /usr/local/sbin → python module to run


def _hbnode_init_script(python: str) -> str:
    return f"""#!/bin/sh
### BEGIN INIT INFO
# Provides:          heartbeat
# Required-Start:    $network
# Required-Stop:     $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: hbnode, a Heartbeat 3.0.6-compatible HA daemon
### END INIT INFO
# Written by hblab: this node runs hbnode where the tutorial expects heartbeat.
HBNODE="{python} -m hbnode"
case "$1" in
  start)   echo -n "Starting High-Availability services: "
           $HBNODE start && echo "Done." ;;
  stop)    echo -n "Stopping High-Availability services: "
           $HBNODE stop && echo "Done." ;;
  restart|force-reload) $0 stop; $0 start ;;
  reload)  $HBNODE reload ;;
  status)  $HBNODE status ;;
  standby) exec {python} -m hbnode.tools.hb_standby ;;
  *) echo "Usage: $0 {{start|stop|status|restart|reload|force-reload}}"; exit 1 ;;
esac
"""


def spec(impl: Impl, python: str = sys.executable, prefix: str = sys.prefix) -> ImplSpec:
    """How ``impl`` is installed for the interpreter ``python`` living in ``prefix``.

    The netns lab uses the host's own interpreter; the container images pass the
    virtualenv hbnode is installed into (/opt/hbnode).
    """
    if impl is Impl.HEARTBEAT:
        return ImplSpec(impl, "/usr/libexec/heartbeat/ipfail", None, {})
    tools = {
        "cl_status": "hbnode.tools.cl_status",
        "hbnode": "hbnode",
        "hb_standby": "hbnode.tools.hb_standby",
        "hb_takeover": "hbnode.tools.hb_takeover",
    }
    return ImplSpec(impl, f"{prefix}/bin/hbnode-ipfail", _hbnode_init_script(python), tools)


def parse_impls(text: str | None, nodes: list[str]) -> dict[str, Impl]:
    """`heartbeat` (all nodes) or `master=heartbeat,slave=hbnode`."""
    result = dict.fromkeys(nodes, DEFAULT_IMPL)
    if not text:
        return result
    for part in text.split(","):
        name, sep, value = part.partition("=")
        targets = [name.strip()] if sep else nodes
        value = value if sep else name
        try:
            impl = Impl(value.strip())
        except ValueError:
            choices = ", ".join(i.value for i in Impl)
            raise ImplError(f"unknown implementation {value.strip()!r} ({choices})") from None
        for target in targets:
            if target not in result:
                raise ImplError(f"--impl names {target!r}, not a cluster node")
            result[target] = impl
    return result


def missing_programs(impls: set[Impl]) -> list[str]:
    """What must be installed for these implementations to run in a node."""
    needed = ["ip", "tc", "nsenter", "unshare", "mount", "nginx", "ifconfig", "tcpdump"]
    missing = [p for p in needed if shutil.which(p) is None]
    if Impl.HEARTBEAT in impls and not Path("/usr/libexec/heartbeat/heartbeat").exists():
        missing.append("heartbeat (apt-get install heartbeat)")
    return missing
