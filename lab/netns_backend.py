"""The netns backend: the topology in network namespaces (pyroute2; no Docker).

Each host is a named namespace ``<prefix>-<host>`` cabled into bridges that live in
the lab's own switch namespace ``<prefix>-sw``, with its own init (lab.nodeinit) in
private mount, UTS and PID namespaces over overlays of this machine's files.
Nothing is added to the machine's root namespace.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

from lab import centos, cleanup, rootfs, sshkeys, wiring
from lab import node as nodes
from lab.errors import LabError
from lab.impls import Impl, missing_programs
from lab.labcore import LabBase
from lab.proc import wait_gone
from lab.source import source_info
from lab.state import STATE_DIR, LabState, NodeRecord
from lab.topology import REFERENCE, Host, Topology


class NetnsLab(LabBase):
    backend = "netns"

    def __init__(self, topo: Topology = REFERENCE, state_dir: Path = STATE_DIR) -> None:
        super().__init__(topo, state_dir)

    # -- bring-up --------------------------------------------------------------
    def _preflight(self, impls: set[Impl]) -> None:
        missing = missing_programs(impls)
        if missing:
            raise LabError("missing on this machine: " + ", ".join(missing) + " (run make lab)")

    def _describe(self, state: LabState) -> None:
        state.source = source_info().to_json()

    def _build(self, impls: dict[str, Impl]) -> None:
        state = self.require_up()
        keys = self._blank_keys() if state.blank else {}
        self._create_ns(self.topo.switch_netns)
        wiring.build_switch(self.topo)
        for host in self.topo.hosts:
            impl = impls.get(host.name)
            rec = NodeRecord(
                host.name,
                str(self.state_dir / "nodes" / host.name),
                impl.value if impl else None,
                netns=self.topo.netns_of(host.name),
            )
            state.nodes[host.name] = rec
            self._create_ns(rec.netns)
            wiring.cable_host(self.topo, host)
            rootfs.prepare_node_dir(
                Path(rec.node_dir),
                self.topo,
                host,
                impl,
                state.profile,
                state.overrides,
                Path(state.config_dir) if state.config_dir else None,
                centos.blank_node(host, self.topo, keys) if host.name in keys else None,
            )
        for host in self.topo.hosts:
            self._start_init(host, state.nodes[host.name])

    def _blank_keys(self) -> dict[str, sshkeys.NodeKeys]:
        """Blank nodes run this machine's sshd, iptables, vim: refuse before building."""
        missing = centos.missing_packages()
        if missing:
            raise LabError(f"blank nodes need {', '.join(missing)} on this machine (run make deps)")
        return sshkeys.generate([h.name for h in self.topo.cluster_nodes])

    def _create_ns(self, name: str) -> None:
        self.require_up().namespaces.append(name)  # recorded before it exists: down finds it
        self._save()
        wiring.create_namespace(name)

    # -- hosts -----------------------------------------------------------------
    def _boot(self, host: Host, rec: NodeRecord) -> None:
        with wiring.in_netns(rec.netns) as ns:  # the power cut left the cables down
            for iface in host.interfaces:
                wiring.configure_interface(ns, iface, up=True)
        self._start_init(host, rec)

    def _start_init(self, host: Host, rec: NodeRecord) -> None:
        try:
            nodes.boot(rec, host.name)
        finally:
            self._save()

    def _power_off(self, rec: NodeRecord) -> None:
        nodes.kill(rec)

    def _after_power_off(self, host: Host, rec: NodeRecord) -> None:
        wiring.power_cut(self.topo, host)

    def _run(
        self, rec: NodeRecord, argv: list[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        return nodes.run(rec, argv, timeout=timeout)

    def _enter_argv(self, rec: NodeRecord, argv: list[str]) -> list[str]:
        return nodes.enter_argv(rec, argv)

    def _netns_ref(self, rec: NodeRecord) -> str:
        return rec.netns

    def _cable_far_end(self) -> str | None:
        return self.topo.switch_netns  # the bridges' side of every cable is the lab's

    def _node_extra(self, rec: NodeRecord) -> dict[str, str]:
        return {"netns": rec.netns}

    def _found_objects(self) -> list[str]:
        return [f"network namespace {n}" for n in cleanup.lab_namespaces(self.topo.prefix)]

    # -- tear-down -------------------------------------------------------------
    def _teardown(self, state: LabState) -> list[str]:
        pids = [p for rec in state.nodes.values() for p in (rec.init, rec.unshare) if p]
        for pid in pids:
            pid.kill(signal.SIGKILL)
        wait_gone(pids, 5.0)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid.pid, os.WNOHANG)  # reap it if it is our child
        removed: list[str] = []
        for name in reversed(state.namespaces):
            if name in wiring.existing_namespaces():
                wiring.remove_namespace(name)
                removed.append(name)
        return removed
