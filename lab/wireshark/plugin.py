"""Where the Heartbeat dissector lives, and putting it where Wireshark finds it.

Wireshark loads every ``.lua`` file of the user's personal plugins folder, which
``tshark -G folders`` reports ("Personal Lua Plugins", or "Personal Plugins" in
releases that have no separate Lua folder). ``install`` puts a symlink there (a
copy with ``copy=True``), so a ``git pull`` updates the installed dissector too.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lab.errors import LabError

PLUGIN = Path(__file__).resolve().with_name("heartbeat.lua")
MARKER = "hbnode_heartbeat"  # in our file only: never replace someone else's heartbeat.lua
_FOLDER_KEYS = ("Personal Lua Plugins", "Personal Plugins")


def tshark_binary() -> str:
    """The tshark on PATH, or a one-line LabError saying how to get it."""
    found = shutil.which("tshark")
    if found is None:
        raise LabError("tshark is not installed (apt-get install tshark, or make deps)")
    return found


def folders() -> dict[str, str]:
    """``tshark -G folders`` as a dict: "Personal Lua Plugins" → its path, …"""
    done = subprocess.run(
        [tshark_binary(), "-G", "folders"], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise LabError(f"tshark -G folders failed: {done.stderr.strip()[:200]}")
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, colon, value = line.partition(":")
        if colon and value.strip():
            found.setdefault(key.strip(), value.strip())
    return found


def personal_plugin_dir() -> Path:
    """The folder Wireshark reads the current user's Lua plugins from."""
    known = folders()
    for key in _FOLDER_KEYS:
        if key in known:
            return Path(known[key])
    raise LabError("tshark -G folders names no personal plugins folder")


def installed_path() -> Path:
    return personal_plugin_dir() / PLUGIN.name


def _is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(errors="replace")
    except OSError:  # a dangling symlink, say: an old install of ours, moved away
        return path.is_symlink()


def install(copy: bool = False) -> Path:
    """Put the dissector in the personal plugins folder; returns where it went.

    An earlier install of ours (link or copy) is replaced; any other file of that
    name is left alone and reported.
    """
    target = installed_path()
    if (target.exists() or target.is_symlink()) and not _is_ours(target):
        raise LabError(f"{target} exists and is not hblab's dissector: move it away first")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if copy:
        shutil.copyfile(PLUGIN, target)
    else:
        target.symlink_to(PLUGIN)
    return target


def loads_by_itself() -> bool:
    """True when Wireshark already loads this very file (installed as a symlink to it)."""
    try:
        return installed_path().resolve() == PLUGIN
    except (LabError, OSError):
        return False
