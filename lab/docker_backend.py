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
  with NET_ADMIN and NET_RAW (cluster nodes: IPC_LOCK and SYS_NICE too, and an
  unlimited RLIMIT_MEMLOCK and a real-time budget when the engine can grant them:
  lab.memlock, lab.rtsched), static addresses, tini as PID 1, a fresh tmpfs on
  /run and /tmp at every boot, and /var/log bound to a directory of the lab's
  state (logs survive a power cut and can be read while the node is off).

Faults: ``poweroff`` is ``docker kill`` (every process dies, the interfaces and
the VIP go with the container's network namespace); ``poweron`` starts it again.
Cables are cut by setting the container's veth end in the private engine's namespace
down (the container's interface loses its carrier), or under a system engine with
``ip link`` inside the container (a network disconnect would bring the interface
back under another name); netem is ``tc`` inside it. Sockets for probes, status and
captures enter the container's namespace by path
(``/proc/PID/ns/net``), as lab.netsock already does for named namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab import centos, cleanup, docker_engine, docker_nodefiles, memlock, rtsched, sshkeys
from lab import node as nodes
from lab.compose import IMAGE_OF_ROLE, gateway_of, host_environment
from lab.docker_images import LABEL, SOURCE_LABEL, image_name
from lab.errors import LabError
from lab.impls import Impl
from lab.labcore import LabBase
from lab.proc import ProcessId, wait_gone
from lab.state import DOCKER_STATE_DIR, LabState, NodeRecord
from lab.topology import REFERENCE, Host, Role, Segment, Topology

BOOT_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
BOOTED = "run/hblab-booted"  # hblab-boot/hblab-netboot touch it once the host is ready


class DockerLab(LabBase):
    backend = "docker"

    def __init__(
        self,
        topo: Topology = REFERENCE,
        state_dir: Path = DOCKER_STATE_DIR,
        images: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(topo, state_dir)
        self.prefix = f"{topo.prefix}-d"
        self._api: Any = None
        # Image kind (node, gateway, client) → image, instead of hblab-d-KIND:latest:
        # the package tests run nodes with hbnode installed from its .deb (lab.pkg_images).
        self.images = dict(images or {})

    def image(self, kind: str) -> str:
        return self.images.get(kind) or image_name(kind)

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
    def _preflight(self, impls: set[Impl]) -> None:
        url = docker_engine.engine_url()
        if not docker_engine.reachable(url):
            raise LabError(f"no Docker engine at {url} (make engine-start starts a private one)")
        import docker.errors

        for kind in sorted(set(IMAGE_OF_ROLE.values())):
            try:
                self.api.images.get(self.image(kind))
            except docker.errors.ImageNotFound:
                raise LabError(f"image {self.image(kind)} is missing (run: make images)") from None

    def _describe(self, state: LabState) -> None:
        state.engine = docker_engine.engine_url()
        # Which hbnode the node image holds: the label `make images` stamped on it.
        labels = self.api.images.get(self.image("node")).labels or {}
        with contextlib.suppress(ValueError):
            state.source = dict(json.loads(labels.get(SOURCE_LABEL, "{}")))

    def _translate(self, exc: BaseException) -> BaseException:
        import docker.errors

        if isinstance(exc, docker.errors.APIError):
            # e.g. "Pool overlaps": a compose.yaml lab holds the same subnets.
            return LabError(f"Docker refused: {exc.explanation or exc}")
        return exc

    def _build(self, impls: dict[str, Impl]) -> None:
        state = self.require_up()
        keys = sshkeys.generate([h.name for h in self.topo.cluster_nodes]) if state.blank else {}
        for seg in self.topo.segments:
            state.networks.append(self.network_name(seg.name))  # recorded before it exists
            self._save()
            self._create_network(seg)
        for host in self.topo.hosts:
            impl = impls.get(host.name)
            rec = NodeRecord(
                host.name,
                str(self.state_dir / "nodes" / host.name),
                impl.value if impl else None,
                container=self.container_name(host.name),
            )
            state.nodes[host.name] = rec
            self._save()
            rec.log_dir.mkdir(parents=True, exist_ok=True)
            blank = centos.blank_node(host, self.topo, keys) if host.name in keys else None
            self._create_container(host, rec, blank is not None)
            if impl is not None:
                self._put_node_files(host, rec, impl, blank)
        for host in self.topo.hosts:
            self._boot(host, state.nodes[host.name])

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

    def _create_container(self, host: Host, rec: NodeRecord, blank: bool = False) -> None:
        low = self.api.api
        first, *others = host.interfaces
        extra_hosts = {
            h.name: str(addr.ip)
            for h in self.topo.hosts
            if (addr := h.address_on("eth0") or h.address_on("eth1")) is not None
        }
        caps = ["NET_ADMIN", "NET_RAW"]
        env = {"HB_AUTOSTART": "no", **host_environment(self.topo, host)}
        if blank:
            # The tutorial's machines: CentOS's name, and /etc/hosts without the others
            # (step 4 adds them). SYS_ADMIN lets hblab-boot set the name that
            # /etc/sysconfig/network gives at each boot (sethostname needs it).
            extra_hosts, caps = {}, [*caps, "SYS_ADMIN"]
            env["HB_BLANK"] = "yes"
            env["HBLAB_NODE"] = host.name  # the page through the VIP names the node
        host_config = low.create_host_config(
            cap_add=[*caps, *self._root_caps(host)],
            ulimits=self._memlock_ulimits(host),
            cpu_rt_runtime=rtsched.node_rt_runtime() if self._cluster(host) else None,
            tmpfs={"/run": "mode=0755", "/tmp": "mode=1777"},
            binds={str(rec.log_dir): {"bind": "/var/log", "mode": "rw"}},
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
            self.image(IMAGE_OF_ROLE[host.role]),
            name=rec.container,
            hostname=centos.BLANK_HOSTNAME if blank else host.name,
            # The lab starts heartbeat itself; names and MACs come from the topology.
            environment=env,
            labels={LABEL: "lab", "org.hblab.host": host.name},
            host_config=host_config,
            networking_config=networking,
            detach=True,
        )
        for iface in others:  # API 1.41 takes one network at create: connect the rest
            low.connect_container_to_network(
                rec.container, self.network_name(iface.segment), ipv4_address=str(iface.address.ip)
            )

    @staticmethod
    def _cluster(host: Host) -> bool:
        return host.role is Role.CLUSTER_NODE

    def _root_caps(self, host: Host) -> list[str]:
        """A cluster node locks its memory (lab.memlock) and runs Heartbeat under SCHED_RR
        (lab.rtsched) as root on a real host does."""
        return ["IPC_LOCK", "SYS_NICE"] if self._cluster(host) else []

    def _memlock_ulimits(self, host: Host) -> list[Any]:
        """``--ulimit memlock=-1`` for a cluster node, when the engine can grant it: an
        engine that cannot (its own limit is finite and it lacks CAP_SYS_RESOURCE)
        would refuse to start the container. An engine whose process we cannot read
        (on another machine) is not asked: a node that logs Heartbeat's memlock line
        (declared from the node's own limits, lab.badnews) beats one that never starts."""
        import docker.types

        if not self._cluster(host):
            return []
        pid = docker_engine.engine_pid(self.require_up().engine or docker_engine.engine_url())
        if pid is None or not memlock.grantable(memlock.of_process(pid)):
            return []
        return [docker.types.Ulimit(name="memlock", soft=-1, hard=-1)]

    def _put_node_files(
        self, host: Host, rec: NodeRecord, impl: Impl, blank: centos.BlankNode | None = None
    ) -> None:
        state = self.require_up()
        tar = docker_nodefiles.node_overlay_tar(
            self.topo,
            host,
            impl,
            state.profile,
            state.overrides,
            Path(state.config_dir) if state.config_dir else None,
            blank,
        )
        self.api.api.put_archive(rec.container, "/", tar)

    # -- hosts -----------------------------------------------------------------
    def _boot(self, host: Host, rec: NodeRecord) -> None:
        self.api.api.start(rec.container)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            info = self.api.api.inspect_container(rec.container)["State"]
            if not info["Running"]:
                logs = self.api.api.logs(rec.container, tail=10).decode(errors="replace")
                raise LabError(f"{host.name}: container exited at boot: {logs.strip()}")
            rec.init = ProcessId.of(int(info["Pid"]))
            if rec.init is not None and (Path(f"/proc/{rec.init.pid}/root") / BOOTED).exists():
                self._save()
                return
            time.sleep(0.02)
        raise LabError(f"{host.name}: not booted after {BOOT_TIMEOUT:.0f} s")

    def _power_off(self, rec: NodeRecord) -> None:
        """docker kill: SIGKILL the container (all its processes, links and the VIP)."""
        assert rec.init is not None
        self.api.api.kill(rec.container, signal="SIGKILL")
        if not wait_gone([rec.init], STOP_TIMEOUT):
            raise LabError(f"{rec.name}: still running after SIGKILL")
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not self.api.api.inspect_container(rec.container)["State"]["Running"]:
                return
            time.sleep(0.02)
        raise LabError(f"{rec.name}: Docker still reports the container running")

    def _after_power_off(self, host: Host, rec: NodeRecord) -> None:
        """Nothing more: the container's network namespace went with it (the VIP too)."""

    def _run(
        self, rec: NodeRecord, argv: list[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """docker exec, bounded by timeout(1) inside the container."""
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
        return subprocess.CompletedProcess(argv, code, stdout, stderr)

    def _enter_argv(self, rec: NodeRecord, argv: list[str]) -> list[str]:
        """nsenter into the container's namespaces; -r/-w without a value: the container's
        root and its init's cwd, not this machine's paths."""
        assert rec.init is not None
        env = {**nodes.NODE_ENV, **({"TERM": os.environ["TERM"]} if "TERM" in os.environ else {})}
        enter = ["nsenter", "-t", str(rec.init.pid), "-n", "-m", "-u", "-i", "-p", "-r", "-w"]
        return [*enter, "env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv]

    def _netns_ref(self, rec: NodeRecord) -> str:
        if rec.init is None or not rec.on:
            # A BMC reset rewrites the record while the container restarts: "on" with
            # no init yet. An empty path here once sent setns to /run/netns/ (EINVAL,
            # CI of 92d8d40); callers such as vip_holders read NodeError as off.
            raise nodes.NodeError(f"{rec.name} has no running init (powering off or on)")
        return f"/proc/{rec.init.pid}/ns/net"

    def _cable_far_end(self) -> str | None:
        """The private engine's namespace holds the bridges and the containers' veth ends;
        a system engine's are in the machine's root namespace, which the lab leaves alone."""
        state = self.require_up()
        private = state.engine == docker_engine.private_url()
        if private and Path(f"/run/netns/{docker_engine.ENGINE_NETNS}").exists():
            return docker_engine.ENGINE_NETNS
        return None

    def _status_extra(self, state: LabState) -> dict[str, Any]:
        return {"engine": state.engine}

    def _node_extra(self, rec: NodeRecord) -> dict[str, Any]:
        return {"container": rec.container}

    def _found_objects(self) -> list[str]:
        return [f"docker object {n}" for n in cleanup.docker_objects(self.topo.prefix)]

    # -- tear-down -------------------------------------------------------------
    def _teardown(self, state: LabState) -> list[str]:
        import docker.errors

        removed: list[str] = []
        api = self._api or docker_engine.client(state.engine)
        try:
            for rec in state.nodes.values():
                with contextlib.suppress(docker.errors.NotFound):
                    api.api.remove_container(rec.container, force=True)
                    removed.append(rec.container)
            for network in reversed(state.networks):
                with contextlib.suppress(docker.errors.NotFound):
                    api.api.remove_network(network)
                    removed.append(network)
        finally:
            if api is not self._api:
                api.close()
            self.close()
        return removed

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
