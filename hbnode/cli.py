"""The `hbnode` command: what /etc/init.d/heartbeat calls, and what people type.

    hbnode start            check the configuration, then run as a daemon
    hbnode run | -f         run in the foreground (systemd, debugging)
    hbnode stop             orderly shutdown (SIGTERM): peers are told, resources released
    hbnode reload           SIGHUP: re-read ha.cf, authkeys, haresources
    hbnode status [--json]  is it running; --json: nodes, links, counters
    hbnode check            validate /etc/ha.d and this machine, report every problem
    hbnode check --files-only   only the three files (on a laptop, in CI)

A bad configuration stops every verb that would start the daemon with one
`file:line: what is wrong` per problem, in file order, and exit code 6 (LSB:
program not configured), before anything touches the network.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hbnode import __version__
from hbnode.control import ControlError, request
from hbnode.pidfile import read_pid

if TYPE_CHECKING:
    from hbnode.config import ClusterConfig
    from hbnode.config.load import ConfigReport

EXIT_NOT_CONFIGURED = 6  # LSB init-script convention
EXIT_NOT_RUNNING = 3  # LSB status: program is not running
STOP_TIMEOUT = 120.0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hbnode", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ha-d",
        type=Path,
        default=Path("/etc/ha.d"),
        help="configuration directory (default /etc/ha.d)",
    )
    parser.add_argument("--node", help="our node name (default: lowercase uname -n)")
    parser.add_argument("-f", dest="foreground", action="store_true", help="same as run")
    parser.add_argument("--version", action="version", version=f"hbnode {__version__}")
    sub = parser.add_subparsers(dest="verb")
    for verb in ("start", "run", "stop", "reload"):
        sub.add_parser(verb)
    check = sub.add_parser("check")
    check.add_argument(
        "--files-only",
        action="store_true",
        help="check ha.cf, authkeys and haresources only, nothing of this machine;"
        " without --node, for no node in particular",
    )
    status = sub.add_parser("status")
    status.add_argument("--json", action="store_true")
    return parser


def _report(args: argparse.Namespace, *, machine: bool) -> ConfigReport:
    """Every problem of the three files and, with ``machine``, of this machine."""
    from hbnode.config.load import read_config
    from hbnode.config.system import check_machine

    report = read_config(args.ha_d, args.node, on_a_node=machine)
    if machine:
        errors, warnings = check_machine(args.ha_d, report.hacf, report.resource_groups)
        report.errors += errors
        report.warnings += warnings
    return report


def _load(args: argparse.Namespace) -> ClusterConfig | None:
    """The checked configuration, or None after printing every ``file:line: what``.

    Nothing on the host is touched before this returns a config: no pid file,
    no log file, no socket (tests/unit/test_config_table.py checks that).
    """
    report = _report(args, machine=True)
    if report.errors:
        for line in report.lines():
            print(line, file=sys.stderr)
        return None
    return report.config()


def _check(args: argparse.Namespace) -> int:
    report = _report(args, machine=not args.files_only)
    for line in report.lines():
        print(line, file=sys.stderr)
    return EXIT_NOT_CONFIGURED if report.errors else 0


def _run(args: argparse.Namespace, daemonize: bool) -> int:
    from hbnode.daemon import run_daemon

    config = _load(args)
    if config is None:
        return EXIT_NOT_CONFIGURED
    running = read_pid()
    if running is not None:
        print(f"heartbeat is already running (pid {running})", file=sys.stderr)
        return 0 if daemonize else 1
    return run_daemon(config, daemonize=daemonize)


def _signal(sig: signal.Signals, wait: bool) -> int:
    pid = read_pid()
    if pid is None:
        print("heartbeat is not running", file=sys.stderr)
        return 0 if sig == signal.SIGTERM else EXIT_NOT_RUNNING
    os.kill(pid, sig)
    if not wait:
        return 0
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if read_pid() is None:
            return 0
        time.sleep(0.05)
    print(f"heartbeat (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s", file=sys.stderr)
    return 1


def _status(as_json: bool) -> int:
    try:
        snapshot = request("status")
    except ControlError:
        if as_json:
            print(json.dumps({"running": False}))
        else:
            print("heartbeat is stopped. No process")
        return EXIT_NOT_RUNNING
    if as_json:
        print(json.dumps(snapshot, indent=2))
    else:
        print(
            f"heartbeat OK [pid {read_pid() or '?'} et al] is running on "
            f"{snapshot.get('node', '?')} [{snapshot.get('node', '?')}]..."
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    verb = "run" if args.foreground else (args.verb or "run")
    if verb == "check":
        return _check(args)
    if verb in ("start", "run"):
        return _run(args, daemonize=verb == "start")
    if verb == "stop":
        return _signal(signal.SIGTERM, wait=True)
    if verb == "reload":
        return _signal(signal.SIGHUP, wait=False)
    return _status(getattr(args, "json", False))


if __name__ == "__main__":
    sys.exit(main())
