"""After `make lab`: master alone holds the VIP and the nodes run the tree named.

Usage: python3 scripts/check_lab_ready.py TREE   (reads `hblab status --json`)
"""

from __future__ import annotations

import json
import subprocess
import sys


def main(tree: str) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "lab", "status", "--json"], capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"hblab status failed: {done.stderr.strip()}")
        return 1
    status = json.loads(done.stdout)
    problems = []
    if status["vip_holders"] != ["master"]:
        problems.append(f"VIP held by {status['vip_holders']}, not by master alone")
    source = status.get("source", {}).get("path")
    if source != tree:
        problems.append(f"the nodes run {source}, not {tree}")
    print("; ".join(problems) or f"lab ready: master holds the VIP, the nodes run {tree}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
