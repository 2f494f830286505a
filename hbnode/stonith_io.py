"""cluster-glue's ``stonith`` program: the only way hbnode touches a STONITH device.

Heartbeat links cluster-glue's libstonith and calls ``stonith_req_reset`` in a
forked child (hb_resource.c Initiate_Reset); hbnode runs the library's own
command-line front end, ``stonith`` (cluster-glue lib/stonith/main.c), with the
same plugin and parameters, so every plugin cluster-glue ships works unchanged:

* ``stonith_host HOST TYPE PARAMS…`` → ``stonith -t TYPE -p "PARAMS" -T reset NODE``
  (``-p`` is the Stonith-1 positional form ha.cf uses: the plugin's
  ``getconfignames`` order, the rest of the line into the last one);
* ``stonith TYPE FILE`` → ``stonith -t TYPE -F FILE -T reset NODE``.

The program exits with the plugin's answer (stonith.h): 0 ``S_OK``, 4
``S_BADHOST`` (this device cannot reset that host), anything else a failure.
It runs on the daemon's fencing worker (hbnode.executor), never on the heartbeat
loop, in its own process group, killed after ``hbnode_stonith_timeout``.

:func:`check_device` is ``hbnode check``'s look at a device: is the plugin
installed (``stonith -L``), are there enough parameters (``stonith -t TYPE -n``
lists its names)? Neither contacts the device.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass

from hbnode.config.errors import ConfigError
from hbnode.config.hacf import HaCf, StonithDevice
from hbnode.rm.fencing import FenceResult

STONITH = "stonith"  # cluster-glue's program, on PATH (/usr/sbin)
S_OK, S_BADHOST = 0, 4
LOOKUP_TIMEOUT = 10.0
KILL_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class FenceOutcome:
    result: FenceResult
    detail: str  # the program's output, or why it did not finish


def device_argv(device: StonithDevice) -> list[str]:
    argv = [STONITH, "-t", device.plugin]
    if device.params is not None:
        return [*argv, "-p", device.params]
    return [*argv, "-F", device.config_file or ""]


def reset_argv(device: StonithDevice, node: str, operation: str = "reset") -> list[str]:
    return [*device_argv(device), "-T", operation, node]


def run_reset(device: StonithDevice, node: str, timeout: float) -> FenceOutcome:
    """Reset ``node`` through ``device``; bounded by ``timeout`` seconds."""
    argv = reset_argv(device, node)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own group: a timeout kills ipmitool too
        )
    except OSError as exc:
        return FenceOutcome(FenceResult.BAD, f"cannot run {STONITH}: {exc}")
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return FenceOutcome(FenceResult.BAD, f"{STONITH} timed out after {timeout:g} s")
    detail = " ".join(out.split())[:500]
    if proc.returncode == S_OK:
        return FenceOutcome(FenceResult.OK, detail)
    if proc.returncode == S_BADHOST:
        return FenceOutcome(FenceResult.BADHOST, detail)
    return FenceOutcome(FenceResult.BAD, f"exit {proc.returncode}: {detail}")


def _kill_group(proc: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.communicate(timeout=KILL_GRACE)
            return
        except subprocess.TimeoutExpired:
            continue


def _lookup(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=LOOKUP_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None


def check_device(hacf: HaCf) -> list[ConfigError]:
    """The device's plugin is installed and gets enough parameters (no device contact)."""
    device = hacf.stonith
    if device is None:
        return []
    where = (hacf.path, device.line)
    listed = _lookup([STONITH, "-L"])
    if listed is None:
        message = f"{device.directive}: cannot run {STONITH} (install cluster-glue)"
        return [ConfigError(*where, message)]
    if device.plugin not in listed.stdout.split():
        message = (
            f"{device.directive}: Invalid Stonith type [{device.plugin}]"
            f" (not a cluster-glue plugin here: {STONITH} -L lists them)"
        )
        return [ConfigError(*where, message)]
    if device.params is None:
        if not os.path.isfile(device.config_file or ""):
            message = f"{device.directive}: Invalid Stonith config file [{device.config_file}]"
            return [ConfigError(*where, message)]
        return []
    names = _lookup([STONITH, "-t", device.plugin, "-n"])
    wanted = names.stdout.split() if names is not None and names.returncode == 0 else []
    given = device.params.split()  # stonith1_compat_string_to_NVpair: blanks
    if wanted and len(given) < len(wanted):
        message = (
            f"{device.directive}: Invalid Stonith configuration parameter [{device.params}]:"
            f" {device.plugin} wants {len(wanted)} ({' '.join(wanted)}), got {len(given)}"
        )
        return [ConfigError(*where, message)]
    return []
