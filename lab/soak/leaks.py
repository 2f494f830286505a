"""What a long run may leak, seen from the host: a snapshot, and the diff of two.

A snapshot records, for the lab's own names and processes only (never anything
found by name across the machine): IPv4 addresses on every interface of every lab
namespace, the processes in each node's PID namespace, the open file descriptors
and threads of each node's heartbeat daemon (by kind: socket, pipe, a path…),
the lab's network namespaces, the host's mount lines that name the lab's paths,
the number of mounts inside each node, and the lab driver's own child processes.

The diff (:func:`diff`) is pure. Descriptors and threads only count when they
grow: a gratuitous-ARP burst holds a socket and a thread for ~10 s after a
takeover, so the caller retakes a snapshot until the diff is empty or a deadline
passes (:func:`settle`), and only what persists is a leak.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.cleanup import is_lab_namespace
from lab.proc import PROC, ProcessId, children, ns_pid_map, pid_namespace
from lab.state import LabState
from lab.topology import Role, Topology

if TYPE_CHECKING:  # the lab's interface, for the type only: leaks reads any lab
    from lab.backends import Lab

LABEL_WIDTH = 100  # a process is named by its command line, cut here


@dataclass
class Snapshot:
    addresses: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # netns→if→CIDRs
    processes: dict[str, dict[str, int]] = field(default_factory=dict)  # node→command→count
    fds: dict[str, dict[str, int]] = field(default_factory=dict)  # node→"cmd | kind"→count
    threads: dict[str, dict[str, int]] = field(default_factory=dict)  # node→command→threads
    rss_kib: dict[str, int] = field(default_factory=dict)  # node→daemon RSS (reported only)
    namespaces: list[str] = field(default_factory=list)
    host_mounts: list[str] = field(default_factory=list)
    node_mounts: dict[str, int] = field(default_factory=dict)
    driver_children: dict[str, int] = field(default_factory=dict)  # our own children

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- pure helpers ----------------------------------------------------------------------
def process_label(cmdline: bytes, comm: str, state: str = "") -> str:
    """A process as its command line shows it (Heartbeat sets titles such as
    ``heartbeat: write: ucast eth1``); a zombie or kernel thread as ``[comm]``."""
    argv = [a.decode(errors="replace") for a in cmdline.split(b"\0") if a]
    label = " ".join(argv)[:LABEL_WIDTH] if argv else f"[{comm.strip()}]"
    return f"{label} (zombie)" if state == "Z" else label


def fd_kind(target: str) -> str:
    """``socket:[123]`` → ``socket``; ``pipe:[9]`` → ``pipe``; a path stays a path."""
    for kind in ("socket", "pipe"):
        if target.startswith(f"{kind}:["):
            return kind
    return target.removesuffix(" (deleted)")


def expected_addresses(topo: Topology, holder: str | None) -> dict[str, dict[str, list[str]]]:
    """Every host's static addresses, and the VIP on the holder's VIP interface."""
    result: dict[str, dict[str, list[str]]] = {}
    for host in topo.hosts:
        per_if = {i.name: [str(i.address)] for i in host.interfaces}
        if host.name == holder:
            per_if[topo.vip_iface] = sorted([*per_if[topo.vip_iface], str(topo.vip)])
        result[topo.netns_of(host.name)] = per_if
    result[topo.switch_netns] = {}
    return result


def unexpected_addresses(
    expected: dict[str, dict[str, list[str]]], actual: dict[str, dict[str, list[str]]]
) -> list[str]:
    """Addresses that should not be there, or are missing (loopback is not judged)."""
    problems: list[str] = []
    for netns in sorted(set(expected) | set(actual)):
        want, have = expected.get(netns, {}), actual.get(netns, {})
        for ifname in sorted((set(want) | set(have)) - {"lo"}):
            extra = sorted(set(have.get(ifname, [])) - set(want.get(ifname, [])))
            missing = sorted(set(want.get(ifname, [])) - set(have.get(ifname, [])))
            problems += [f"{netns} {ifname}: unexpected address {a}" for a in extra]
            problems += [f"{netns} {ifname}: address {a} missing" for a in missing]
    return problems


def _counts(what: str, base: dict[str, int], now: dict[str, int], growth_only: bool) -> list[str]:
    lines = []
    for key in sorted(set(base) | set(now)):
        was, is_ = base.get(key, 0), now.get(key, 0)
        if is_ > was or (is_ < was and not growth_only):
            lines.append(f"{what}: {key}: {is_} (baseline {was})")
    return lines


def diff(base: Snapshot, now: Snapshot, addresses: bool = True) -> list[str]:
    """Every difference that means something was left behind (or went missing).

    ``addresses=False`` leaves addresses out, for a caller that judges them against
    :func:`expected_addresses` instead (the VIP may have moved on purpose).
    """
    lines: list[str] = []
    if addresses:
        lines += unexpected_addresses(base.addresses, now.addresses)
    for node in sorted(set(base.processes) | set(now.processes)):
        base_p, now_p = base.processes.get(node, {}), now.processes.get(node, {})
        lines += _counts(f"{node} processes", base_p, now_p, growth_only=False)
    for node in sorted(set(base.fds) | set(now.fds)):
        lines += _counts(f"{node} daemon fds", base.fds.get(node, {}), now.fds.get(node, {}), True)
    for node in sorted(set(base.threads) | set(now.threads)):
        base_t, now_t = base.threads.get(node, {}), now.threads.get(node, {})
        lines += _counts(f"{node} daemon threads", base_t, now_t, growth_only=True)
    lines += [
        f"network namespace {n} appeared"
        for n in sorted(set(now.namespaces) - set(base.namespaces))
    ]
    lines += [
        f"network namespace {n} is gone" for n in sorted(set(base.namespaces) - set(now.namespaces))
    ]
    lines += [f"mount appeared: {m}" for m in sorted(set(now.host_mounts) - set(base.host_mounts))]
    lines += [f"mount is gone: {m}" for m in sorted(set(base.host_mounts) - set(now.host_mounts))]
    lines += _counts("mounts inside", base.node_mounts, now.node_mounts, growth_only=False)
    lines += _counts("lab driver children", base.driver_children, now.driver_children, False)
    return lines


def follow_the_vip(
    base: dict[str, dict[str, int]], now: dict[str, dict[str, int]], old: str, new: str
) -> dict[str, dict[str, int]]:
    """The baseline's processes with the VIP moved from ``old`` to ``new``: a command
    only the old holder ran (the group's service) that now runs on the new holder
    alone, as many times, moved with the group. A takeover that leaves the group on
    the other node is not a leak; a second copy, or one left behind, still is."""
    if old == new:
        return base
    moved = {node: dict(counts) for node, counts in base.items()}
    was, gets = moved.setdefault(old, {}), moved.setdefault(new, {})
    now_old, now_new = now.get(old, {}), now.get(new, {})
    for command, count in list(was.items()):
        gone_over = not now_old.get(command) and now_new.get(command) == count
        if count and not gets.get(command) and gone_over:
            gets[command] = was.pop(command)
    return moved


def moving(before: Snapshot, after: Snapshot) -> list[str]:
    """Processes that came or went between two close snapshots (a lab not yet still)."""
    lines: list[str] = []
    for node in sorted(set(before.processes) | set(after.processes)):
        was, now = before.processes.get(node, {}), after.processes.get(node, {})
        lines += _counts(f"{node} processes", was, now, growth_only=False)
    return lines + _counts(
        "lab driver children", before.driver_children, after.driver_children, False
    )


def not_still(history: list[tuple[float, Snapshot]], window: float) -> list[str]:
    """What stops the newest of ``history`` ((monotonic time, snapshot), oldest first)
    from being a baseline: processes that came or went within the last ``window``
    seconds, or a history that does not reach that far back yet. A script that runs
    for a few seconds after start-up (Heartbeat's IPaddr and its send_arp, 10 ARPs
    500 ms apart) is seen in two snapshots a second apart; only a window longer than
    it keeps it out of the baseline."""
    if not history:
        return ["no snapshot yet"]
    now, newest = history[-1]
    lines: list[str] = []
    reached = False
    for taken, earlier in reversed(history[:-1]):
        lines += moving(earlier, newest)
        if now - taken >= window:
            reached = True
            break
    if not reached:
        lines.append(f"processes not yet watched for {window:g} s")
    return sorted(set(lines))


# -- reading /proc -----------------------------------------------------------------------
def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def describe(pid: int) -> str | None:
    """The process's label, or None if it is gone."""
    stat = _read(PROC / str(pid) / "stat")
    if stat is None:
        return None
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    state = stat[stat.rindex(")") + 2 :].split()[0]
    try:
        cmdline = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return process_label(cmdline, comm, state)


def fd_kinds(pid: int) -> Counter[str]:
    kinds: Counter[str] = Counter()
    fd_dir = PROC / str(pid) / "fd"
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return kinds
    for entry in entries:
        try:
            kinds[fd_kind(os.readlink(entry))] += 1
        except OSError:
            continue  # closed while we looked
    return kinds


def status_field(pid: int, name: str) -> int:
    """An integer field of /proc/PID/status (Threads, VmRSS in kB); 0 if absent."""
    for line in (_read(PROC / str(pid) / "status") or "").splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return int(value.split()[0])
    return 0


def node_processes(init_pid: int) -> dict[int, str]:
    """{host pid: label} of every process in the node's PID namespace."""
    pid_ns = pid_namespace(init_pid)
    if pid_ns is None:
        return {}
    labels = {host: describe(host) for host in ns_pid_map(pid_ns).values()}
    return {pid: label for pid, label in labels.items() if label is not None}


def own_mounts(mounts: str, host_mounts: str) -> int:
    """A node's own mounts: those of its /proc/PID/mounts that the machine does not have
    too. A node copies the machine's mount table when it boots, and other labs add and
    remove mounts there (namespace handles, /run/netns) all the time; only what the
    node mounted itself can leak."""
    host = {tuple(line.split(" ", 3)[:3]) for line in host_mounts.splitlines()}
    return sum(
        1
        for line in mounts.splitlines()
        if tuple(line.split(" ", 3)[:3]) not in host and line.split(" ", 3)[2:3] != ["nsfs"]
    )


def lab_mount_lines(mounts: str, state_dir: Path, netns_names: set[str]) -> list[str]:
    """Lines of /proc/mounts that name the lab's state directory or its namespaces."""
    wanted = [str(state_dir)] + [f"/run/netns/{n} " for n in netns_names]
    return sorted(line for line in mounts.splitlines() if any(w in line for w in wanted))


# -- the snapshot ------------------------------------------------------------------------
def lab_names(topo: Topology) -> set[str]:
    return {topo.switch_netns, *(topo.netns_of(h.name) for h in topo.hosts)}


def collect(
    topo: Topology,
    state: LabState,
    state_dir: Path,
    addresses: Callable[[str], dict[str, list[dict[str, str]]]],
    existing_namespaces: Callable[[], set[str]],
    daemon_tree: Callable[[str], list[int]],
    host_netns: Callable[[str], str | None] = lambda host: None,
) -> Snapshot:
    """The lab as it is now (the callables are lab.wiring/lab.node functions).

    Addresses are keyed as :func:`expected_addresses` keys them (``prefix-host``).
    A named namespace of the lab is read by its name; a host without one (a
    container, whose namespace is ``/proc/PID/ns/net``) through ``host_netns``,
    which gives None for a host that is off.
    """
    snap = Snapshot()
    names = lab_names(topo)
    # The lab's own names, and any other of its prefix (a leftover host); not another
    # engine's, which comes and goes with CI's other engines (a false leak, CI of 6ddac8d).
    snap.namespaces = sorted(
        n for n in existing_namespaces() if n in names or is_lab_namespace(topo.prefix, n)
    )
    refs = {n: n for n in set(state.namespaces) & set(snap.namespaces)}
    for each in topo.hosts:
        key = topo.netns_of(each.name)
        if key not in refs and (ref := host_netns(each.name)) is not None:
            refs[key] = ref
    for key, ref in sorted(refs.items()):
        snap.addresses[key] = {
            ifname: sorted(a["address"] for a in lst) for ifname, lst in addresses(ref).items()
        }
    for name, rec in state.nodes.items():
        if rec.init is None or not rec.init.alive():
            continue
        procs = node_processes(rec.init.pid)
        snap.processes[name] = dict(Counter(procs.values()))
        snap.node_mounts[name] = own_mounts(
            _read(PROC / str(rec.init.pid) / "mounts") or "", _read(PROC / "self" / "mounts") or ""
        )
        host = topo.host(name)
        if host is not None and host.role is Role.CLUSTER_NODE:
            _daemon_figures(snap, name, daemon_tree(name), procs)
    snap.host_mounts = lab_mount_lines(_read(PROC / "mounts") or "", state_dir, names)
    own = [describe(pid) for pid in children(os.getpid())]
    snap.driver_children = dict(Counter(label for label in own if label is not None))
    return snap


def _daemon_figures(snap: Snapshot, node: str, tree: list[int], procs: dict[int, str]) -> None:
    fds: Counter[str] = Counter()
    threads: dict[str, int] = {}
    rss = 0
    for pid in tree:
        label = procs.get(pid) or describe(pid) or str(pid)
        for kind, count in fd_kinds(pid).items():
            fds[f"{label} | {kind}"] += count
        threads[label] = threads.get(label, 0) + status_field(pid, "Threads")
        rss += status_field(pid, "VmRSS")
    snap.fds[node], snap.threads[node], snap.rss_kib[node] = dict(fds), threads, rss


def settle(
    take: Callable[[], Snapshot],
    compare: Callable[[Snapshot], list[str]],
    timeout: float,
    interval: float = 1.0,
) -> tuple[Snapshot, list[str]]:
    """Retake the snapshot until ``compare`` finds nothing, or ``timeout`` passes.

    Returns the last snapshot and what was still found in it (empty: clean).
    """
    deadline = time.monotonic() + timeout
    while True:
        snap = take()
        found = compare(snap)
        if not found or time.monotonic() >= deadline:
            return snap, found
        time.sleep(interval)


# -- after `hblab down` ----------------------------------------------------------------
def leftovers_after_down(
    topo: Topology,
    state_dir: Path,
    recorded: list[ProcessId],
    existing_namespaces: set[str],
    mounts: str,
    host_links: set[str],
    switch_ports: set[str],
) -> list[str]:
    """Anything of the lab still there once it is down (the arguments are read by the
    caller, so this is pure apart from checking that recorded processes are gone)."""
    names = lab_names(topo)
    found = [f"network namespace {n} still exists" for n in sorted(names & existing_namespaces)]
    found += [f"mount still there: {m}" for m in lab_mount_lines(mounts, state_dir, names)]
    found += [f"process {p.pid} still alive" for p in recorded if p.alive()]
    found += [f"interface {n} in the host's namespace" for n in sorted(host_links & switch_ports)]
    if (state_dir / "state.json").exists():
        found.append(f"{state_dir / 'state.json'} still records a lab")
    if (state_dir / "nodes").exists():
        found.append(f"{state_dir / 'nodes'} still exists")
    return found


def processes_naming(path: Path) -> list[str]:
    """Processes whose command line mentions ``path`` (the lab's node directories)."""
    needle = str(path).encode()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmd:
            found.append(f"process {entry.name}: {process_label(cmd, '')}")
    return found


def snapshotter(lab: Lab) -> Callable[[], Snapshot]:
    """What :func:`collect` sees of ``lab`` now, each time it is called."""
    from lab import wiring

    def host_netns(host: str) -> str | None:
        return lab.netns_of(host) if lab.is_on(host) else None

    def take() -> Snapshot:
        return collect(
            lab.topo,
            lab.require_up(),
            lab.state_dir,
            wiring.addresses,
            wiring.existing_namespaces,
            lab.daemon_tree,
            host_netns,
        )

    return take
