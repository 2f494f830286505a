"""What each import costs the daemon: time, private memory and modules, step by step.

    python3 scripts/import_cost.py                  # the daemon's own imports, in order
    python3 scripts/import_cost.py json re pyroute2 # any modules, in this order
    python3 -I -S scripts/import_cost.py _socket    # as hbnode-ipfail starts

Each module is imported in turn into this one interpreter, so each line is what it
adds on top of everything above it (the daemon imports in this order too:
hbnode.cli, then what `start` loads, then hbnode.daemon). Memory is the growth of
the process's anonymous memory (smaps_rollup), which is where a Python module's
objects live; for a daemon that is nearly all of its PSS. For the per-module tree
of one import, run `python3 -X importtime -c 'import MODULE'`.
"""

from __future__ import annotations

import os
import sys
import time

# This checkout's hbnode, not whatever `pip install -e` points at.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DAEMON = [
    "hbnode.cli",
    "hbnode.config.load",
    "hbnode.config.system",
    "hbnode.daemon",
]


def anon_kib() -> int:
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Anonymous:"):
                return int(line.split()[1])
    return 0


def main(modules: list[str]) -> int:
    start_kib = anon_kib()
    count = len(sys.modules)
    print(f"{'interpreter':32s} {'':>8s} {start_kib / 1024:8.1f} MiB  {count:4d} modules")
    print(f"{'import':32s} {'ms':>8s} {'+MiB':>8s}      {'+modules':>8s}")
    total_ms = 0.0
    for name in modules:
        before_kib, before_mods = anon_kib(), len(sys.modules)
        began = time.perf_counter()
        __import__(name)
        took = (time.perf_counter() - began) * 1000
        total_ms += took
        grown = (anon_kib() - before_kib) / 1024
        print(f"{name:32s} {took:8.1f} {grown:8.2f}      {len(sys.modules) - before_mods:8d}")
    grown = (anon_kib() - start_kib) / 1024
    print(f"{'total':32s} {total_ms:8.1f} {grown:8.2f}      {len(sys.modules):8d} modules in all,")
    print(f"{'':32s} {'':8s} {anon_kib() / 1024:8.1f} MiB anonymous")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or DAEMON))
