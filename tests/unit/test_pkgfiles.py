"""What the packages put in a node's own places (lab.pkgfiles), what they start at
boot (lab.bootsvc), and whether a node's root can lock memory (lab.memlock)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from lab import bootsvc, memlock, nodeinit, pkgfiles, rtsched
from lab.errors import LabError

REPO = Path(__file__).resolve().parents[2]
HEARTBEAT_INSTALLED = bool(pkgfiles.file_list("heartbeat"))


def test_describe_reads_type_mode_and_owner_of_real_paths(tmp_path: Path) -> None:
    cores = tmp_path / "cores"
    cores.mkdir()
    cores.chmod(0o700)
    link = tmp_path / "latest"
    link.symlink_to("cores")
    empty = tmp_path / "fifo-marker"
    empty.touch(0o600)
    entries = [pkgfiles.describe("pkg", str(p), os.lstat) for p in (cores, link, empty)]
    assert [(e.kind, e.mode) for e in entries] == [("d", 0o700), ("L", 0o777), ("f", 0o600)]
    assert entries[0].line().startswith(f"d {cores} 0700 ")
    assert entries[1].line() == f"L {link} - - - - cores"


def test_a_file_with_contents_is_refused_not_emptied(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("not empty")
    with pytest.raises(pkgfiles.PackageFilesError, match="cannot copy"):
        pkgfiles.describe("pkg", str(state), os.lstat)


def test_render_keeps_the_packages_own_tmpfiles_lines(tmp_path: Path) -> None:
    conf = tmp_path / "heartbeat.conf"
    conf.write_text("# comment\nd /run/heartbeat 0750 hacluster haclient -\n\n")
    entry = pkgfiles.PackagedPath("heartbeat", "/var/lib/heartbeat", "d", 0o755, "root", "root")
    text = pkgfiles.render([entry], [("heartbeat", str(conf))])
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert body == [
        "d /var/lib/heartbeat 0755 root root -",
        "d /run/heartbeat 0750 hacluster haclient -",
    ]


def test_the_three_boots_run_the_same_command() -> None:
    """lab.nodeinit (stdlib only) and hblab-boot spell lab.pkgfiles' command out."""
    assert nodeinit.PACKAGE_FILES == pkgfiles.CONF_PATH
    assert nodeinit.PACKAGE_FILES_BOOT == pkgfiles.BOOT_COMMAND
    assert nodeinit.BOOT_SERVICES == bootsvc.SCRIPT_PATH
    boot = (REPO / "images" / "node" / "hblab-boot").read_text()
    assert shlex.join(pkgfiles.BOOT_COMMAND) in boot
    assert bootsvc.SCRIPT_PATH in boot


@pytest.mark.skipif(not HEARTBEAT_INSTALLED, reason="Debian's heartbeat is not installed here")
def test_the_installed_packages_give_the_cores_dirs_as_their_postinst_left_them() -> None:
    entries = {e.path: e for e in pkgfiles.packaged_paths()}
    for user in ("root", "nobody", "hacluster"):
        core = entries[f"/var/lib/heartbeat/cores/{user}"]
        assert (core.kind, core.mode, core.user) == ("d", 0o700, user)
    assert all(pkgfiles._under(path, pkgfiles.NODE_OWN) for path in entries)
    assert "/usr/lib/tmpfiles.d/heartbeat.conf" in [c for _, c in pkgfiles.tmpfiles_confs()]


def test_a_package_that_is_not_installed_puts_nothing() -> None:
    assert pkgfiles.file_list("hblab-no-such-package") == []


def test_exec_start_takes_the_command_without_systemd_prefixes() -> None:
    unit = (
        "[Service]\nExecStartPre=/bin/rm -f /run/logd.pid\n"
        "ExecStart=-/usr/lib/heartbeat/ha_logd -c /etc/logd.cf\n"
    )
    assert bootsvc.exec_start(unit) == ["/usr/lib/heartbeat/ha_logd", "-c", "/etc/logd.cf"]


