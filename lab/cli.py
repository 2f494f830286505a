"""hblab: bring the two-node Heartbeat lab up, break it, and watch it.

Every failure is one line on stderr and exit code 2 (``--debug`` adds the
traceback): a bad argument, the lab not up, a powered-off or unknown node, a
failed step in a node, a Docker engine that does not answer.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

from lab import ready
from lab.backends import BACKENDS, Lab, check_prefix, default_backend, make_lab
from lab.errors import LabError
from lab.faults import NETEM_KEYS
from lab.hafiles import PROFILES, cluster_timers, parse_overrides
from lab.impls import parse_impls
from lab.yamlfile import FileProblems

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line too, naming the command and pointing to --help."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("hblab").strip()
        where = f"{command}: " if command else ""
        self.exit(EXIT_USAGE, f"hblab: {where}{message} (see {self.prog} --help)\n")


def _common_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """--backend and --debug, before or after the subcommand (`hblab up --backend docker`)."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=default,
        help="netns or docker (default: $LAB, else the backend whose lab is up, else netns)",
    )
    parser.add_argument(
        "--prefix",
        default=None if top else argparse.SUPPRESS,
        help="a lab beside the default one (a classroom: one prefix per student); "
        "default $HBLAB_PREFIX, else hblab",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="on a failure, print the traceback too",
    )


def make_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="hblab", description=__doc__)
    _common_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="build the lab, boot its nodes, wait until the VIP serves")
    up.add_argument("--impl", help="heartbeat | hbnode | master=heartbeat,slave=hbnode")
    up.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    up.add_argument("--config", type=Path, help="a directory with ha.cf/authkeys/haresources")
    up.add_argument(
        "--topology",
        type=Path,
        help="a topology file (default: lab/topologies/reference.yaml)",
    )
    up.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="DIRECTIVE=VALUE",
        help="override an ha.cf directive (empty value removes it)",
    )
    up.add_argument(
        "--no-start",
        action="store_true",
        help="boot the nodes but leave heartbeat stopped (as after install)",
    )
    up.add_argument(
        "--fencing",
        action="store_true",
        help="a BMC per node (ipmi_sim on a management segment) and stonith_host lines",
    )
    up.add_argument(
        "--blank",
        action="store_true",
        help="the tutorial's machines before step 1: networked, no /etc/ha.d files, "
        "heartbeat stopped (docs/lessons/00-the-tutorial.md)",
    )
    up.add_argument(
        "--no-wait",
        action="store_true",
        help="return once the daemons are started, before the VIP is up",
    )
    up.add_argument(
        "--wait-timeout",
        type=float,
        metavar="SECONDS",
        help="give up waiting after this long (default: initdead + deadtime + 30 s)",
    )
    down = sub.add_parser("down", help="remove everything the lab created")
    down.add_argument(
        "--all",
        action="store_true",
        help="also what no record names: every namespace, process, container, network "
        "and node directory of this prefix's labs",
    )
    status = sub.add_parser("status", help="nodes, daemons, VIP holders")
    status.add_argument("--json", action="store_true")

    shell = sub.add_parser("shell", help="an interactive shell inside a node")
    shell.add_argument("node")
    ex = sub.add_parser("exec", help="run a command inside a node")
    ex.add_argument("node")
    ex.add_argument("cmd", nargs=argparse.REMAINDER)

    for name, text in (
        ("poweroff", "pull the plug"),
        ("poweron", "boot the node"),
        ("crash", "kill -9 the heartbeat daemon only"),
    ):
        sub.add_parser(name, help=text).add_argument("node")
    link = sub.add_parser("link", help="pull or replug a cable")
    link.add_argument("node")
    link.add_argument("iface")
    link.add_argument("state", choices=["up", "down"])
    netem = sub.add_parser("netem", help="tc netem: loss, delay, duplicate, reorder, or clear")
    netem.add_argument("node")
    netem.add_argument("iface")
    netem.add_argument("spec", nargs="+", help="loss 20%% delay 50ms … | clear")

    cap = sub.add_parser(
        "capture",
        help="tcpdump an interface of a node to a pcap file, or several live to one pcapng",
    )
    cap.add_argument("node", nargs="?")
    cap.add_argument("iface", nargs="?")
    cap.add_argument(
        "--live",
        metavar="NODE:IFACE,…",
        help="these interfaces as one pcapng stream with named interfaces (-w - for stdout)",
    )
    cap.add_argument("-w", dest="out", type=Path, required=True, help="FILE, or - for stdout")
    cap.add_argument("--seconds", type=float)
    cap.add_argument("--filter", default="", help="a tcpdump filter, e.g. 'udp port 694'")

    dump = sub.add_parser("dump", help="one line per heartbeat packet (pcap or live)")
    dump.add_argument("node", nargs="?")
    dump.add_argument("iface", nargs="?")
    dump.add_argument("--read", type=Path, help="a pcap file instead of a live interface")
    dump.add_argument("--authkeys", type=Path, help="verify signatures with this authkeys")
    dump.add_argument("--json", action="store_true")
    dump.add_argument("--count", type=int, help="stop after N heartbeat packets (live)")
    dump.add_argument("--seconds", type=float, help="stop after N seconds (live)")
    dump.add_argument(
        "--tshark", action="store_true", help="decode with tshark and heartbeat.lua, not scapy"
    )
    ws = sub.add_parser("wireshark", help="the Heartbeat dissector for Wireshark and tshark")
    ws_sub = ws.add_subparsers(dest="ws_command", required=True)
    install = ws_sub.add_parser("install", help="put it in your personal Wireshark plugins")
    install.add_argument("--copy", action="store_true", help="copy instead of a symlink")
    ws_sub.add_parser("path", help="print where heartbeat.lua is")
    _add_bench_parsers(sub)
    for command in sub.choices.values():
        _common_options(command, top=False)
    return parser


