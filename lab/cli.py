"""hblab: bring the two-node Heartbeat lab up, break it, and watch it.

Every user-facing error is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from lab.backends import BACKENDS, Lab, default_backend, make_lab
from lab.errors import LabError
from lab.hafiles import PROFILES, ProfileError, parse_overrides
from lab.impls import ImplError, parse_impls
from lab.netns_backend import NETEM_KEYS
from lab.topology import REFERENCE

EXIT_USAGE = 2


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hblab", description=__doc__)
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="netns or docker (default: $LAB, else the backend whose lab is up, else netns)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="build the lab and boot its nodes")
    up.add_argument("--impl", help="heartbeat | hbnode | master=heartbeat,slave=hbnode")
    up.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    up.add_argument("--config", type=Path, help="a directory with ha.cf/authkeys/haresources")
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
    sub.add_parser("down", help="remove everything the lab created")
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

    cap = sub.add_parser("capture", help="tcpdump an interface of a node to a pcap file")
    cap.add_argument("node")
    cap.add_argument("iface")
    cap.add_argument("-w", dest="out", type=Path, required=True)
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
    _add_bench_parsers(sub)
    return parser


def _add_bench_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """bench, report and topology live in lab.bench (matplotlib loads only when drawing)."""
    from lab.bench import command, report_cmd
    from lab.fuzz import command as fuzz
    from lab.soak import command as soak

    command.add_parser(sub)
    report_cmd.add_parsers(sub)
    soak.add_parser(sub)
    fuzz.add_parsers(sub)


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
    holders = ", ".join(status["vip_holders"]) or "nobody"
    print(
        f"backend {status['backend']}  profile {status['profile']}  "
        f"VIP {status['vip']} held by {holders}"
    )
    for name, info in status["nodes"].items():
        addrs = " ".join(
            f"{ifn}={'+'.join(a['address'] for a in lst)}"
            for ifn, lst in sorted(info["addresses"].items())
        )
        daemon = f" {info['impl']}:{info['daemon']}" if "daemon" in info else ""
        where = f"netns {info['netns']}"
        if "container" in info:  # the docker backend names the container instead
            where = f"container {info['container']}"
        print(f"  {name:<7} {info['power']:<4}{daemon:<22} {where:<23} {addrs}")


def _cmd_up(lab: Lab, args: argparse.Namespace) -> int:
    impls = parse_impls(args.impl, [h.name for h in REFERENCE.cluster_nodes])
    started = time.monotonic()
    lab.up(impls, args.profile, parse_overrides(args.set), args.config, not args.no_start)
    print(f"lab up in {time.monotonic() - started:.2f} s")
    _print_status(lab.status())
    return 0


def _cmd_dump(lab: Lab, args: argparse.Namespace) -> int:
    from lab import dump  # scapy loads slowly: only for the commands that need it

    if args.read is None:
        if not (args.node and args.iface):
            raise LabError("dump wants --read FILE.pcap or NODE IFACE")
        lab._iface(args.node, args.iface)
        netns = lab.require_up().nodes[args.node].netns
        return dump.dump_live(netns, args.iface, args.authkeys, args.json, args.count, args.seconds)
    return dump.dump_file(args.read, args.authkeys, args.json)


def dispatch(lab: Lab, args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "up":
        return _cmd_up(lab, args)
    if cmd == "down":
        started = time.monotonic()
        removed = lab.down()
        print(
            f"lab down in {time.monotonic() - started:.2f} s"
            + (f" (removed {', '.join(removed)})" if removed else " (nothing was up)")
        )
        return 0
    if cmd == "status":
        status = lab.status()
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
        return lab.capture(args.node, args.iface, args.out, args.seconds, args.filter)
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
    return report_cmd.main(args)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    needs_root = not (args.command == "dump" and args.read is not None)
    if args.command in ("report", "topology"):
        needs_root = getattr(args, "read", None) is None and args.command == "report"
    try:
        if needs_root and os.geteuid() != 0:
            raise LabError("hblab needs root (namespaces, mounts, netlink): run it with sudo")
        if args.command in ("bench", "report", "topology", "soak", "fuzz", "flood"):
            return _dispatch_bench(args)
        return dispatch(make_lab(args.backend or default_backend()), args)
    except (LabError, ProfileError, ImplError) as exc:
        print(f"hblab: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `hblab status | head`: the reader left; that is not an error.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
