"""The soak's leak check: labels, fd kinds, expected addresses, snapshot diffs (pure)."""

from __future__ import annotations

import os
from pathlib import Path

from lab.proc import ProcessId
from lab.soak.leaks import (
    Snapshot,
    collect,
    diff,
    expected_addresses,
    fd_kind,
    follow_the_vip,
    lab_mount_lines,
    leftovers_after_down,
    not_still,
    process_label,
    settle,
    unexpected_addresses,
)
from lab.state import LabState
from lab.topology import REFERENCE


def test_process_label_is_the_command_line_or_the_comm() -> None:
    assert process_label(b"nginx: worker process\0\0", "nginx") == "nginx: worker process"
    assert process_label(b"/usr/bin/python3\0-m\0hbnode\0start\0", "python3") == (
        "/usr/bin/python3 -m hbnode start"
    )
    assert process_label(b"", "kworker/0:1") == "[kworker/0:1]"
    assert process_label(b"", "sh", "Z") == "[sh] (zombie)"
    assert len(process_label(b"x" * 500, "x")) == 100


def test_fd_kind() -> None:
    assert fd_kind("socket:[12345]") == "socket"
    assert fd_kind("pipe:[77]") == "pipe"
    assert fd_kind("anon_inode:[eventpoll]") == "anon_inode:[eventpoll]"
    assert fd_kind("/var/log/ha-log") == "/var/log/ha-log"
    assert fd_kind("/tmp/x (deleted)") == "/tmp/x"


def test_expected_addresses_put_the_vip_on_the_holder_only() -> None:
    expected = expected_addresses(REFERENCE, "master")
    master, slave = REFERENCE.netns_of("master"), REFERENCE.netns_of("slave")
    assert expected[master]["eth0"] == ["192.168.0.18/24", "192.168.0.38/24"]
    assert expected[master]["eth1"] == ["172.16.254.18/24"]
    assert expected[slave]["eth0"] == ["192.168.0.28/24"]
    assert expected[REFERENCE.switch_netns] == {}
    nobody = expected_addresses(REFERENCE, None)
    assert nobody[master]["eth0"] == ["192.168.0.18/24"]


def test_unexpected_addresses_both_ways_and_loopback_ignored() -> None:
    expected = expected_addresses(REFERENCE, "master")
    actual = {k: {i: list(v) for i, v in per.items()} for k, per in expected.items()}
    slave = REFERENCE.netns_of("slave")
    master = REFERENCE.netns_of("master")
    actual[slave]["eth0"].append("192.168.0.38/24")  # a second holder
    actual[master]["eth1"] = []  # static address gone
    actual[master]["lo"] = ["127.0.0.1/8"]
    assert unexpected_addresses(expected, actual) == [
        f"{master} eth1: address 172.16.254.18/24 missing",
        f"{slave} eth0: unexpected address 192.168.0.38/24",
    ]
    assert unexpected_addresses(expected, expected) == []