def _add_bench_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """bench, report and topology live in lab.bench (matplotlib loads only when drawing)."""
    from lab.bench import command, report_cmd
    from lab.cts import command as cts
    from lab.fuzz import command as fuzz
    from lab.live import command as live
    from lab.nemesis import command as nemesis
    from lab.scenario import command as scenario
    from lab.soak import command as soak

    command.add_parser(sub)
    cts.add_parser(sub)
    nemesis.add_parser(sub)
    report_cmd.add_parsers(sub)
    soak.add_parser(sub)
    fuzz.add_parsers(sub)
    scenario.add_parsers(sub)
    live.add_parsers(sub)


def _parse_netem(spec: list[str]) -> dict[str, str] | None:
    if spec == ["clear"]:
        return None
    if len(spec) % 2:
        raise LabError("netem wants KEY VALUE pairs (loss 20%, delay 50ms, …) or clear")
    params = dict(zip(spec[0::2], spec[1::2], strict=True))
    unknown = set(params) - set(NETEM_KEYS)
    if unknown:
        raise LabError(
            f"unknown netem parameter {sorted(unknown)[0]!r} (use {', '.join(NETEM_KEYS)})"
        )
    return params


def _print_status(status: dict[str, Any]) -> None:
    print(
        f"backend {status['backend']}  profile {status['profile']}  "
        f"VIP {status['vip']} {status.get('vip_state') or _holders_phrase(status)}"
    )
    source = status.get("source")
    if source:
        commit = f" ({source['commit']})" if source.get("commit") else ""
        print(f"  nodes run hbnode {source['version']}{commit} from {source['path']}")
    if status.get("brought_up_by"):
        print(f"  brought up by {status['brought_up_by']}")
    for name, info in status["nodes"].items():
        addrs = " ".join(
            f"{ifn}={'+'.join(a['address'] for a in lst)}"
            for ifn, lst in sorted(info["addresses"].items())
        )
        daemon = f" {info['impl']}:{info['daemon']}" if "daemon" in info else ""
        where = f"netns {info['netns']}"
        if "container" in info:  # the docker backend names the container instead
            where = f"container {info['container']}"
        if "bmc" in info:  # hblab up --fencing: what the BMC answers for its node
            bmc = info["bmc"]
            daemon = f" IPMI {bmc['ipmi']}: {bmc['bmc_for']} {bmc['answers']}"
        print(f"  {name:<9} {info['power']:<4}{daemon:<22} {where:<23} {addrs}")


def _holders_phrase(status: dict[str, Any]) -> str:
    return f"held by {', '.join(status['vip_holders']) or 'nobody'}"


def _status(lab: Lab) -> dict[str, Any]:
    """The backend's status plus the VIP's state in words ("starting" while negotiating)."""
    status = lab.status()
    status["vip_state"] = ready.vip_state(lab, status)
    return status


