"""What every lab backend does alike, written once (Mininet's one Node, many backends).

`LabBase` is the lab's public interface: the CLI, the bench, the soak, the fuzzer
and the tests use only it, so each runs on namespaces and on containers alike.
A backend (lab.netns_backend, lab.docker_backend) supplies the few hooks that
differ: check what it needs, build and tear down, boot and kill a host, run a
command in a host, and name a host's network namespace. Everything else — node
lookup, status, faults on links, captures, the daemon's processes, timers —
works on a host's network namespace (a name or a /proc path) and its init's PID,
which both backends have.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from hbnode.core.timers import Timers
from lab import bmc, faults, netsock, watchdogs, wiring
from lab import node as nodes
from lab.errors import LabError
from lab.hafiles import cluster_timers
from lab.impls import Impl
from lab.node import NodeError
from lab.proc import ProcessId, wait_gone
from lab.state import DOCKER_PARENT, LabState, NodeRecord, who_brings_it_up
from lab.topology import REFERENCE_FILE, Host, Role, Topology
from lab.topology import load as load_topology_file

SERVICE_TIMEOUT = 120.0
LOCK_FILE = "lock"  # beside state.json: one process at a time switches power


class LabBase(abc.ABC):
    """A lab of one topology: bring it up, break it, look at it, take it down."""

    backend: ClassVar[str]

    def __init__(self, topo: Topology, state_dir: Path) -> None:
        self.topo = topo
        self.state_dir = state_dir
        self.state_file = state_dir / "state.json"
        self._stamp = _stamp(self.state_file)
        self.state = LabState.load(self.state_file)
        self._lock_depth = 0
        if self.state is not None and self.state.topology:
            # A lab built from a topology file is driven by that file from then on.
            self.topo = load_topology_file(Path(self.state.topology))
        if self.state is not None and self.state.fencing:
            self.topo = bmc.fenced(self.topo)

    # == life ================================================================================
    def up(
        self,
        impls: dict[str, Impl],
        profile: str = "fast",
        overrides: dict[str, str] | None = None,
        config_dir: Path | None = None,
        start_daemons: bool = True,
        fencing: bool = False,
        blank: bool = False,
    ) -> None:
        """Build the topology, boot every host, start the daemons (unless told not to).

        ``fencing``: a BMC per node and the ``stonith_host`` lines (lab.bmc).
        ``blank``: the cluster nodes are the tutorial's machines before its first step
        (lab.centos): no /etc/ha.d files, and no daemon is started, now or at poweron.
        """
        if self.state is not None:
            raise LabError(
                f"the {self.backend} lab is already up (hblab down first, or hblab status)"
            )
        self._preflight(set(impls.values()))
        config = str(config_dir) if config_dir else None
        self.state = LabState(self.backend, profile, dict(overrides or {}), config)
        self.state.brought_up_by = who_brings_it_up()
        if fencing:
            self.topo, self.state.fencing = bmc.fenced(self.topo), True
        self.state.blank = blank
        if self.topo.source and Path(self.topo.source) != REFERENCE_FILE:
            self.state.topology = str(Path(self.topo.source).resolve())
        self._describe(self.state)
        try:
            self._build(impls)
            if fencing:
                from lab.bmc import launch

                launch.start(self)
            for host in self.topo.cluster_nodes:
                self._arm_watchdog(host, self.record(host.name))
            if start_daemons and not blank:
                # At once, as machines booted together start it: one after the other,
                # the second start can come after the first node's initdead on a busy
                # machine, and the lab would start alone what the user asked to start
                # together.
                names = [host.name for host in self.topo.cluster_nodes]
                self.service_at_once(names, "heartbeat", "start")
        except BaseException as exc:
            self.down()
            translated = self._translate(exc)
            if translated is not exc:
                raise translated from None
            raise

    def down(self) -> list[str]:
        """Remove everything the state file records; safe to call again."""
        with self.exclusive():  # not while a watchdog resets a node: it records as it goes
            state = self.state or LabState.load(self.state_file)
            if state is None:
                self._forget_state()  # the lock file, and our directory if it is empty
                return []
            self._kill_recorded(state)
            removed = self._teardown(state)
            for rec in state.nodes.values():
                shutil.rmtree(rec.node_dir, ignore_errors=True)
            if state.fencing:
                shutil.rmtree(self.state_dir / "bmc", ignore_errors=True)
            self._forget_state()
            return removed

    @property
    def is_up(self) -> bool:
        return self.state is not None

    def require_up(self) -> LabState:
        self._refresh()
        if self.state is None:
            hint = "hblab up" if self.backend == "netns" else f"hblab --backend {self.backend} up"
            raise LabError(f"the {self.backend} lab is not up (run: {hint})")
        return self.state

    # == hosts ===============================================================================
    def host(self, name: str) -> Host:
        host = self.topo.host(name)
        if host is None:
            names = ", ".join(h.name for h in self.topo.hosts)
            raise LabError(f"unknown node {name!r} (nodes: {names})")
        return host

    def record(self, name: str) -> NodeRecord:
        self.host(name)
        self._refresh()
        state = self.require_up()
        if name not in state.nodes:
            raise LabError(f"unknown node {name!r} (nodes: {', '.join(state.nodes)})")
        return state.nodes[name]

    def require_on(self, name: str) -> NodeRecord:
        rec = self.record(name)
        if not rec.on:
            raise NodeError(f"{name} is powered off")
        return rec

    def is_on(self, name: str) -> bool:
        return self.record(name).on

    def interface(self, name: str, iface: str) -> None:
        """Check that node ``name`` has interface ``iface`` (one-line error if not)."""
        host = self.host(name)
        if host.interface(iface) is None:
            names = ", ".join(i.name for i in host.interfaces)
            raise LabError(f"{name} has no interface {iface!r} (it has {names})")

    def netns_of(self, name: str) -> str:
        """The host's network namespace, as lab.netsock and pyroute2 take it."""
        return self._netns_ref(self.require_on(name))

    def init_pid(self, name: str) -> int | None:
        """This machine's PID of the host's init (PID 1 inside it), if it runs."""
        rec = self.record(name)
        return rec.init.pid if rec.init is not None and rec.on else None

    def daemon_pid(self, name: str) -> int | None:
        """This machine's PID of the heartbeat daemon on ``name``, if it runs."""
        return nodes.daemon_host_pid(self.record(name))

    def daemon_tree(self, name: str) -> list[int]:
        """This machine's PIDs of the daemon and its children (not its resources)."""
        return nodes.daemon_tree(self.record(name))

    def node_file(self, name: str, path: str) -> Path:
        """A path as the node sees it (through its init's root: its own mounts)."""
        return nodes.node_path(self.require_on(name), path)

    def log_dir(self, name: str) -> Path:
        """The node's /var/log, readable from here even while the node is off."""
        return self.record(name).log_dir

    def timers(self) -> Timers:
        """The timers the nodes run with: their ha.cf, read by hbnode's own parser."""
        state = self.require_up()
        config = Path(state.config_dir) if state.config_dir else None
        return cluster_timers(self.topo, state.profile, state.overrides, config)

    # == looking =============================================================================
    def vip_holders(self) -> list[str]:
        self.require_up()
        return [h.name for h in self.topo.cluster_nodes if self._holds_vip(h.name)]

    def _holds_vip(self, name: str) -> bool:
        if not self.is_on(name):
            return False
        try:
            return wiring.has_address(self.netns_of(name), self.topo.vip.ip)
        except (FileNotFoundError, NodeError):
            # The node went off between the look at its record and the open: a BMC
            # reset or powered it off from outside this process. Either its namespace
            # is gone (a container's /proc/PID/ns/net goes with its init), or
            # netns_of reread the record, rewritten by the reset, and found it off.
            # Off, no address.
            return False

    def status(self) -> dict[str, Any]:
        state = self.require_up()
        result: dict[str, Any] = {
            "backend": self.backend,
            "profile": state.profile,
            "vip": str(self.topo.vip.ip),
            "vip_holders": self.vip_holders(),
            "source": state.source,
            "brought_up_by": state.brought_up_by,
            **self._status_extra(state),
            "nodes": {},
        }
        for host in self.topo.hosts:
            result["nodes"][host.name] = self._node_status(host, state.nodes[host.name])
        return result

    def _node_status(self, host: Host, rec: NodeRecord) -> dict[str, Any]:
        on = rec.on
        try:
            netns = self._netns_ref(rec) if on else None
        except NodeError:  # on, with its init not started yet: a reset under way
            netns = None
        info: dict[str, Any] = {
            "role": host.role.value,
            "power": "on" if on else "off",
            "impl": rec.impl,
            "netns": netns if netns is not None else (rec.netns or None),
            **self._node_extra(rec),
            "addresses": wiring.addresses(netns) if netns else {},
            "links": wiring.link_states(netns) if netns else {},
        }
        if host.role is Role.CLUSTER_NODE:
            pid = nodes.daemon_host_pid(rec) if on else None
            info["daemon"] = "running" if pid else "stopped"
            info["daemon_pid"] = pid
        if host.role is Role.BMC:
            from lab.bmc import launch

            info["bmc"] = launch.bmc_status(self, host)
        return info

    # == commands in nodes ===================================================================
    def run(
        self, name: str, argv: list[str], timeout: float = 60.0, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node and collect its output."""
        done = self._run(self.require_on(name), argv, timeout)
        if check and done.returncode != 0:
            raise NodeError(
                f"{name}: {' '.join(argv)} failed ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
        return done

    def exec_interactive(self, name: str, argv: list[str]) -> int:
        """A command on this terminal, inside the node (``hblab shell``/``exec``)."""
        return subprocess.call(self._enter_argv(self.require_on(name), argv))

    def service(self, name: str, service: str, verb: str) -> subprocess.CompletedProcess[str]:
        """``service SERVICE VERB`` in the node, as the tutorial types it."""
        return self.run(name, ["service", service, verb], SERVICE_TIMEOUT, check=verb != "status")

    def service_at_once(self, names: list[str], service: str, verb: str) -> None:
        """``service SERVICE VERB`` on several nodes at the same moment, one thread each,
        as two admins at two terminals: a start-up test means both daemons starting
        together, which one call after the other is not on a busy machine. The first
        error is raised once all have returned."""
        with ThreadPoolExecutor(len(names), thread_name_prefix="service") as pool:
            calls = [pool.submit(self.service, name, service, verb) for name in names]
            for call in calls:
                call.result()

    # == faults ==============================================================================
    def poweroff(self, name: str) -> None:
        """Pull the plug: every process dies, the links go down, the VIP is gone."""
        with self.exclusive():
            host, rec = self.host(name), self.record(name)
            if rec.on:
                self._power_off(rec)
            rec.init = rec.unshare = None
            self._after_power_off(host, rec)
            watchdogs.stop(rec)  # the device has no power either
            self._save()

    def poweron(self, name: str, start_daemon: bool = True) -> None:
        with self.exclusive():
            host, rec = self.host(name), self.record(name)
            if rec.on:
                raise LabError(f"{name} is already on")
            self._boot(host, rec)
            self._save()
            self._arm_watchdog(host, rec)
            # A blank node's heartbeat starts when the student says so (no chkconfig on).
            blank = self.state is not None and self.state.blank
            cluster_node = host.role is Role.CLUSTER_NODE and rec.impl is not None
            if start_daemon and cluster_node and not blank:
                self.service(name, "heartbeat", "start")

    def reset(self, name: str, boot: ProcessId | None = None) -> bool:
        """What a hardware reset does: power off, then on (heartbeat starts at boot).

        With ``boot`` (the node's init when the watchdog ran out), only if that boot
        still runs: False when the node was powered off or restarted meanwhile.
        """
        with self.exclusive():
            rec = self.record(name)
            if boot is not None and (rec.init != boot or not rec.on):
                return False
            self.poweroff(name)
            self.poweron(name)
            return True

    def _arm_watchdog(self, host: Host, rec: NodeRecord) -> None:
        """ha.cf's ``watchdog DEVICE``: the lab's device there, before the daemon starts."""
        if host.role is not Role.CLUSTER_NODE or rec.impl is None:
            return
        path = watchdogs.configured(nodes.node_path(rec, "/etc/ha.d/ha.cf"))
        if path is None:
            return
        rec.watchdog = watchdogs.start(
            self.backend, self.state_dir, self.topo.prefix, rec, self._netns_ref(rec), path
        )
        self._save()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lab's lock (re-entrant): one process at a time changes power, since
        the lab's watchdog resets nodes from a process of its own."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        if not self.state_dir.is_dir():  # no lab: nothing to guard, and nothing to leave
            self._refresh()
            yield
            return
        with (self.state_dir / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._lock_depth = 1
            try:
                self._refresh()
                yield
            finally:
                self._lock_depth = 0

    def _refresh(self) -> None:
        """Read the record again if another process rewrote it (a watchdog's reset)."""
        stamp = _stamp(self.state_file)
        if stamp != self._stamp:
            self.state, self._stamp = LabState.load(self.state_file), stamp

    def crash(self, name: str) -> list[int]:
        """kill -9 the heartbeat daemon (and its children) only; resources stay."""
        tree = nodes.daemon_tree(self.require_on(name))
        if not tree:
            raise LabError(f"no heartbeat daemon runs on {name}")
        ids = [p for p in (ProcessId.of(pid) for pid in tree) if p is not None]
        for pid in ids:
            pid.kill(signal.SIGKILL)
        wait_gone(ids, 5.0)
        return tree

    def link(self, name: str, iface: str, up: bool) -> None:
        """Pull or replug the node's cable on ``iface``.

        Where the backend reaches the cable's other end, that end goes down: the node's
        interface loses its carrier and stays up, its route stays, and what it sends
        vanishes without an error, as on a real machine. Otherwise the node's own
        interface goes down: its route goes with it and sends fail with ENETUNREACH,
        which the real Heartbeat logs as an ERROR at every send.
        """
        self.interface(name, iface)
        far_end = self._cable_far_end()
        if far_end is not None:
            wiring.set_carrier(self.netns_of(name), iface, far_end, up)
        else:
            wiring.set_link(self.netns_of(name), iface, up)

    def replug(self, name: str, iface: str, timeout: float) -> None:
        """Plug the node's cable back as soon as the node is on.

        A reset reboots a machine but plugs no cable back, and a node that is off (or
        being reset again) has no side of the cable to reach: the operator's hand
        waits until it is on. LabError if it is not on within ``timeout``.
        """

        last: list[LabError] = []

        def plugged() -> bool:
            try:
                self.link(name, iface, up=True)
            except LabError as exc:  # off, for now (NodeError; a stopped container)
                last[:] = [exc]
                return False
            return True

        if not self.wait_for(plugged, timeout):
            why = f": {last[0]}" if last else ""
            raise LabError(f"{name}'s {iface} not plugged back within {timeout:g} s{why}")

    @property
    def pulls_carrier(self) -> bool:
        """Does ``link`` cut the carrier (True) or set the node's interface down?"""
        return self._cable_far_end() is not None

    def netem(self, name: str, iface: str, params: dict[str, str] | None) -> None:
        """Loss/delay on the node's side of the cable (lab.faults); ``None`` clears it."""
        self.interface(name, iface)
        netns = self.netns_of(name)
        if params is None:
            faults.clear(netns, iface)
        else:
            faults.apply(netns, iface, params)

    def capture(
        self, name: str, iface: str, out: Path, seconds: float | None, bpf: str = ""
    ) -> int:
        """tcpdump on the node's interface into ``out`` (a file on this machine)."""
        self.interface(name, iface)
        cmd = capture_argv(self.netns_of(name), iface, out, bpf)
        if seconds is not None:
            cmd = ["timeout", "--signal=INT", f"{seconds}", *cmd]
        rc = subprocess.call(cmd)
        return 0 if seconds is not None and rc == 124 else rc

    # == processes the lab starts beside the nodes ===========================================
    def track(self, pid: ProcessId) -> None:
        """Record a helper process (a capture) so that `down` kills it whatever happens."""
        with self.exclusive():  # the record as it is now, not as this object last read it
            state = self.require_up()
            state.extra_pids.append(pid)
            self._save()

    def untrack(self, pid: ProcessId) -> None:
        # Read afresh under the lock: a lab taken down meanwhile must not be written back.
        with self.exclusive():
            if self.state is not None and pid in self.state.extra_pids:
                self.state.extra_pids.remove(pid)
                self._save()

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float, interval: float = 0.05
    ) -> bool:
        """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def _save(self) -> None:
        if self.state is not None:
            self.state.save(self.state_file)
            self._stamp = _stamp(self.state_file)

    def _kill_recorded(self, state: LabState) -> None:
        """SIGKILL the helper processes the record names, and wait for them."""
        pids = list(state.extra_pids)
        pids += [rec.watchdog for rec in state.nodes.values() if rec.watchdog is not None]
        pids = [pid for pid in pids if pid.pid != os.getpid()]  # a watchdog's own reset
        for pid in pids:
            pid.kill(signal.SIGKILL)
        wait_gone(pids, 5.0)

    def _forget_state(self) -> None:
        """The record is done with: remove it, and our directories if they are empty."""
        self.state_file.unlink(missing_ok=True)
        (self.state_dir / LOCK_FILE).unlink(missing_ok=True)
        self._stamp = None
        # The shared parent of the docker labs' state too, when this was its last lab.
        shared = [DOCKER_PARENT] if self.state_dir.parent == DOCKER_PARENT else []
        for leftover in (self.state_dir / "nodes", self.state_dir, *shared):
            with contextlib.suppress(OSError):
                leftover.rmdir()  # only if empty: never remove what we did not make
        self.state = None

    def leftovers(self) -> list[str]:
        """What of a lab of this prefix exists on the machine, found without the record
        (after `down`, nothing should)."""
        found = self._found_objects()
        if (self.state_dir / "nodes").exists():
            found.append(f"{self.state_dir / 'nodes'} still exists")
        return found

    # == what a backend supplies =============================================================
    @abc.abstractmethod
    def _preflight(self, impls: set[Impl]) -> None:
        """Refuse (LabError) before anything is made if something needed is missing."""

    @abc.abstractmethod
    def _describe(self, state: LabState) -> None:
        """Fill in what the record says about the lab as a whole (source, engine)."""

    @abc.abstractmethod
    def _build(self, impls: dict[str, Impl]) -> None:
        """Create the segments and hosts, record each before it exists, boot them all."""

    @abc.abstractmethod
    def _boot(self, host: Host, rec: NodeRecord) -> None:
        """Start the host's init and wait until it is ready; set ``rec.init``."""

    @abc.abstractmethod
    def _power_off(self, rec: NodeRecord) -> None:
        """Kill every process of the host at once."""

    @abc.abstractmethod
    def _after_power_off(self, host: Host, rec: NodeRecord) -> None:
        """What else a power cut does to the host (its links, its addresses)."""

    @abc.abstractmethod
    def _run(
        self, rec: NodeRecord, argv: list[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the host; a timeout raises subprocess.TimeoutExpired."""

    @abc.abstractmethod
    def _enter_argv(self, rec: NodeRecord, argv: list[str]) -> list[str]:
        """The command line that runs ``argv`` inside the host on this terminal."""

    @abc.abstractmethod
    def _netns_ref(self, rec: NodeRecord) -> str:
        """The host's network namespace: a name (`ip netns`) or a /proc path."""

    @abc.abstractmethod
    def _teardown(self, state: LabState) -> list[str]:
        """Kill the hosts and remove the segments the record names; what was removed."""

    @abc.abstractmethod
    def _found_objects(self) -> list[str]:
        """This prefix's hosts and segments that exist now, found by name and label."""

    def _cable_far_end(self) -> str | None:
        """The network namespace that holds the other end of every node's cables, if
        the lab may touch it (never the machine's own)."""
        return None

    def _status_extra(self, state: LabState) -> dict[str, Any]:
        return {}

    def _node_extra(self, rec: NodeRecord) -> dict[str, Any]:
        return {}

    def _translate(self, exc: BaseException) -> BaseException:
        """A backend's own error type as a LabError (one line for the CLI)."""
        return exc


def _stamp(path: Path) -> tuple[int, int] | None:
    """Which version of the record is on disk (state.save replaces the file)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns)


def capture_argv(netns: str, iface: str, out: Path, bpf: str = "") -> list[str]:
    """tcpdump on ``iface`` inside ``netns`` (name or path), writing ``out``."""
    argv = ["nsenter", f"--net={netsock.netns_path(netns)}"]
    argv += ["tcpdump", "-U", "-q", "-n", "-i", iface, "-w", str(out)]
    return argv + (bpf.split() if bpf else [])
