"""The netns backend: the reference topology in network namespaces (no Docker).

`NetnsLab` is the lab's API (Mininet's Net): `up()`, `down()`, `status()`, the
faults, and running commands in nodes. The CLI and the tests both drive it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from lab import faults, rootfs, wiring
from lab import node as nodes
from lab.errors import LabError
from lab.impls import Impl, missing_programs
from lab.proc import ProcessId, wait_gone
from lab.source import source_info
from lab.state import STATE_DIR, LabState, NodeRecord
from lab.topology import REFERENCE, Host, Role, Topology

NETEM_KEYS = faults.NETEM_KEYS


class NetnsLab:
    backend = "netns"

    def __init__(self, topo: Topology = REFERENCE, state_dir: Path = STATE_DIR) -> None:
        self.topo = topo
        self.state_dir = state_dir
        self.state_file = state_dir / "state.json"
        self.state = LabState.load(self.state_file)

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
            raise LabError("the lab is already up (hblab down first, or hblab status)")
        missing = missing_programs(set(impls.values()))
        if missing:
            raise LabError("missing on this machine: " + ", ".join(missing) + " (run make lab)")
        self.state = LabState(
            self.backend, profile, overrides or {}, str(config_dir) if config_dir else None
        )
        self.state.source = source_info().to_json()
        try:
            self._build(impls)
            if start_daemons:
                for host in self.topo.cluster_nodes:
                    self.service(host.name, "heartbeat", "start")
        except BaseException:
            self.down()
            raise

    def _build(self, impls: dict[str, Impl]) -> None:
        assert self.state is not None
        self._create_ns(self.topo.switch_netns)
        wiring.build_switch(self.topo)
        for host in self.topo.hosts:
            rec = NodeRecord(
                host.name,
                self.topo.netns_of(host.name),
                str(self.state_dir / "nodes" / host.name),
                impls.get(host.name),
            )
            self.state.nodes[host.name] = rec
            self._create_ns(rec.netns)
            wiring.cable_host(self.topo, host)
            rootfs.prepare_node_dir(
                Path(rec.node_dir),
                self.topo,
                host,
                Impl(rec.impl) if rec.impl else None,
                self.state.profile,
                self.state.overrides,
                Path(self.state.config_dir) if self.state.config_dir else None,
            )
        for host in self.topo.hosts:
            self._boot(host)

    def _create_ns(self, name: str) -> None:
        assert self.state is not None
        self.state.namespaces.append(name)  # recorded before it exists: down finds it
        self._save()
        wiring.create_namespace(name)

    def _boot(self, host: Host) -> None:
        rec = self._rec(host.name)
        try:
            nodes.boot(rec, host.name)
        finally:
            self._save()

    # -- tear-down -------------------------------------------------------------
    def down(self) -> list[str]:
        """Remove everything the state file records; safe to call again."""
        state = self.state or LabState.load(self.state_file)
        if state is None:
            return []
        removed: list[str] = []
        pids = list(state.extra_pids)
        for rec in state.nodes.values():
            pids += [p for p in (rec.init, rec.unshare) if p is not None]
        for pid in pids:
            pid.kill(signal.SIGKILL)
        wait_gone(pids, 5.0)
        for pid in pids:
            _reap(pid.pid)
        for name in reversed(state.namespaces):
            if name in wiring.existing_namespaces():
                wiring.remove_namespace(name)
                removed.append(name)
        for rec in state.nodes.values():
            rootfs.remove_node_dir(Path(rec.node_dir))
        self.state_file.unlink(missing_ok=True)
        for leftover in (self.state_dir / "nodes", self.state_dir):
            with contextlib.suppress(OSError):
                leftover.rmdir()  # only if empty: never remove what we did not make
        self.state = None
        return removed

    # -- queries ---------------------------------------------------------------
    def require_up(self) -> LabState:
        if self.state is None:
            raise LabError("the lab is not up (run: hblab up)")
        return self.state

    def _rec(self, name: str) -> NodeRecord:
        state = self.require_up()
        if name not in state.nodes:
            raise LabError(f"unknown node {name!r} (nodes: {', '.join(state.nodes)})")
        return state.nodes[name]

    def _host(self, name: str) -> Host:
        host = self.topo.host(name)
        if host is None:
            raise LabError(f"unknown node {name!r}")
        return host

    def _on(self, name: str) -> NodeRecord:
        rec = self._rec(name)
        if not nodes.is_on(rec):
            raise LabError(f"{name} is powered off")
        return rec

    def interface(self, name: str, iface: str) -> None:
        """Check that node ``name`` has interface ``iface`` (one-line error if not)."""
        if self._host(name).interface(iface) is None:
            names = ", ".join(i.name for i in self._host(name).interfaces)
            raise LabError(f"{name} has no interface {iface!r} (it has {names})")

    def vip_holders(self) -> list[str]:
        state = self.require_up()
        return [
            h.name
            for h in self.topo.cluster_nodes
            if wiring.has_address(state.nodes[h.name].netns, self.topo.vip.ip)
        ]

    def status(self) -> dict[str, Any]:
        state = self.require_up()
        result: dict[str, Any] = {
            "backend": self.backend,
            "profile": state.profile,
            "vip": str(self.topo.vip.ip),
            "vip_holders": self.vip_holders(),
            "source": state.source,
            "nodes": {},
        }
        for host in self.topo.hosts:
            result["nodes"][host.name] = self._node_status(host, state.nodes[host.name])
        return result

    def _node_status(self, host: Host, rec: NodeRecord) -> dict[str, Any]:
        on = nodes.is_on(rec)
        info: dict[str, Any] = {
            "role": host.role.value,
            "power": "on" if on else "off",
            "impl": rec.impl,
            "netns": rec.netns,
            "addresses": wiring.addresses(rec.netns),
            "links": wiring.link_states(rec.netns),
        }
        if host.role is Role.CLUSTER_NODE:
            pid = nodes.daemon_host_pid(rec) if on else None
            info["daemon"] = "running" if pid else "stopped"
            info["daemon_pid"] = pid
        return info

    # -- commands in nodes -----------------------------------------------------
    def run(
        self, name: str, argv: list[str], timeout: float = 60.0, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        self._host(name)
        return nodes.run(self._rec(name), argv, timeout=timeout, check=check)

    def exec_interactive(self, name: str, argv: list[str]) -> int:
        self._host(name)
        return subprocess.call(nodes.enter_argv(self._rec(name), argv))

    def service(self, name: str, service: str, verb: str) -> subprocess.CompletedProcess[str]:
        return self.run(name, ["service", service, verb], timeout=120, check=verb != "status")

    def node_file(self, name: str, path: str) -> Path:
        return nodes.node_path(self._rec(name), path)

    def log_dir(self, name: str) -> Path:
        return Path(self._rec(name).node_dir) / "log"

    # -- faults ----------------------------------------------------------------
    def poweroff(self, name: str) -> None:
        host, rec = self._host(name), self._rec(name)
        if nodes.is_on(rec):
            nodes.kill(rec)
        wiring.power_cut(self.topo, host)
        self._save()

    def poweron(self, name: str, start_daemon: bool = True) -> None:
        host, rec = self._host(name), self._rec(name)
        if nodes.is_on(rec):
            raise LabError(f"{name} is already on")
        with wiring.in_netns(rec.netns) as ns:
            for iface in host.interfaces:
                wiring.configure_interface(ns, iface, up=True)
        self._boot(host)
        if start_daemon and host.role is Role.CLUSTER_NODE:
            self.service(name, "heartbeat", "start")

    def crash(self, name: str) -> list[int]:
        """kill -9 the heartbeat daemon (and its children) only; resources stay."""
        self._host(name)
        tree = nodes.daemon_tree(self._on(name))
        if not tree:
            raise LabError(f"no heartbeat daemon runs on {name}")
        ids = [p for p in (ProcessId.of(pid) for pid in tree) if p is not None]
        for pid in ids:
            pid.kill(signal.SIGKILL)
        wait_gone(ids, 5.0)
        return tree

    def link(self, name: str, iface: str, up: bool) -> None:
        self.interface(name, iface)
        wiring.set_link(self._on(name).netns, iface, up)

    def netem(self, name: str, iface: str, params: dict[str, str] | None) -> None:
        """Loss/delay on the node's side of the cable (lab.faults); ``None`` clears it."""
        self.interface(name, iface)
        netns = self._on(name).netns
        if params is None:
            faults.clear(netns, iface)
            return
        faults.apply(netns, iface, params)

    def capture(
        self, name: str, iface: str, out: Path, seconds: float | None, bpf: str = ""
    ) -> int:
        """tcpdump on the node's interface into ``out``; returns tcpdump's exit code."""
        self.interface(name, iface)
        netns = self._on(name).netns
        cmd = [
            "ip",
            "netns",
            "exec",
            netns,
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


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
