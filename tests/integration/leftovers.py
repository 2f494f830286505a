"""After the whole integration run: nothing of the lab is left on the machine.

Run once at the end of the session (conftest's ``no_lab_leftovers`` fixture), not
as a test that depends on running last in file order.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab.backends import make_lab
from lab.topology import REFERENCE
from lab.wiring import existing_namespaces


def assert_no_lab_up(backend: str, who: str) -> None:
    """Before a command that brings up a lab of its own: none is up; if one is, say whose."""
    state = make_lab(backend).state
    assert state is None, f"a lab is up (brought up by {state.owner}): {who} needs its own"


def leftovers(backend: str) -> list[str]:
    """What this prefix's lab left behind: its record, and anything found without it."""
    lab = make_lab(backend)
    found = [f"{lab.state_file} still records a lab"] if lab.is_up else []
    found += lab.leftovers()
    if backend == "netns":
        found += _netns_host_leftovers(lab.state_dir / "nodes")
    return found


def _netns_host_leftovers(nodes_dir: Path) -> list[str]:
    """Mounts, links and processes of this lab's namespaces on the machine itself."""
    # Exactly this lab's names: other labs (the docker engine's own namespace, a
    # bench under another prefix) may be running.
    lab_ns = {REFERENCE.switch_netns, *(REFERENCE.netns_of(h.name) for h in REFERENCE.hosts)}
    found = [f"namespace {n}" for n in existing_namespaces() if n in lab_ns]
    mounts = Path("/proc/mounts").read_text()
    found += [f"mount /run/netns/{n}" for n in lab_ns if f"/run/netns/{n} " in mounts]
    if f"{nodes_dir}/" in mounts:
        found.append(f"a mount under {nodes_dir}")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"link {n}*" for n in ("master-eth", "slave-eth", "br-eth") if n in links]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if f"{nodes_dir}/".encode() in cmd:
            found.append("process " + cmd.replace(b"\0", b" ").decode(errors="replace"))
    return found
