"""A CI-sized soak: poweroff/poweron cycles of the VIP holder, hbnode on both nodes.

Runs `hblab soak` as a user would (a subprocess, its own lab). Every cycle must
converge to exactly one holder (on the node and on the wire), and afterwards
nothing may have leaked: addresses, processes, daemon file descriptors and
threads, namespaces, mounts; after `down` nothing of the lab is left.
`make soak` is the full-size run (200 cycles).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from lab.backends import make_lab

from .leftovers import assert_no_lab_up

CYCLES = 8
SOAK_TIMEOUT = 400.0  # a cycle takes ~6 s; a hang must still end the test


def test_soak_every_cycle_converges_and_nothing_leaks(
    tmp_path: Path, measure: Callable[..., None]
) -> None:
    assert_no_lab_up("netns", "the soak")
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, "-m", "lab", "soak", "--cycles", str(CYCLES), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=SOAK_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert out.exists(), done.stderr
    data = json.loads(out.read_text())
    assert not make_lab("netns").is_up, "the soak left its lab up"
    assert f"[{CYCLES}/{CYCLES}]" in done.stderr  # one progress line per cycle
    assert data["impl"] == "hbnode" and data["error"] is None, data["error"]
    cycles = data["cycles"]
    assert len(cycles) == CYCLES
    for cycle in cycles:
        assert cycle["error"] is None, f"cycle {cycle['cycle']}: {cycle['error']}"
        assert cycle["one_holder"] and cycle["holders_at_end"] == ["master"]
        assert cycle["victim"] == "master"
    assert data["baseline_problems"] == []
    assert data["leaks"] == []
    assert data["after_down"] == []
    assert done.returncode == 0, done.stdout + done.stderr
    # The snapshot did look at what it claims to compare.
    final = data["final"]
    assert final["fds"]["slave"] and final["threads"]["slave"] and final["processes"]["master"]
    figures = data["summary"]["figures"]
    for key in ("outage_s", "two_holders_s", "converge_s"):
        spread = figures[key]
        measure(f"soak {key} median", spread["median"], p90=spread["p90"], max=spread["maximum"])
    measure("soak two holders total (s)", figures["two_holders_s"]["total"])
