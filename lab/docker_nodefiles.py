"""Files of a containerized lab node, rendered from the same code as the netns lab's.

Two uses:

* inside the node image's build (``python -m lab.docker_nodefiles /``, run by the
  virtualenv that hbnode's wheel is installed into): the hbnode init script and
  tools (from :mod:`lab.impls`), ``hblab-impl`` which switches a node between the
  real Heartbeat and hbnode, and the reference ``/etc/ha.d`` files of every
  cluster node for every profile (from :mod:`lab.hafiles`);
* on the host, by the docker backend: :func:`node_overlay_tar` packs the files
  one ``hblab up`` chooses (profile, ``--set``, ``--config``, implementation) for
  ``put_archive`` into the created container, before it first boots.
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
import tempfile
from pathlib import Path

from lab import hafiles
from lab.impls import Impl, spec
from lab.topology import REFERENCE, Host, Topology

VENV = "/opt/hbnode"  # where the node image installs hbnode's wheel
LIB = "/usr/lib/hblab"
SHARE = "/usr/share/hblab"
SYSCONFIG = "etc/sysconfig/heartbeat"  # HB_IMPL=heartbeat|hbnode: /etc/init.d/heartbeat reads it
NGINX_INIT = Path(__file__).parent / "assets" / "nginx.init"  # shared with lab.rootfs


def _specs() -> dict[Impl, tuple[str, dict[str, str]]]:
    """{impl: (ipfail path, {tool: module})} for the image's interpreters."""
    result = {}
    for impl in Impl:
        chosen = spec(impl, python=f"{VENV}/bin/python", prefix=VENV)
        result[impl] = (chosen.ipfail, chosen.tools)
    return result


def impl_switch_script() -> str:
    """``hblab-impl [IMPL]``: point ipfail and the cluster tools at one implementation.

    ha.cf's ``respawn hacluster /usr/lib64/heartbeat/ipfail`` and the tutorial's
    ``cl_status`` must reach the daemon that runs, whichever it is.
    """
    all_tools = sorted({t for _, tools in _specs().values() for t in tools})
    cases = []
    for impl, (ipfail, tools) in _specs().items():
        links = "".join(f"    ln -sfn {LIB}/hbnode-tools/{t} /usr/local/sbin/{t}\n" for t in tools)
        stale = " ".join(f"/usr/local/sbin/{t}" for t in all_tools if t not in tools)
        rm = f"    rm -f {stale}\n" if stale else ""
        ipfail_link = f"    ln -sfn {ipfail} /usr/lib64/heartbeat/ipfail\n"
        cases.append(f"  {impl.value})\n{ipfail_link}{links}{rm}    ;;\n")
    return (
        "#!/bin/sh\n"
        "# hblab-impl [heartbeat|hbnode]: which daemon /etc/init.d/heartbeat runs on this node.\n"
        "# Without an argument: HB_IMPL from /etc/sysconfig/heartbeat (default heartbeat).\n"
        "set -e\n"
        "impl=${1:-}\n"
        'if [ -z "$impl" ]; then\n'
        f"  [ -r /{SYSCONFIG} ] && . /{SYSCONFIG}\n"
        "  impl=${HB_IMPL:-heartbeat}\n"
        "fi\n"
        "mkdir -p /usr/lib64/heartbeat /usr/local/sbin\n"
        'case "$impl" in\n'
        + "".join(cases)
        + '  *) echo "hblab-impl: unknown implementation $impl" >&2; exit 2 ;;\n'
        "esac\n"
    )


def init_wrapper_script() -> str:
    """/etc/init.d/heartbeat: the tutorial's command, dispatching on HB_IMPL."""
    return (
        "#!/bin/sh\n"
        "### BEGIN INIT INFO\n"
        "# Provides:          heartbeat\n"
        "# Required-Start:    $network\n"
        "# Required-Stop:     $network\n"
        "# Default-Start:     2 3 4 5\n"
        "# Default-Stop:      0 1 6\n"
        "# Short-Description: High-availability services (Heartbeat 3.0.6 or hbnode)\n"
        "### END INIT INFO\n"
        "# HB_IMPL in /etc/sysconfig/heartbeat chooses the daemon (hblab image).\n"
        f"[ -r /{SYSCONFIG} ] && . /{SYSCONFIG}\n"
        "impl=${HB_IMPL:-heartbeat}\n"
        '/usr/sbin/hblab-impl "$impl" || exit 1\n'
        f'exec {LIB}/init.d/"$impl" "$@"\n'
    )


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def install_into(root: Path, topo: Topology = REFERENCE) -> None:
    """Write the image's generated files under ``root`` (``/`` in the image build)."""
    hbnode = spec(Impl.HBNODE, python=f"{VENV}/bin/python", prefix=VENV)
    assert hbnode.init_script is not None
    lib = root / LIB.lstrip("/")
    _write(lib / "init.d" / "hbnode", hbnode.init_script, 0o755)
    for name, module in hbnode.tools.items():
        wrapper = f'#!/bin/sh\nexec {VENV}/bin/python -m {module} "$@"\n'
        _write(lib / "hbnode-tools" / name, wrapper, 0o755)
    _write(root / "usr/sbin/hblab-impl", impl_switch_script(), 0o755)
    _write(root / "etc/init.d/heartbeat", init_wrapper_script(), 0o755)
    # The netns nodes' CentOS-like nginx init script (its stop returns when nginx has
    # exited; Debian's sleeps a second): the same handover timing on both backends.
    if NGINX_INIT.exists():
        _write(root / "etc/init.d/nginx", NGINX_INIT.read_text(), 0o755)
    for profile in hafiles.PROFILES:
        for host in topo.cluster_nodes:
            target = root / SHARE.lstrip("/") / "ha.d" / profile / host.name
            hafiles.write_ha_d(target, topo, host, profile)


def node_overlay_tar(
    topo: Topology,
    host: Host,
    impl: Impl,
    profile: str,
    overrides: dict[str, str],
    config_dir: Path | None,
) -> bytes:
    """A tar of the node's /etc/ha.d and /etc/sysconfig/heartbeat for ``put_archive('/')``."""
    with tempfile.TemporaryDirectory(prefix="hblab-d-") as tmp:
        ha_d = Path(tmp) / "ha.d"
        hafiles.write_ha_d(
            ha_d, topo, host, profile, hafiles.overrides_for(impl.value, overrides), config_dir
        )
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for path in sorted(ha_d.iterdir()):
                info = tar.gettarinfo(str(path), arcname=f"etc/ha.d/{path.name}")
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            _add_text(tar, SYSCONFIG, f"HB_IMPL={impl.value}\n")
        return buf.getvalue()


def _add_text(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write a lab node image's generated files")
    parser.add_argument("root", type=Path, help="the image's root (/ in a Dockerfile RUN)")
    args = parser.parse_args(argv)
    install_into(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
