"""The docker backend: the reference topology as containers (``hblab --backend docker``).

`DockerLab` has NetnsLab's interface, so the CLI and the integration tests drive
either. What it builds, through the Docker SDK, from the same Topology:

* one network per segment, ``hblab-d-eth0`` (192.168.0.0/24) and ``hblab-d-eth1``
  (172.16.254.0/24): internal (no route out, no NAT), gateway address set to .254
  so that 172.16.254.1 stays free for the ping node, and
  ``com.docker.network.bridge.inhibit_ipv4`` so the bridge itself has no address.
  Under the private engine (lab.docker_engine) the bridges live in its own network
  namespace; under a system engine they are two address-less ``br-<id>`` links in
  the root namespace, removed again by ``down``;
* one container per host, ``hblab-d-<host>`` (images from lab.docker_images),
  with NET_ADMIN and NET_RAW, static addresses, tini as PID 1, a fresh tmpfs on
  /run and /tmp at every boot, and /var/log bound to a directory of the lab's
  state (logs survive a power cut and can be read while the node is off).

Faults: ``poweroff`` is ``docker kill`` (every process dies, the interfaces and
the VIP go with the container's network namespace); ``poweron`` starts it again.
Cables are cut with ``ip link`` inside the container (a network disconnect would
bring the interface back under another name), netem is ``tc`` inside it. Sockets
for probes, status and captures enter the container's namespace by path
(``/proc/PID/ns/net``), as lab.netsock already does for named namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from lab import docker_engine, docker_nodefiles, wiring
from lab import node as nodes
from lab.docker_images import LABEL, SOURCE_LABEL, image_name
from lab.docker_state import DOCKER_STATE_DIR, ContainerRecord, DockerState
from lab.errors import LabError
from lab.impls import Impl
from lab.proc import ProcessId, wait_gone
from lab.state import NodeRecord
from lab.topology import REFERENCE, Host, Role, Segment, Topology

NETEM_KEYS = ("loss", "delay", "duplicate", "reorder")
BOOT_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
IMAGE_OF_ROLE = {Role.CLUSTER_NODE: "node", Role.PING_NODE: "gateway", Role.CLIENT: "client"}
BOOTED = "run/hblab-booted"  # hblab-boot/hblab-netboot touch it once the host is ready


def gateway_of(seg: Segment) -> str:
    """The network's gateway address: the last host address, never a lab host's."""
    return str(seg.subnet.broadcast_address - 1)


class DockerLab:
    backend = "docker"

    def __init__(self, topo: Topology = REFERENCE, state_dir: Path = DOCKER_STATE_DIR) -> None:
        self.topo = topo
        self.prefix = f"{topo.prefix}-d"
        self.state_dir = state_dir
        self.state_file = state_dir / "state.json"
        self.state = DockerState.load(self.state_file)
        self._api: Any = None

    @property
    def api(self) -> Any:
        if self._api is None:
            url = self.state.engine if self.state else docker_engine.engine_url()
            self._api = docker_engine.client(url)
        return self._api

    def container_name(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def network_name(self, segment: str) -> str:
        return f"{self.prefix}-{segment}"

    # -- bring-up --------------------------------------------------------------
    def up(
        self,
        impls: dict[str, Impl],
        profile: str = "fast",
        overrides: dict[str, str] | None = None,
        config_dir: Path | None = None,
        start_daemons: bool = True,
    ) -> None:
        if self.state is not None:
            raise LabError("the docker lab is already up (hblab down first, or hblab status)")
        url = docker_engine.engine_url()
        if not docker_engine.reachable(url):
            raise LabError(f"no Docker engine at {url} (make engine-start starts a private one)")
        self._check_images()
        self.state = DockerState(
            self.backend, profile, url, overrides or {}, str(config_dir) if config_dir else None
        )
        self.state.source = self._image_source()
        import docker.errors

        try:
            self._build(impls)
            if start_daemons:
                for host in self.topo.cluster_nodes:
                    self.service(host.name, "heartbeat", "start")
        except docker.errors.APIError as exc:
            self.down()
            # e.g. "Pool overlaps": a compose.yaml lab holds the same subnets.
            raise LabError(f"Docker refused: {exc.explanation or exc}") from None
        except BaseException:
            self.down()
            raise

    def _check_images(self) -> None:
        import docker.errors

        for kind in sorted(set(IMAGE_OF_ROLE.values())):
            try:
                self.api.images.get(image_name(kind))
            except docker.errors.ImageNotFound:
                raise LabError(f"image {image_name(kind)} is missing (run: make images)") from None

    def _image_source(self) -> dict[str, Any]:
        """Which hbnode the node image holds: the label `make images` stamped on it."""
        labels = self.api.images.get(image_name("node")).labels or {}
        try:
            return dict(json.loads(labels.get(SOURCE_LABEL, "{}")))
        except ValueError:
            return {}

    def _build(self, impls: dict[str, Impl]) -> None:
        state = self._require()
        for seg in self.topo.segments:
            state.networks.append(self.network_name(seg.name))  # recorded before it exists
            self._save()
            self._create_network(seg)
        for host in self.topo.hosts:
            log_dir = self.state_dir / "nodes" / host.name / "log"
            impl = impls.get(host.name)
            rec = ContainerRecord(
                host.name,
                self.container_name(host.name),
                str(log_dir),
                impl.value if impl else None,
            )
            state.nodes[host.name] = rec
            self._save()
            log_dir.mkdir(parents=True, exist_ok=True)
            self._create_container(host, rec)
            if impl is not None:
                self._put_node_files(host, rec, impl)
        for host in self.topo.hosts:
            self._boot(host.name)

    def _create_network(self, seg: Segment) -> None:
        import docker.types

        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=str(seg.subnet), gateway=gateway_of(seg))]
        )
        self.api.networks.create(
            self.network_name(seg.name),
            driver="bridge",
            internal=True,
            ipam=ipam,
            options={"com.docker.network.bridge.inhibit_ipv4": "true"},
            labels={LABEL: "lab"},
        )

    def _create_container(self, host: Host, rec: ContainerRecord) -> None:
        low = self.api.api
        first, *others = host.interfaces
        extra_hosts = {
            h.name: str(addr.ip)
            for h in self.topo.hosts
            if (addr := h.address_on("eth0") or h.address_on("eth1")) is not None
        }
        host_config = low.create_host_config(
            cap_add=["NET_ADMIN", "NET_RAW"],
            tmpfs={"/run": "mode=0755", "/tmp": "mode=1777"},
            binds={rec.log_dir: {"bind": "/var/log", "mode": "rw"}},
            extra_hosts=extra_hosts,
        )
        networking = low.create_networking_config(
            {
                self.network_name(first.segment): low.create_endpoint_config(
                    ipv4_address=str(first.address.ip)
                )
            }
        )
        low.create_container(
            image_name(IMAGE_OF_ROLE[host.role]),
            name=rec.container,
            hostname=host.name,
            environment={"HB_AUTOSTART": "no"},  # the lab starts heartbeat itself
            labels={LABEL: "lab", "org.hblab.host": host.name},
            host_config=host_config,
            networking_config=networking,
            detach=True,
        )
        for iface in others:  # API 1.41 takes one network at create: connect the rest
            low.connect_container_to_network(
                rec.container, self.network_name(iface.segment), ipv4_address=str(iface.address.ip)
            )

    def _put_node_files(self, host: Host, rec: ContainerRecord, impl: Impl) -> None:
        state = self._require()
        tar = docker_nodefiles.node_overlay_tar(
            self.topo,
            host,
            impl,
            state.profile,
            state.overrides,
            Path(state.config_dir) if state.config_dir else None,
        )
        self.api.api.put_archive(rec.container, "/", tar)

    def _boot(self, name: str) -> None:
        rec = self._rec(name)
        self.api.api.start(rec.container)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            info = self.api.api.inspect_container(rec.container)["State"]
            if not info["Running"]:
                logs = self.api.api.logs(rec.container, tail=10).decode(errors="replace")
                raise LabError(f"{name}: container exited at boot: {logs.strip()}")
            rec.init = ProcessId.of(int(info["Pid"]))
            if rec.init is not None and (Path(f"/proc/{rec.init.pid}/root") / BOOTED).exists():
                self._save()
                return
            time.sleep(0.02)
        raise LabError(f"{name}: not booted after {BOOT_TIMEOUT:.0f} s")

    # -- tear-down -------------------------------------------------------------
    def down(self) -> list[str]:
        """Remove every container and network the state records; safe to call again."""
        import docker.errors

        state = self.state or DockerState.load(self.state_file)
        if state is None:
            return []
        removed: list[str] = []
        api = self._api or docker_engine.client(state.engine)
        for rec in state.nodes.values():
            with contextlib.suppress(docker.errors.NotFound):
                api.api.remove_container(rec.container, force=True)
                removed.append(rec.container)
        for network in reversed(state.networks):
            with contextlib.suppress(docker.errors.NotFound):
                api.api.remove_network(network)
                removed.append(network)
        for rec in state.nodes.values():
            shutil.rmtree(Path(rec.log_dir).parent, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        for leftover in (self.state_dir / "nodes", self.state_dir):
            with contextlib.suppress(OSError):
                leftover.rmdir()  # only if empty: never remove what we did not make
        self.state = None
        if api is not self._api:
            api.close()
        self.close()
        return removed

    # -- queries ---------------------------------------------------------------
    def _require(self) -> DockerState:
        if self.state is None:
            raise LabError("the docker lab is not up (run: hblab --backend docker up)")
        return self.state

    def require_up(self) -> DockerState:
        return self._require()

    def _rec(self, name: str) -> ContainerRecord:
        state = self._require()
        if name not in state.nodes:
            raise LabError(f"unknown node {name!r} (nodes: {', '.join(state.nodes)})")
        return state.nodes[name]

    def _host(self, name: str) -> Host:
        host = self.topo.host(name)
        if host is None:
            raise LabError(f"unknown node {name!r}")
        return host

    def interface(self, name: str, iface: str) -> None:
        """Check that node ``name`` has interface ``iface`` (one-line error if not)."""
        if self._host(name).interface(iface) is None:
            names = ", ".join(i.name for i in self._host(name).interfaces)
            raise LabError(f"{name} has no interface {iface!r} (it has {names})")

    def _on(self, name: str) -> ContainerRecord:
        rec = self._rec(name)
        if rec.init is None or not rec.init.alive():
            raise LabError(f"{name} is powered off")
        return rec

    def _node_record(self, rec: ContainerRecord) -> NodeRecord:
        """The netns lab's record of a node, for the helpers that only need its init."""
        node = NodeRecord(rec.name, rec.netns, str(Path(rec.log_dir).parent), rec.impl)
        node.init = rec.init
        node.power = "on" if rec.netns else "off"
        return node

    def vip_holders(self) -> list[str]:
        state = self._require()
        holders = []
        for host in self.topo.cluster_nodes:
            netns = state.nodes[host.name].netns
            if netns and wiring.has_address(netns, self.topo.vip.ip):
                holders.append(host.name)
        return holders

    def status(self) -> dict[str, Any]:
        state = self._require()
        result: dict[str, Any] = {
            "backend": self.backend,
            "profile": state.profile,
            "vip": str(self.topo.vip.ip),
            "vip_holders": self.vip_holders(),
            "engine": state.engine,
            "source": state.source,
            "nodes": {},
        }
        for host in self.topo.hosts:
            result["nodes"][host.name] = self._node_status(host, state.nodes[host.name])
        return result

    def _node_status(self, host: Host, rec: ContainerRecord) -> dict[str, Any]:
        netns = rec.netns
        info: dict[str, Any] = {
            "role": host.role.value,
            "power": "on" if netns else "off",
            "impl": rec.impl,
            "netns": netns or None,
            "container": rec.container,
            "addresses": wiring.addresses(netns) if netns else {},
            "links": wiring.link_states(netns) if netns else {},
        }
        if host.role is Role.CLUSTER_NODE:
            pid = nodes.daemon_host_pid(self._node_record(rec)) if netns else None
            info["daemon"] = "running" if pid else "stopped"
            info["daemon_pid"] = pid
        return info

    # -- commands in nodes -----------------------------------------------------
    def run(
        self, name: str, argv: list[str], timeout: float = 60.0, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node (docker exec) and collect its output."""
        self._host(name)
        rec = self._on(name)
        low = self.api.api
        wrapped = ["timeout", "-k", "5", f"{timeout}", *argv]
        started = time.monotonic()
        exec_id = low.exec_create(
            rec.container, wrapped, environment=nodes.NODE_ENV, workdir="/root"
        )
        out, err = low.exec_start(exec_id, demux=True)
        code = int(low.exec_inspect(exec_id)["ExitCode"])
        stdout = (out or b"").decode(errors="replace")
        stderr = (err or b"").decode(errors="replace")
        if code in (124, 137) and time.monotonic() - started >= timeout:
            raise subprocess.TimeoutExpired(argv, timeout, stdout, stderr)
        if check and code != 0:
            raise LabError(
                f"{name}: {' '.join(argv)} failed ({code}): {stderr.strip() or stdout.strip()}"
            )
        return subprocess.CompletedProcess(argv, code, stdout, stderr)

    def exec_interactive(self, name: str, argv: list[str]) -> int:
        """A terminal inside the node: nsenter into the container's namespaces."""
        self._host(name)
        rec = self._on(name)
        assert rec.init is not None
        env = {**nodes.NODE_ENV, **({"TERM": os.environ["TERM"]} if "TERM" in os.environ else {})}
        # -r/-w without a value: the container's root and its init's cwd (/root), not
        # this machine's paths, which the container's mount namespace cannot reach.
        enter = ["nsenter", "-t", str(rec.init.pid), "-n", "-m", "-u", "-i", "-p", "-r", "-w"]
        return subprocess.call([*enter, "env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv])

    def service(self, name: str, service: str, verb: str) -> subprocess.CompletedProcess[str]:
        return self.run(name, ["service", service, verb], timeout=120, check=verb != "status")

    def node_file(self, name: str, path: str) -> Path:
        rec = self._on(name)
        assert rec.init is not None
        return Path(f"/proc/{rec.init.pid}/root") / path.lstrip("/")

    def log_dir(self, name: str) -> Path:
        return Path(self._rec(name).log_dir)

    def netns_of(self, name: str) -> str:
        return self._on(name).netns

    # -- faults ----------------------------------------------------------------
    def poweroff(self, name: str) -> None:
        """Pull the plug: SIGKILL the container (all its processes, links and the VIP)."""
        self._host(name)
        rec = self._rec(name)
        if rec.init is not None and rec.init.alive():
            self.api.api.kill(rec.container, signal="SIGKILL")
            if not wait_gone([rec.init], STOP_TIMEOUT):
                raise LabError(f"{name}: still running after SIGKILL")
        self._wait_stopped(rec)
        rec.init = None
        self._save()

    def _wait_stopped(self, rec: ContainerRecord) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not self.api.api.inspect_container(rec.container)["State"]["Running"]:
                return
            time.sleep(0.02)
        raise LabError(f"{rec.name}: Docker still reports the container running")

    def poweron(self, name: str, start_daemon: bool = True) -> None:
        host, rec = self._host(name), self._rec(name)
        if rec.init is not None and rec.init.alive():
            raise LabError(f"{name} is already on")
        self._boot(name)
        if start_daemon and host.role is Role.CLUSTER_NODE:
            self.service(name, "heartbeat", "start")

    def crash(self, name: str) -> list[int]:
        """kill -9 the heartbeat daemon (and its children) only; resources stay."""
        self._host(name)
        tree = nodes.daemon_tree(self._node_record(self._on(name)))
        if not tree:
            raise LabError(f"no heartbeat daemon runs on {name}")
        ids = [p for p in (ProcessId.of(pid) for pid in tree) if p is not None]
        for pid in ids:
            pid.kill(signal.SIGKILL)
        wait_gone(ids, 5.0)
        return tree

    def link(self, name: str, iface: str, up: bool) -> None:
        self.interface(name, iface)
        self.run(name, ["ip", "link", "set", iface, "up" if up else "down"], check=True)

    def netem(self, name: str, iface: str, params: dict[str, str] | None) -> None:
        """tc netem inside the node, on its side of the cable; ``None`` clears it."""
        self.interface(name, iface)
        if params is None:
            self.run(name, ["tc", "qdisc", "del", "dev", iface, "root"])  # nothing to clear: fine
            return
        args: list[str] = []
        for key in NETEM_KEYS:
            if key in params:
                args += [key, params[key]]
        done = self.run(name, ["tc", "qdisc", "replace", "dev", iface, "root", "netem", *args])
        if done.returncode != 0:
            raise LabError(f"tc netem failed: {done.stderr.strip()}")

    def capture(
        self, name: str, iface: str, out: Path, seconds: float | None, bpf: str = ""
    ) -> int:
        """tcpdump in the node's network namespace into ``out`` (a file on this machine)."""
        self.interface(name, iface)
        netns = self.netns_of(name)
        cmd = [
            "nsenter",
            f"--net={netns}",
            "tcpdump",
            "-U",
            "-q",
            "-n",
            "-i",
            iface,
            "-w",
            str(out),
        ]
        if seconds is not None:
            cmd = ["timeout", "--signal=INT", f"{seconds}", *cmd]
        if bpf:
            cmd += bpf.split()
        rc = subprocess.call(cmd)
        return 0 if seconds is not None and rc == 124 else rc

    # -- helpers ---------------------------------------------------------------
    def _save(self) -> None:
        if self.state is not None:
            self.state.save(self.state_file)

    def wait_for(self, predicate: Any, timeout: float, interval: float = 0.05) -> bool:
        """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
