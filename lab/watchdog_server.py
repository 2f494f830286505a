"""The watchdog of one boot of one lab node: ``python -m lab.watchdog_server``.

The lab starts one at each boot of a cluster node whose ha.cf names a ``watchdog``
device, after the node has booted and before its daemon starts (LabBase). It mounts
the device at that path inside the node (lab.watchdog_fuse) and answers it. When
the timer runs out it resets the node as a hardware watchdog resets its machine:
the lab's ``poweroff`` then ``poweron``, which boots the node and starts heartbeat
(as on a box with ``chkconfig heartbeat on``). It ends when the node goes off.

It runs in the node's network namespace, so ``hblab down --all`` finds it among
the node's processes; it logs to ``watchdog.log`` in the node's directory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from datetime import datetime
from functools import partial
from pathlib import Path

from lab.proc import ProcessId


class _Log:
    def __init__(self, node: str) -> None:
        self.node = node

    def __call__(self, line: str) -> None:
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        print(f"{stamp} {self.node} watchdog[{os.getpid()}]: {line}", flush=True)


def _reset(args: argparse.Namespace, boot: ProcessId, log: _Log, late: float) -> None:
    """The timer ran out: power-cycle the node, if the boot we watch still runs."""
    from lab.backends import make_lab

    log(f"not fed in time ({late * 1000:.0f} ms after its deadline): resetting the node")
    try:
        lab = make_lab(args.backend, state_dir=args.state_dir)
        done = lab.reset(args.node, boot)
    except Exception as exc:  # the reset is all this process is for: say why it failed
        log(f"reset failed: {exc}")
        return
    log("reset: the node is up again" if done else "reset: the node had been restarted already")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--init", required=True, help="PID:START_TICKS of the node's init")
    parser.add_argument("--path", required=True, help="the device, as the node sees it")
    args = parser.parse_args(argv)
    log = _Log(args.node)
    try:  # libfuse is loaded here, by the only process that needs it
        from lab.watchdog_fuse import DeviceState, mount_into, serve, watch
    except (ImportError, OSError) as exc:
        log(f"the lab's watchdog needs mfusepy and libfuse3 (make lab installs them): {exc}")
        return 1
    from lab.watchdog_timer import WatchdogTimer

    pid, ticks = (int(part) for part in args.init.split(":"))
    boot = ProcessId(pid, ticks)
    try:
        fd = mount_into(boot.pid, args.path)
    except (OSError, subprocess.SubprocessError) as exc:
        log(str(exc))
        return 1
    device = DeviceState(WatchdogTimer(), log)
    log(f"{args.path} ready (the timer starts when it is opened)")
    watcher = threading.Thread(target=watch, args=(device, partial(_reset, args, boot, log)))
    watcher.start()
    serve(fd, device)  # until the node's mount is gone (power off, or our reset)
    watcher.join()
    log("the node is off: this watchdog ends")
    return 0


if __name__ == "__main__":
    sys.exit(main())