def test_enabled_units_leave_heartbeat_to_hblab(tmp_path: Path) -> None:
    for name in ("logd.service", "heartbeat.service"):
        (tmp_path / name).touch()
    names = [u.name for u in bootsvc.enabled_units(wants=tmp_path)]
    assert "heartbeat.service" not in names
    if HEARTBEAT_INSTALLED:
        assert names == ["logd.service"]
    assert bootsvc.enabled_units(wants=tmp_path / "none") == []


LIMITS = (
    "Limit                     Soft Limit           Hard Limit           Units\n"
    "Max locked memory         {soft}              {hard}              bytes\n"
)


def _limits(soft: str, hard: str, cap_eff: int) -> memlock.MemlockLimits:
    return memlock.parse(LIMITS.format(soft=soft, hard=hard), f"CapEff:\t{cap_eff:016x}\n")


@pytest.mark.parametrize(
    ("soft", "hard", "caps", "can_lock"),
    [
        ("8388608", "8388608", 0x1FFFEFFFFFF, False),  # a sandbox: 8 MiB, no CAP_SYS_RESOURCE
        ("8388608", "8388608", 0x1FFFFFFFFFF, True),  # root on a real host lifts the limit
        ("8388608", "unlimited", 0, True),  # the hard limit allows it
        ("unlimited", "unlimited", 0, True),  # docker --ulimit memlock=-1
        ("65536", "33554432", 0, True),  # 32 MiB: more than twice the 6.4 MiB it locks
        ("65536", "13369344", 0, False),  # 12.75 MiB: not quite twice
    ],
)
def test_heartbeat_can_lock_follows_glues_rule(
    soft: str, hard: str, caps: int, can_lock: bool
) -> None:
    assert memlock.heartbeat_can_lock(_limits(soft, hard, caps)) is can_lock


def test_this_process_limits_read_from_proc() -> None:
    mine = memlock.of_process()
    assert mine.hard is None or mine.hard >= 0
    assert "locked-memory limit" in mine.describe()


def test_rtsched_reads_the_cpu_cgroup_budget_and_cap_sys_nice(tmp_path: Path) -> None:
    (tmp_path / "cpu.rt_runtime_us").write_text("950000\n")
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "cpu.rt_runtime_us").write_text("0\n")
    assert rtsched.rt_group_sched(tmp_path)
    assert rtsched.rt_runtime("/", tmp_path) == 950000
    assert rtsched.rt_runtime("/docker", tmp_path) == 0
    assert rtsched.rt_runtime("/docker/none", tmp_path) == 0
    assert rtsched.node_rt_runtime(tmp_path) is None  # the engine has no budget to share
    (tmp_path / "docker" / "cpu.rt_runtime_us").write_text("100000\n")
    assert rtsched.node_rt_runtime(tmp_path) == rtsched.NODE_RT_RUNTIME_US
    assert rtsched.node_rt_runtime(tmp_path / "v2") is None  # no RT group scheduling
    # The budget is shared by every container under the parent: used up, a clear refusal.
    for n in range(5):
        (tmp_path / "docker" / f"c{n}").mkdir()
        (tmp_path / "docker" / f"c{n}" / "cpu.rt_runtime_us").write_text("20000\n")
    with pytest.raises(LabError, match="hold 100000 of its 100000 µs"):
        rtsched.node_rt_runtime(tmp_path)
    (tmp_path / "docker" / "c4" / "cpu.rt_runtime_us").write_text("0\n")
    assert rtsched.node_rt_runtime(tmp_path) == rtsched.NODE_RT_RUNTIME_US
    text = "12:cpu,cpuacct:/docker/abc\n3:memory:/x\n"
    assert rtsched.cpu_cgroup(text) == "/docker/abc"
    assert rtsched.cpu_cgroup("0::/user.slice\n") is None
    assert rtsched.has_cap_sys_nice("CapEff:\t00000000a88425fb\n")
    assert not rtsched.has_cap_sys_nice("CapEff:\t00000000a80425fb\n")


def test_this_process_may_use_sched_rr_as_the_netns_nodes_do() -> None:
    """The netns nodes run in hblab's cgroup with its capabilities: what root has here."""
    assert isinstance(rtsched.process_can_realtime("self"), bool)