def _cmd_up(lab: Lab, args: argparse.Namespace) -> int:
    impls = parse_impls(args.impl, [h.name for h in lab.topo.cluster_nodes])
    overrides = parse_overrides(args.set)
    if args.blank and (args.config or overrides):
        raise LabError("--blank nodes have no ha.d files: --config and --set do not apply")
    started = time.monotonic()
    lab.up(
        impls,
        args.profile,
        overrides,
        args.config,
        not args.no_start,
        fencing=args.fencing,
        blank=args.blank,
    )
    print(f"lab up in {time.monotonic() - started:.2f} s", flush=True)
    if args.blank:
        print("blank nodes: hblab shell master (and slave), then the tutorial's steps", flush=True)
    elif not (args.no_start or args.no_wait):
        timers = cluster_timers(lab.topo, args.profile, overrides, args.config)
        timeout = args.wait_timeout or ready.ready_timeout(timers)
        took = ready.wait_ready(lab, timeout, lambda line: print(line, flush=True))
        print(f"cluster ready {took:.1f} s after the daemons started", flush=True)
    _print_status(_status(lab))
    return 0


def _cmd_dump(lab: Lab, args: argparse.Namespace) -> int:
    if args.tshark:
        from lab.wireshark import tshark

        if args.read is not None:
            return tshark.dump_file(args.read, args.authkeys, args.json)
        if not (args.node and args.iface):
            raise LabError("dump wants --read FILE.pcap or NODE IFACE")
        return tshark.dump_live(
            lab, args.node, args.iface, args.authkeys, args.json, args.count, args.seconds
        )
    from lab import dump  # scapy loads slowly: only for the commands that need it

    if args.read is None:
        if not (args.node and args.iface):
            raise LabError("dump wants --read FILE.pcap or NODE IFACE")
        lab.interface(args.node, args.iface)
        netns = lab.netns_of(args.node)
        return dump.dump_live(netns, args.iface, args.authkeys, args.json, args.count, args.seconds)
    return dump.dump_file(args.read, args.authkeys, args.json)


def _cmd_capture(lab: Lab, args: argparse.Namespace) -> int:
    if args.live is None:
        if not (args.node and args.iface):
            raise LabError("capture wants NODE IFACE, or --live NODE:IFACE,…")
        return lab.capture(args.node, args.iface, args.out, args.seconds, args.filter)
    if args.node or args.iface:
        raise LabError("capture takes NODE IFACE or --live NODE:IFACE,…, not both")
    if args.filter:
        raise LabError("--filter is for tcpdump captures; with --live, filter in Wireshark")
    from lab import livecap

    to_stdout = str(args.out) == "-"
    if to_stdout and sys.stdout.isatty():
        raise LabError("-w - writes pcapng: pipe it (| tshark -i -, | wireshark -k -i -)")
    # A capture that does not end on Ctrl-C can be asked where it is: ``kill -USR1``
    # writes every thread's stack to stderr (the live-pipe test does, before it gives up).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    sources = livecap.open_sources(lab, livecap.parse_taps(args.live))
    try:
        with contextlib.ExitStack() as stack:
            out = sys.stdout.buffer if to_stdout else stack.enter_context(args.out.open("wb"))
            result = livecap.capture(sources, out, args.seconds)
    finally:
        livecap.close_sources(sources)
    if result.stopped_by == "reader-gone" and to_stdout:
        # Python would report the closed pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    print(f"hblab capture: {result.summary()}", file=sys.stderr)
    return 0


def _cmd_wireshark(args: argparse.Namespace) -> int:
    from lab.wireshark import plugin

    if args.ws_command == "path":
        print(plugin.PLUGIN)
        return 0
    target = plugin.install(copy=args.copy)
    how = "copied to" if args.copy else "linked from"
    print(f"{plugin.PLUGIN} {how} {target}")
    return 0


