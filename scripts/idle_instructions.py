"""Instructions a node's daemon executes per idle second, counted by callgrind.

    hblab up --impl heartbeat   # or hbnode; with your own HBLAB_PREFIX/HBLAB_STATE_DIR
    python3 scripts/idle_instructions.py [--node slave] [--settle 30] [--seconds 60]

CPU shares on a shared 2-core machine move with everyone else's load; instruction
counts do not (valgrind --tool=callgrind counts them, whatever the machine does).
The node's daemon is stopped and started again under callgrind, its children and
respawned clients with it (--trace-children), with counting off; after
``--settle`` seconds (start-up, the first exchanges) counting is switched on in
every process for ``--seconds``, then each dumps its count. User-space only: what
the kernel does for a sendto is not in it. The daemon runs about 50 times slower
under valgrind, which an idle daemon can afford. Afterwards the node's daemon is
started normally again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lab.backends import make_lab
from lab.impls import Impl
from lab.source import NODE_SOURCE

OUT = "/tmp/hbcg"  # inside the node: its own private /tmp
HEARTBEAT = "/usr/libexec/heartbeat/heartbeat"


def daemon_command(impl: Impl, valgrind: str) -> str:
    """The shell command that starts the node's daemon under ``valgrind``."""
    if impl is Impl.HEARTBEAT:
        return f"{valgrind} {HEARTBEAT}"  # it daemonises itself; callgrind follows the fork
    # As the lab's init script runs it, but with the environment set by the shell:
    # valgrind must start python itself, not env.
    return f"PYTHONPATH={NODE_SOURCE} {valgrind} {sys.executable} -m hbnode run"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default="slave")
    parser.add_argument("--settle", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    lab = make_lab()
    impl = Impl(lab.record(args.node).impl or Impl.HBNODE.value)

    def sh(script: str) -> subprocess.CompletedProcess[str]:
        return lab.run(args.node, ["sh", "-c", script], timeout=120)

    lab.run(args.node, ["service", "heartbeat", "stop"], timeout=120)
    sh(f"rm -rf {OUT} && mkdir -p {OUT} && rm -f /var/run/heartbeat.pid")
    # Heartbeat's processes are forks (followed anyway) and an exec'd ipfail; hbnode's
    # ipfail sleeps in recv() while idle (0 % in the bench), and vgdb cannot switch a
    # process on while it sleeps as another user: only the daemon is counted.
    children = "yes" if impl is Impl.HEARTBEAT else "no"
    valgrind = (
        f"valgrind --tool=callgrind --instr-atstart=no --trace-children={children} "
        f"--callgrind-out-file={OUT}/cg.%p"
    )
    sh(f"cd / && {daemon_command(impl, 'setsid ' + valgrind)} </dev/null >{OUT}/log 2>&1 &")
    pids: list[str] = []
    try:
        time.sleep(args.settle)
        runs = sh("callgrind_control").stdout
        pids = [line.split()[1].rstrip(":") for line in runs.splitlines() if line.startswith("PID")]
        on = [pid for pid in pids if _control(sh, "-i on", pid)]
        began = time.monotonic()
        time.sleep(args.seconds)
        for pid in on:
            _control(sh, "--dump=idle", pid)
        took = time.monotonic() - began
        time.sleep(2.0)  # each process writes its dump on its own
        counts = sh(f"cd {OUT} && grep -H '^summary:' cg.*.1; grep -H '^cmd:' cg.*.1").stdout
    finally:
        lab.run(args.node, ["service", "heartbeat", "stop"], timeout=120)
        for pid in pids:  # whatever of what this script started is left, by pid
            sh(f"kill -9 {pid} 2>/dev/null; true")
        sh("sleep 1; rm -f /var/run/heartbeat.pid")
        lab.run(args.node, ["service", "heartbeat", "start"], timeout=120)
    missed = sorted(set(pids) - set(on))
    commands: dict[str, str] = {}
    totals: dict[str, int] = {}
    for line in counts.splitlines():
        name, _, rest = line.partition(":")
        if rest.startswith("summary:"):
            totals[name] = int(rest.split()[1])
        elif rest.startswith("cmd:"):
            commands[name] = rest.removeprefix("cmd:").strip()
    print(f"{impl.value} on {args.node}: {args.seconds:.0f} s counted after {args.settle:.0f} s")
    for name, count in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {count / took / 1e6:8.2f} M instructions/s  {commands.get(name, name)[:70]}")
    print(f"  {sum(totals.values()) / took / 1e6:8.2f} M instructions/s  in all")
    if missed:
        print(f"  not counted (asleep, vgdb could not switch them on): pids {', '.join(missed)}")
    return 0


def _control(sh: Callable[[str], subprocess.CompletedProcess[str]], what: str, pid: str) -> bool:
    """callgrind_control for one process; False if it does not answer within 10 s."""
    return sh(f"timeout 10 callgrind_control {what} {pid} >/dev/null 2>&1").returncode == 0


if __name__ == "__main__":
    sys.exit(main())