def _snap(**changes: object) -> Snapshot:
    base = Snapshot(
        addresses={"n-master": {"eth0": ["192.168.0.18/24"]}},
        processes={"master": {"nginx: worker process": 2, "python3 -m hbnode start": 1}},
        fds={"slave": {"hbnode | socket": 10, "hbnode | pipe": 4}},
        threads={"slave": {"hbnode": 3}},
        rss_kib={"slave": 30000},
        namespaces=["n-master", "n-sw"],
        host_mounts=["nsfs /run/netns/n-master nsfs rw 0 0"],
        node_mounts={"master": 20},
        driver_children={"unshare …": 4},
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_identical_snapshots_have_no_diff() -> None:
    assert diff(_snap(), _snap()) == []


def test_fds_and_threads_count_only_when_they_grow() -> None:
    fewer = _snap(fds={"slave": {"hbnode | socket": 9, "hbnode | pipe": 4}})
    assert diff(_snap(), fewer) == []
    more = _snap(fds={"slave": {"hbnode | socket": 11, "hbnode | pipe": 4}})
    assert diff(_snap(), more) == ["slave daemon fds: hbnode | socket: 11 (baseline 10)"]
    threads = _snap(threads={"slave": {"hbnode": 5}})
    assert diff(_snap(), threads) == ["slave daemon threads: hbnode: 5 (baseline 3)"]


def test_rss_is_reported_not_judged() -> None:
    assert diff(_snap(), _snap(rss_kib={"slave": 90000})) == []


def test_processes_namespaces_mounts_and_children_both_ways() -> None:
    now = _snap(
        processes={"master": {"nginx: worker process": 1, "python3 -m hbnode start": 1, "x": 1}},
        namespaces=["n-master", "n-extra"],
        host_mounts=[],
        node_mounts={"master": 21},
        driver_children={"unshare …": 4, "[unshare] (zombie)": 1},
    )
    assert diff(_snap(), now) == [
        "master processes: nginx: worker process: 1 (baseline 2)",
        "master processes: x: 1 (baseline 0)",
        "network namespace n-extra appeared",
        "network namespace n-sw is gone",
        "mount is gone: nsfs /run/netns/n-master nsfs rw 0 0",
        "mounts inside: master: 21 (baseline 20)",
        "lab driver children: [unshare] (zombie): 1 (baseline 0)",
    ]


def test_addresses_can_be_left_out_of_the_diff() -> None:
    moved = _snap(addresses={"n-master": {"eth0": []}})
    assert diff(_snap(), moved) == ["n-master eth0: address 192.168.0.18/24 missing"]
    assert diff(_snap(), moved, addresses=False) == []


def test_lab_mount_lines_only_name_the_lab() -> None:
    mounts = "\n".join(
        [
            "nsfs /run/netns/hbs-master nsfs rw 0 0",
            "nsfs /run/netns/hbs-masterx nsfs rw 0 0",  # someone else's, same start
            "overlay /var/lib/hbs/nodes/master/etc overlay rw 0 0",
            "proc /proc proc rw 0 0",
        ]
    )
    assert lab_mount_lines(mounts, Path("/var/lib/hbs"), {"hbs-master"}) == [
        "nsfs /run/netns/hbs-master nsfs rw 0 0",
        "overlay /var/lib/hbs/nodes/master/etc overlay rw 0 0",
    ]


def test_settle_retakes_until_clean_and_gives_up_at_the_deadline() -> None:
    found = iter([["socket 11"], ["socket 11"], []])
    taken: list[int] = []

    def take() -> Snapshot:
        taken.append(1)
        return Snapshot()

    _snap, left = settle(take, lambda s: next(found), timeout=5.0, interval=0.0)
    assert left == [] and len(taken) == 3
    _snap2, left = settle(Snapshot, lambda s: ["always"], timeout=0.0, interval=0.0)
    assert left == ["always"]


def test_leftovers_after_down(tmp_path: Path) -> None:
    names = {REFERENCE.netns_of("master"), "unrelated"}
    me = ProcessId.of(os.getpid())
    assert me is not None
    gone = ProcessId(me.pid, me.start_ticks + 1)  # not the process we recorded
    found = leftovers_after_down(
        REFERENCE,
        tmp_path,
        [me, gone],
        names,
        f"tmpfs {tmp_path}/nodes/x tmpfs rw 0 0\n",
        {"eth0", "master-eth0"},
        {"master-eth0", "slave-eth0"},
    )
    assert found == [
        f"network namespace {REFERENCE.netns_of('master')} still exists",
        f"mount still there: tmpfs {tmp_path}/nodes/x tmpfs rw 0 0",
        f"process {me.pid} still alive",
        "interface master-eth0 in the host's namespace",
    ]
    (tmp_path / "state.json").write_text("{}")
    clean = leftovers_after_down(REFERENCE, tmp_path, [], set(), "", set(), set())
    assert clean == [f"{tmp_path / 'state.json'} still records a lab"]


def test_moving_names_processes_that_came_or_went() -> None:
    from lab.soak.leaks import moving

    assert moving(_snap(), _snap()) == []
    busy = _snap(processes={"master": {"nginx: worker process": 2, "/bin/sh nginx start": 1}})
    assert moving(_snap(), busy) == [
        "master processes: /bin/sh nginx start: 1 (baseline 0)",
        "master processes: python3 -m hbnode start: 0 (baseline 1)",
    ]
    assert moving(_snap(), _snap(fds={})) == []  # descriptors are not judged here


def test_what_only_the_holder_ran_follows_the_vip() -> None:
    daemon, nginx = "heartbeat: master control process", "nginx: worker process"
    init_m = "init master"
    base = {"master": {daemon: 1, nginx: 2, init_m: 1}, "slave": {daemon: 1, "init slave": 1}}
    now = {"master": {daemon: 1, init_m: 1}, "slave": {daemon: 1, nginx: 2, "init slave": 1}}
    moved = follow_the_vip(base, now, "master", "slave")
    assert moved["master"] == {daemon: 1, init_m: 1}  # a command only master runs stays
    assert moved["slave"] == {daemon: 1, nginx: 2, "init slave": 1}
    assert diff(Snapshot(processes=moved), Snapshot(processes=now), addresses=False) == []
    assert base["master"][nginx] == 2  # the baseline itself is kept
    assert follow_the_vip(base, now, "master", "master") is base


def test_a_service_left_behind_or_doubled_does_not_follow_the_vip() -> None:
    nginx = "nginx: worker process"
    base: dict[str, dict[str, int]] = {"master": {nginx: 2}, "slave": {}}
    left = {"master": {nginx: 2}, "slave": {nginx: 2}}
    assert follow_the_vip(base, left, "master", "slave") == base
    assert diff(Snapshot(processes=base), Snapshot(processes=left), addresses=False)
    more = {"master": {}, "slave": {nginx: 3}}
    assert follow_the_vip(base, more, "master", "slave") == base


def test_a_baseline_waits_until_a_start_script_has_been_gone_for_the_window() -> None:
    steady = {"slave": {"nginx: master process": 1}}
    arping = {"slave": {"nginx: master process": 1, "send_arp -i 500 -r 10": 1}}
    history = [(0.0, Snapshot(processes=arping)), (1.0, Snapshot(processes=arping))]
    # Two looks a second apart agree, but not for the window: not yet.
    assert not_still(history, 6.0) == ["processes not yet watched for 6 s"]
    history += [(t, Snapshot(processes=steady)) for t in (5.0, 6.0, 7.0)]
    assert any("send_arp" in line for line in not_still(history, 6.0))
    history += [(t, Snapshot(processes=steady)) for t in (8.0, 10.0, 11.0, 12.0)]
    assert not_still(history, 6.0) == []
    assert not_still([], 6.0) == ["no snapshot yet"]


def _no_tree(node: str) -> list[int]:
    return []


def test_collect_reads_named_namespaces_and_containers_under_the_expected_keys(
    tmp_path: Path,
) -> None:
    """netns backend: every host has a named namespace. docker: none, each container's
    is /proc/PID/ns/net, and a stopped one has none. Both are keyed prefix-host, the
    keys expected_addresses uses, so the same comparison serves both backends."""
    want = expected_addresses(REFERENCE, "master")
    named = sorted(want)
    # A container's namespace is read through /proc/PID/ns/net: one made-up PID a host.
    hosts = [h.name for h in REFERENCE.hosts]
    refs_to_key = {f"/proc/{100 + i}/ns/net": REFERENCE.netns_of(h) for i, h in enumerate(hosts)}

    def read(ref: str) -> dict[str, list[dict[str, str]]]:
        key = ref if ref in want else refs_to_key[ref]
        return {i: [{"address": a} for a in lst] for i, lst in want[key].items()}

    netns = collect(
        REFERENCE,
        LabState(backend="netns", profile="x", namespaces=named),
        tmp_path,
        read,
        lambda: set(named),
        _no_tree,
    )
    assert unexpected_addresses(want, netns.addresses) == []

    by_host = {key: ref for ref, key in refs_to_key.items()}

    def container(host: str) -> str | None:
        return None if host == "slave" else by_host[REFERENCE.netns_of(host)]

    docker = collect(
        REFERENCE, LabState(backend="docker", profile="x"), tmp_path, read, set, _no_tree, container
    )
    off = {REFERENCE.switch_netns, REFERENCE.netns_of("slave")}
    assert sorted(docker.addresses) == sorted(set(want) - off)
    assert unexpected_addresses(want, docker.addresses) == [
        f"{REFERENCE.netns_of('slave')} {i.name}: address {i.address} missing"
        for i in REFERENCE.host("slave").interfaces  # type: ignore[union-attr]
    ]


def test_another_engines_namespace_is_not_the_default_labs(tmp_path: Path) -> None:
    """CI's docker engines live in hblab-d-engine, hblab-d2-engine…: they share the
    default prefix's first word, and one stopping during a nemesis is no leak of it."""
    named = sorted(expected_addresses(REFERENCE, None))
    # As the default prefix's would be named, whatever prefix this test runs under.
    engines = {f"{REFERENCE.prefix}-d-engine", f"{REFERENCE.prefix}-d2-engine"}
    leftover = f"{REFERENCE.prefix}-oldnode"  # a host of this prefix no topology names now

    def snapshot(existing: set[str]) -> list[str]:
        state = LabState(backend="netns", profile="x", namespaces=named)
        snap = collect(REFERENCE, state, tmp_path, lambda ref: {}, lambda: existing, _no_tree)
        return snap.namespaces

    assert snapshot({*named, *engines, leftover}) == sorted([*named, leftover])
