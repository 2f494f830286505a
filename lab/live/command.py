"""`hblab web` and `hblab watch`: parsers and the one entry point both share.

Either view takes its snapshots from a live lab (lab.live.collector, as root) or
from a recording (``--replay FILE``: no root, no lab). ``--record FILE`` saves the
stream being shown. The web server and rich are imported only when used.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lab.errors import LabError

DEFAULT_PORT = 8080


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    web = sub.add_parser("web", help="the lab live in a browser (http://127.0.0.1:PORT/)")
    web.add_argument("--port", type=int, default=DEFAULT_PORT, help="on 127.0.0.1 (default 8080)")
    watch = sub.add_parser("watch", help="the lab live in this terminal (full screen)")
    for parser in (web, watch):
        parser.add_argument("--record", type=Path, metavar="FILE", help="save the stream (.gz ok)")
        parser.add_argument(
            "--replay", type=Path, metavar="FILE", help="play a recording (no root, no lab)"
        )
        parser.add_argument("--loop", action="store_true", help="replay again and again")
        parser.add_argument("--speed", type=float, default=1.0, help="replay speed (default 1)")
        parser.add_argument(
            "--interval",
            type=float,
            default=0.1,
            help="seconds between snapshots of a live lab (default 0.1: ten a second)",
        )


def main(args: argparse.Namespace) -> int:
    from lab.live.collector import LiveModel
    from lab.live.record import Recorder, Replay

    if args.replay is not None and args.record is not None:
        raise LabError("--record saves a live lab: not with --replay")
    if args.speed <= 0 or not 0.02 <= args.interval <= 1.0:
        raise LabError("--speed must be positive, --interval between 0.02 and 1 s")
    if args.replay is not None:
        source: LiveModel | Replay = Replay(args.replay, args.speed, args.loop)
    else:
        source = LiveModel(args.backend, interval=args.interval)
    recorder = Recorder(args.record, source.hello()) if args.record is not None else None
    if recorder is not None:
        source.subscribe(recorder)
    source.start()
    try:
        if args.command == "web":
            from lab.live import web

            web.serve(source, args.backend, args.port)
            return 0
        from lab.live import term

        return term.watch(source)
    finally:
        source.stop()
        if recorder is not None:
            recorder.close()
