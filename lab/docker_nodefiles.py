"""Files of a containerized lab node, rendered from the same code as the netns lab's.

Two uses:

* inside the node image's build (``python -m lab.docker_nodefiles /``, run by the
  virtualenv that hbnode's wheel is installed into): the files that let a node run
  either implementation (:mod:`lab.implfiles`, as the netns nodes have them), the
  tmpfiles.d file of what the packages put in the node's own places
  (:mod:`lab.pkgfiles`, from the image's dpkg), the services they start at boot
  (:mod:`lab.bootsvc`), and the reference ``/etc/ha.d``
  files of every cluster node for every profile (from :mod:`lab.hafiles`);
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
import time
from pathlib import Path

from lab import bootsvc, hafiles, implfiles, pkgfiles
from lab.centos import DOCKER_MANAGED, BlankNode
from lab.impls import Impl
from lab.topology import REFERENCE, Host, Topology

VENV = "/opt/hbnode"  # where the node image installs hbnode's wheel
SHARE = "/usr/share/hblab"
NGINX_INIT = Path(__file__).parent / "assets" / "nginx.init"  # shared with lab.rootfs


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def install_into(root: Path, topo: Topology = REFERENCE) -> None:
    """Write the image's generated files under ``root`` (``/`` in the image build)."""
    for node_file in implfiles.install_files(f"{VENV}/bin/python", VENV):
        _write(root / node_file.path.lstrip("/"), node_file.text, node_file.mode)
    # The netns nodes' CentOS-like nginx init script (its stop returns when nginx has
    # exited; Debian's sleeps a second): the same handover timing on both backends.
    if NGINX_INIT.exists():
        _write(root / "etc/init.d/nginx", NGINX_INIT.read_text(), 0o755)
    # What the packages put in /run and /var/log (a tmpfs and a bind at run time),
    # from the image's own dpkg: hblab-boot applies it at every boot.
    _write(root / pkgfiles.CONF_PATH.lstrip("/"), pkgfiles.node_conf())
    _write(root / bootsvc.SCRIPT_PATH.lstrip("/"), bootsvc.node_script(), 0o755)  # ha_logd
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
    blank: BlankNode | None = None,
) -> bytes:
    """A tar of the node's /etc/ha.d and /etc/sysconfig/heartbeat for ``put_archive('/')``;
    for a ``blank`` node (lab.centos), its files instead of /etc/ha.d."""
    if blank is not None:
        return blank_tar(blank, impl)
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
            choice = implfiles.choice_file(impl)
            _add_text(tar, choice.path.lstrip("/"), choice.text)
        return buf.getvalue()


def blank_tar(blank: BlankNode, impl: Impl) -> bytes:
    """A blank node's files, links and private dirs, and the implementation's choice.
    /etc/hosts is Docker's own (a bind mount): the node edits that one."""
    now = time.time()  # the files are made as the lab comes up, as on the netns nodes
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for directory in blank.private_dirs:
            info = tarfile.TarInfo(directory.lstrip("/"))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o700, now
            tar.addfile(info)
        for node_file in [*blank.files, implfiles.choice_file(impl)]:
            if node_file.path not in DOCKER_MANAGED:
                name = node_file.path.lstrip("/")
                _add_text(tar, name, node_file.text, node_file.mode, now)
        for link in blank.links:
            info = tarfile.TarInfo(link.path.lstrip("/"))
            info.type, info.linkname, info.mode, info.mtime = (
                tarfile.SYMTYPE,
                link.target,
                0o777,
                now,
            )
            tar.addfile(info)
    return buf.getvalue()


def _add_text(
    tar: tarfile.TarFile, name: str, text: str, mode: int = 0o644, mtime: float = 0
) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, mtime
    tar.addfile(info, io.BytesIO(data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write a lab node image's generated files")
    parser.add_argument("root", type=Path, help="the image's root (/ in a Dockerfile RUN)")
    args = parser.parse_args(argv)
    install_into(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
