"""Can a lab node's root give Heartbeat real-time scheduling, as root on a real host can?

With ha.cf's default ``realtime on``, glue's ``cl_make_realtime()`` puts each of
Heartbeat's processes under SCHED_RR; where that is refused, each one logs
``ERROR: Unable to set scheduler parameters.: Operation not permitted``. The kernel
wants CAP_SYS_NICE and, on a kernel with real-time group scheduling under cgroup
v1, a real-time budget in the process's cpu cgroup (``cpu.rt_runtime_us`` above 0;
the root cgroup has 950000 µs of each second). Root on a real host has both.

* netns: the nodes' processes stay in hblab's own cgroup, with root's capabilities:
  nothing to do.
* docker: Docker drops CAP_SYS_NICE and gives each container a cpu cgroup of its
  own, with no real-time budget. What Docker documents for real-time containers:
  the engine gets a budget for its parent cgroup (``dockerd --cpu-rt-runtime``; the
  private engine is started with :data:`ENGINE_RT_RUNTIME_US` where the kernel has
  real-time group scheduling), and each cluster node ``--cap-add SYS_NICE
  --cpu-rt-runtime`` (:data:`NODE_RT_RUNTIME_US`), when the engine's parent cgroup
  has a budget to share.
"""

from __future__ import annotations

from pathlib import Path

from lab.errors import LabError

CAP_SYS_NICE = 23  # linux/capability.h
CPU_V1 = Path("/sys/fs/cgroup/cpu")  # the cgroup v1 cpu hierarchy, where it is mounted
RT_RUNTIME = "cpu.rt_runtime_us"
# Of each 1 s period, for all the containers under Docker's ``docker`` cgroup parent.
# Every private engine on the machine writes this same budget to that one parent, so
# it is shared by all their labs: ten labs' cluster nodes. CI's docker stage runs
# seven labs at once, on seven engines: 100 ms refused the third lab's nodes, and
# 200 ms the sixth's (CI of c8411d2). The cap is for a runaway real-time process:
# together, the containers' never take more than 40 % of a second of the CPU.
ENGINE_RT_RUNTIME_US = 400_000
NODE_RT_RUNTIME_US = 20_000  # per cluster node: Heartbeat's processes sleep nearly always
ENGINE_PARENT = "docker"  # dockerd's cgroup parent with the cgroupfs driver


def rt_group_sched(cpu_root: Path = CPU_V1) -> bool:
    """Does this kernel ration real-time time per cpu cgroup (v1, RT_GROUP_SCHED)?"""
    return (cpu_root / RT_RUNTIME).exists()


def rt_runtime(cgroup: str, cpu_root: Path = CPU_V1) -> int:
    """The real-time budget of a cpu cgroup (µs per period); 0 where it has none."""
    try:
        return int((cpu_root / cgroup.lstrip("/") / RT_RUNTIME).read_text())
    except (OSError, ValueError):
        return 0


def cpu_cgroup(proc_cgroup_text: str) -> str | None:
    """The cpu cgroup of a process, from the text of /proc/PID/cgroup (v1 lines)."""
    for line in proc_cgroup_text.splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return path
    return None


def has_cap_sys_nice(status_text: str) -> bool:
    for line in status_text.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_SYS_NICE & 1)
    return False


def process_can_realtime(pid: int | str, cpu_root: Path = CPU_V1) -> bool:
    """Would SCHED_RR be granted to process ``pid`` (and the children it forks)?"""
    proc = Path("/proc") / str(pid)
    if not has_cap_sys_nice((proc / "status").read_text()):
        return False
    if not rt_group_sched(cpu_root):
        return True
    cgroup = cpu_cgroup((proc / "cgroup").read_text())
    return cgroup is not None and rt_runtime(cgroup, cpu_root) > 0


def node_rt_runtime(cpu_root: Path = CPU_V1) -> int | None:
    """``--cpu-rt-runtime`` for a cluster node container: None where no budget is needed
    (no real-time group scheduling) or none can be had (the engine's parent has none,
    and Docker would refuse to create the container)."""
    if not rt_group_sched(cpu_root):
        return None
    budget = rt_runtime(ENGINE_PARENT, cpu_root)
    if budget < 2 * NODE_RT_RUNTIME_US:
        return None
    # Docker's own refusal names only the file it could not write ("invalid argument").
    held = sum(rt_runtime(f"{ENGINE_PARENT}/{c.name}", cpu_root) for c in _children(cpu_root))
    if budget - held < NODE_RT_RUNTIME_US:
        raise LabError(
            f"no real-time budget left for a cluster node: the containers under "
            f"{cpu_root / ENGINE_PARENT} hold {held} of its {budget} µs per second "
            f"({NODE_RT_RUNTIME_US} µs a node: about {budget // (2 * NODE_RT_RUNTIME_US)} "
            "labs at once); take a lab down, or start fewer at once"
        )
    return NODE_RT_RUNTIME_US


def _children(cpu_root: Path) -> list[Path]:
    try:
        return [c for c in (cpu_root / ENGINE_PARENT).iterdir() if c.is_dir()]
    except OSError:
        return []
