"""How a node runs the implementation chosen for it: one mechanism, both backends.

A node holds both implementations. ``/etc/sysconfig/heartbeat`` says which one
(``HB_IMPL=hbnode|heartbeat``), as a CentOS box keeps its service options there.
``/etc/init.d/heartbeat`` reads it, runs ``hblab-impl`` (which points the tutorial's
tools and ha.cf's ``respawn … /usr/lib64/heartbeat/ipfail`` at that implementation)
and hands over to that implementation's own init script under ``/etc/hblab``.

The files are the same on both backends; only who writes them differs: the netns
backend writes them into each node's overlays at `hblab up`, the node image has
them from its build. The choice itself is one file per node (:func:`choice_file`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.impls import DEFAULT_IMPL, TOOLS_DIR, Impl, spec

HBLAB_ETC = "/etc/hblab"  # each implementation's init script and hbnode's tool wrappers
CHOICE = "/etc/sysconfig/heartbeat"
SWITCH = f"{TOOLS_DIR}/hblab-impl"
DISPATCHER = "/etc/init.d/heartbeat"
IPFAIL_LINK = "/usr/lib64/heartbeat/ipfail"
# Where Debian's package puts its init script; hblab moves it under HBLAB_ETC.
DEBIAN_INIT = "/etc/init.d/heartbeat"
# cluster-glue's ha_logd service (Debian starts it at boot, before heartbeat).
LOGD_INIT = "/etc/init.d/logd"


@dataclass(frozen=True, slots=True)
class NodeFile:
    path: str  # absolute, as the node sees it
    text: str
    mode: int = 0o644


def choice_file(impl: Impl) -> NodeFile:
    """The one thing `hblab up --impl` decides per node."""
    return NodeFile(CHOICE, f"HB_IMPL={impl.value}\n")


def install_files(python: str, prefix: str, pythonpath: str | None = None) -> list[NodeFile]:
    """Everything but the choice and Debian's own init script: the dispatcher, the switch,
    hbnode's init script and tool wrappers, for hbnode run by ``python``."""
    hbnode = spec(Impl.HBNODE, python=python, prefix=prefix, pythonpath=pythonpath)
    assert hbnode.init_script is not None
    files = [
        NodeFile(DISPATCHER, dispatcher_script(), 0o755),
        NodeFile(SWITCH, switch_script(python, prefix, pythonpath), 0o755),
        NodeFile(f"{HBLAB_ETC}/init.d/{Impl.HBNODE.value}", hbnode.init_script, 0o755),
    ]
    for name, module in hbnode.tools.items():
        wrapper = f'#!/bin/sh\nexec {hbnode.runner} -m {module} "$@"\n'
        files.append(NodeFile(f"{HBLAB_ETC}/hbnode-tools/{name}", wrapper, 0o755))
    return files


def dispatcher_script() -> str:
    """/etc/init.d/heartbeat: the tutorial's command, dispatching on HB_IMPL."""
    return (
        "#!/bin/sh\n"
        "### BEGIN INIT INFO\n"
        "# Provides:          heartbeat\n"
        "# Required-Start:    $network\n"
        "# Required-Stop:     $network\n"
        "# Default-Start:     2 3 4 5\n"
        "# Default-Stop:      0 1 6\n"
        "# Short-Description: High-availability services (hbnode or Heartbeat 3.0.6)\n"
        "### END INIT INFO\n"
        f"# HB_IMPL in {CHOICE} chooses the daemon (written by hblab).\n"
        f"[ -r {CHOICE} ] && . {CHOICE}\n"
        f"impl=${{HB_IMPL:-{DEFAULT_IMPL.value}}}\n"
        f'{SWITCH} "$impl" || exit 1\n' + _logd_first() + f'exec {HBLAB_ETC}/init.d/"$impl" "$@"\n'
    )


def _logd_first() -> str:
    """The real Heartbeat logs through ha_logd when ha.cf names no log (use_logd): on
    Debian the package's logd service runs from boot, before heartbeat. A node switches
    implementations at `service heartbeat start`, so ha_logd starts there (if it is
    not running already). hbnode writes syslog itself and needs no ha_logd."""
    return (
        f'if [ "$impl" = {Impl.HEARTBEAT.value} ] && [ -x {LOGD_INIT} ]; then\n'
        '  case "$1" in start|restart|force-reload)\n'
        f'    {LOGD_INIT} start >/dev/null || echo "hblab: ha_logd did not start" >&2 ;;\n'
        "  esac\n"
        "fi\n"
    )


def switch_script(python: str, prefix: str, pythonpath: str | None = None) -> str:
    """``hblab-impl [IMPL]``: point ipfail and the cluster tools at one implementation.

    ha.cf's ``respawn hacluster /usr/lib64/heartbeat/ipfail`` and the tutorial's
    ``cl_status`` must reach the daemon that runs, whichever it is.
    """
    specs = {i: spec(i, python=python, prefix=prefix, pythonpath=pythonpath) for i in Impl}
    all_tools = sorted({t for chosen in specs.values() for t in chosen.tools})
    cases = []
    for impl, chosen in specs.items():
        links = "".join(
            f"    ln -sfn {HBLAB_ETC}/hbnode-tools/{t} {TOOLS_DIR}/{t}\n" for t in chosen.tools
        )
        stale = " ".join(f"{TOOLS_DIR}/{t}" for t in all_tools if t not in chosen.tools)
        rm = f"    rm -f {stale}\n" if stale else ""
        ipfail_link = f"    ln -sfn {chosen.ipfail} {IPFAIL_LINK}\n"
        cases.append(f"  {impl.value})\n{ipfail_link}{links}{rm}    ;;\n")
    return (
        "#!/bin/sh\n"
        "# hblab-impl [heartbeat|hbnode]: which daemon /etc/init.d/heartbeat runs on this node.\n"
        f"# Without an argument: HB_IMPL from {CHOICE} (default {DEFAULT_IMPL.value}).\n"
        "set -e\n"
        "impl=${1:-}\n"
        'if [ -z "$impl" ]; then\n'
        f"  [ -r {CHOICE} ] && . {CHOICE}\n"
        f"  impl=${{HB_IMPL:-{DEFAULT_IMPL.value}}}\n"
        "fi\n"
        f"mkdir -p {IPFAIL_LINK.rsplit('/', 1)[0]} {TOOLS_DIR}\n"
        'case "$impl" in\n'
        + "".join(cases)
        + '  *) echo "hblab-impl: unknown implementation $impl" >&2; exit 2 ;;\n'
        "esac\n"
    )
