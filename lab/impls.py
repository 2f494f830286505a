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

from lab.errors import LabError


class Impl(enum.StrEnum):
    HEARTBEAT = "heartbeat"  # the real Heartbeat 3.0.6 (Debian package)
    HBNODE = "hbnode"  # ours


# The pid file both write: Heartbeat's is /var/run/heartbeat.pid and hbnode keeps it.
PIDFILE = "run/heartbeat.pid"
DEFAULT_IMPL = Impl.HBNODE
TOOL_NAMES = ("cl_status", "hb_standby", "hb_takeover", "hbnode", "hbnode-ipfail")
TOOLS_DIR = "/usr/local/sbin"  # first on a node's PATH


class ImplError(LabError, ValueError):
    """A bad --impl specification (one line, exit 2)."""


@dataclass(frozen=True, slots=True)
class ImplSpec:
    impl: Impl
    ipfail: str  # what /usr/lib64/heartbeat/ipfail resolves to
    init_script: str | None  # None: the distribution's /etc/init.d/heartbeat
    tools: dict[str, str]  # command name in /usr/local/sbin → python module to run
    runner: str = sys.executable  # how the tools start Python (with its environment)


def _hbnode_init_script(python: str) -> str:
    """``python`` may carry an environment prefix (``env PYTHONPATH=… /usr/bin/python3``)."""
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


def spec(
    impl: Impl,
    python: str = sys.executable,
    prefix: str = sys.prefix,
    pythonpath: str | None = None,
) -> ImplSpec:
    """How ``impl`` is installed for the interpreter ``python`` living in ``prefix``.

    The netns lab uses the host's own interpreter with ``pythonpath`` (the source
    tree bound into the node, lab.source); the container images pass the
    virtualenv hbnode's wheel is installed into (/opt/hbnode).
    """
    if impl is Impl.HEARTBEAT:
        return ImplSpec(impl, "/usr/libexec/heartbeat/ipfail", None, {})
    tools = {
        "cl_status": "hbnode.tools.cl_status",
        "hbnode": "hbnode",
        "hb_standby": "hbnode.tools.hb_standby",
        "hb_takeover": "hbnode.tools.hb_takeover",
    }
    ipfail = f"{prefix}/bin/hbnode-ipfail"
    runner = python
    if pythonpath:
        runner = f"env PYTHONPATH={pythonpath} {python}"
        # The console script under prefix would import whatever pip installed last.
        tools["hbnode-ipfail"] = "hbnode.tools.ipfail"
        ipfail = f"{TOOLS_DIR}/hbnode-ipfail"
    return ImplSpec(impl, ipfail, _hbnode_init_script(runner), tools, runner)


def parse_impls(text: str | None, nodes: list[str]) -> dict[str, Impl]:
    """One cluster: `heartbeat` (every node) or `master=heartbeat,slave=hbnode`.

    The old per-node separator `;` is still read, with a deprecation line.
    """
    result = dict.fromkeys(nodes, DEFAULT_IMPL)
    if not text:
        return result
    if ";" in text:
        deprecated(f"--impl {text!r}: separate nodes with ',' ({text.replace(';', ',')!r})")
        text = text.replace(";", ",")
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


def spec_text(impls: dict[str, Impl]) -> str:
    """The canonical text of one cluster: `hbnode`, or `master=heartbeat,slave=hbnode`."""
    kinds = set(impls.values())
    if len(kinds) == 1:
        return next(iter(kinds)).value
    return ",".join(f"{node}={impl.value}" for node, impl in impls.items())


def parse_impl_list(text: str, nodes: list[str]) -> list[str]:
    """Several clusters (bench --impls, HBLAB_IMPLS), separated by spaces:
    `hbnode heartbeat master=heartbeat,slave=hbnode`. Canonical texts come back.

    The old list form, `,` between clusters and `;` between nodes
    (`heartbeat,hbnode,master=heartbeat;slave=hbnode`), is still read, with a
    deprecation line.
    """
    items = text.split()
    if len(items) == 1 and "," in items[0]:
        parts = items[0].split(",")
        if ";" in items[0] or not any("=" in part for part in parts):
            new = " ".join(part.replace(";", ",") for part in parts if part)
            deprecated(f"{text!r}: separate clusters with spaces ({new!r})")
            items = new.split()
    specs = [spec_text(parse_impls(item, nodes)) for item in items]
    if not specs:
        raise ImplError("no implementation named (e.g. 'hbnode heartbeat')")
    return specs


def deprecated(message: str) -> None:
    print(f"hblab: deprecated: {message}", file=sys.stderr)


def missing_programs(impls: set[Impl]) -> list[str]:
    """What must be installed for these implementations to run in a node."""
    needed = ["ip", "tc", "nsenter", "unshare", "mount", "nginx", "ifconfig", "tcpdump", "rsyslogd"]
    needed.append("systemd-tmpfiles")  # a node's boot makes the packages' dirs (lab.pkgfiles)
    missing = [p for p in needed if shutil.which(p) is None]
    if Impl.HEARTBEAT in impls and not Path("/usr/libexec/heartbeat/heartbeat").exists():
        missing.append("heartbeat (apt-get install heartbeat)")
    return missing