def dispatch(lab: Lab, args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "up":
        return _cmd_up(lab, args)
    if cmd == "down":
        started = time.monotonic()
        removed = lab.down()
        if args.all:
            removed += sweep_all(lab)
        print(
            f"lab down in {time.monotonic() - started:.2f} s"
            + (f" (removed {', '.join(removed)})" if removed else " (nothing was up)")
        )
        return 0
    if cmd == "status":
        status = _status(lab)
        print(json.dumps(status, indent=2)) if args.json else _print_status(status)
        return 0
    if cmd == "shell":
        return lab.exec_interactive(args.node, ["bash", "--norc", "-i"])
    if cmd == "exec":
        argv = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not argv:
            raise LabError("exec wants a command: hblab exec NODE -- CMD…")
        return lab.exec_interactive(args.node, argv)
    if cmd == "poweroff":
        lab.poweroff(args.node)
    elif cmd == "poweron":
        lab.poweron(args.node)
    elif cmd == "crash":
        print(f"killed {args.node}'s daemon: host pids {lab.crash(args.node)}")
    elif cmd == "link":
        lab.link(args.node, args.iface, args.state == "up")
    elif cmd == "netem":
        lab.netem(args.node, args.iface, _parse_netem(args.spec))
    elif cmd == "capture":
        return _cmd_capture(lab, args)
    elif cmd == "dump":
        return _cmd_dump(lab, args)
    return 0


def _dispatch_bench(args: argparse.Namespace) -> int:
    from lab.bench import command, report_cmd

    if args.command == "bench":
        return command.main(args)
    if args.command == "soak":
        from lab.soak import command as soak

        return soak.main(args)
    if args.command in ("fuzz", "flood"):
        from lab.fuzz import command as fuzz

        return fuzz.main(args)
    if args.command == "cts":
        from lab.cts import command as cts

        return cts.main(args)
    if args.command == "nemesis":
        from lab.nemesis import command as nemesis

        return nemesis.main(args)
    return report_cmd.main(args)


def sweep_all(lab: Lab) -> list[str]:
    """`down --all`: what a lost record no longer names, for both backends."""
    from lab import cleanup
    from lab.state import state_dirs

    prefix = lab.topo.prefix
    netns_dir, docker_dir = state_dirs(prefix)
    return cleanup.sweep_netns(prefix, netns_dir) + cleanup.sweep_docker(prefix, docker_dir)


def _one_line(exc: BaseException) -> str:
    """Any failure as one line: ours say what is wrong; others name their kind."""
    if isinstance(exc, LabError):
        # A step's own output (a daemon's start-up errors) may span lines: keep them.
        return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"{' '.join(map(str, exc.cmd))}: no answer within {exc.timeout:.0f} s"
    if isinstance(exc, subprocess.CalledProcessError):
        return f"{' '.join(map(str, exc.cmd))} failed with exit code {exc.returncode}"
    if type(exc).__module__.startswith(("docker", "requests", "urllib3")):
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"Docker: {text} (is the engine running? make engine-start)"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or exc} (hblab needs root)"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"unexpected {type(exc).__name__}: {text} (hblab --debug shows where)"


# Commands that bring up labs of their own reach the lab's names through this
# process's prefix (lab.topology.REFERENCE is read at import), so `--prefix` for them
# means another process: hblab again, with the prefix in its environment.
OWN_LAB_COMMANDS = ("bench", "soak", "fuzz", "flood", "cts", "nemesis")


def _under_prefix(args: argparse.Namespace, argv: list[str]) -> int | None:
    """Run this command again under ``--prefix`` when it is not this process's own;
    None when there is nothing to do."""
    from lab.state import lab_prefix, prefix_env

    prefix = getattr(args, "prefix", None)
    if args.command not in OWN_LAB_COMMANDS or prefix is None or prefix == lab_prefix():
        return None
    check_prefix(prefix)
    env = prefix_env(prefix)
    return subprocess.run([sys.executable, "-m", "lab", *argv], env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    needs_root = not (args.command == "dump" and args.read is not None)
    if args.command in ("report", "topology"):
        needs_root = getattr(args, "read", None) is None and args.command == "report"
    if args.command in ("web", "watch"):  # a replay needs neither root nor a lab
        needs_root = args.replay is None
    try:
        if args.command == "wireshark":  # the user's own plugins folder: no root, no lab
            return _cmd_wireshark(args)
        if args.command in ("run", "lessons", "forge"):  # each says when it needs root
            from lab.scenario import command as scenario

            return scenario.main(args)
        if needs_root and os.geteuid() != 0:
            raise LabError("hblab needs root (namespaces, mounts, netlink): run it with sudo")
        if (again := _under_prefix(args, sys.argv[1:] if argv is None else argv)) is not None:
            return again
        if args.command in ("cts", "nemesis"):
            return _dispatch_bench(args)
        if args.command in ("bench", "report", "topology", "soak", "fuzz", "flood"):
            return _dispatch_bench(args)
        if args.command in ("web", "watch"):
            from lab.live import command as live

            return live.main(args)
        topology = getattr(args, "topology", None) if args.command == "up" else None
        prefix = args.prefix
        lab = make_lab(args.backend or default_backend(prefix), topology, prefix)
        return dispatch(lab, args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `hblab status | head`: the reader left; that is not an error.
        sys.stderr.close()
        return 0
    except FileProblems as exc:
        # A compiler's answer: every problem of the file, one ``file:line:`` each.
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(f"hblab: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
