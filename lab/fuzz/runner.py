"""One fuzz or flood run: its own lab up, capture, measure, send, measure, lab down.

The sender sits on gw (the ping node on the heartbeat segment, 172.16.254.1) and
sends to the target node's eth1 address, UDP 694: the path an attacker on the
heartbeat LAN would use. The target is slave by default, the standby: a false
death verdict there shows as a takeover.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.fuzz import observe, report
from lab.fuzz.corpus import Category

REPO = Path(__file__).resolve().parents[2]
MASTER = "master"
SENDER = "gw"
DRAIN_TIMEOUT = 20.0  # the target's socket queue must empty within this after sending
PSS_LIMIT_KIB = 20 * 1024


@dataclass
class RunOptions:
    kind: str  # fuzz | flood
    count: int
    rate: float
    seconds: float
    seed: int = 1
    target: str = "slave"
    impl: str = "hbnode"
    profile: str = "fast"
    overrides: dict[str, str] = field(default_factory=dict)
    mix: str = "mixed"  # flood: junk | wrongkey | mixed
    capture_seconds: float = 3.0
    pss_limit_kib: int = PSS_LIMIT_KIB
    backend: str | None = None  # netns or docker (None: hblab's own choice)


def progress(line: str) -> None:
    import sys

    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def _addr(node: str) -> str:
    from lab.topology import REFERENCE

    host = REFERENCE.host(node)
    addr = host.address_on("eth1") if host else None
    if addr is None:
        raise LabError(f"{node} has no eth1 address in the topology")
    return str(addr.ip)


def _stream(options: RunOptions, captured: list[bytes]) -> Iterator[tuple[Category, bytes]]:
    from lab.fuzz import corpus, templates
    from lab.hafiles import AUTHKEYS
    from lab.hbcodec import parse_authkeys
    from lab.topology import REFERENCE
    from tests.pcap_util import capture_path

    nodes = [h.name for h in REFERENCE.cluster_nodes]
    fixture = templates.fixture_payloads(capture_path()) if capture_path().exists() else []
    if options.kind == "flood":
        pool = templates.wrong_key_pool(captured + fixture, nodes)
        return corpus.flood_stream(options.seed, pool, options.mix)
    keys = parse_authkeys(AUTHKEYS)
    built = templates.build(keys, nodes, captured, fixture, options.seed)
    return iter(corpus.Corpus(built, options.seed))


def _types(captured: list[bytes]) -> dict[str, int]:
    """``src t`` → how many, of the captured packets (what the replays will be)."""
    from collections import Counter

    from lab.hbcodec import CodecError, parse_untrusted

    found: Counter[str] = Counter()
    for data in captured:
        try:
            message = parse_untrusted(data).message
        except CodecError:
            found["undecodable"] += 1
            continue
        seq = "" if message.get("seq") is not None else " (no seq)"
        found[f"{message.get('src')} {message.get('t')}{seq}"] += 1
    return dict(found)


def _rx_queue(pid: int, port: int = 694) -> int:
    """Bytes waiting on the UDP socket(s) bound to ``port`` in the daemon's namespace."""
    total = 0
    for line in Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]:
        parts = line.split()
        if int(parts[1].split(":")[1], 16) == port:
            total += int(parts[4].split(":")[1], 16)
    return total


def _wait_drained(pid: int) -> float:
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_TIMEOUT:
        if _rx_queue(pid) == 0:
            return time.monotonic() - started
        time.sleep(0.05)
    raise LabError(f"the target's UDP queue did not empty within {DRAIN_TIMEOUT:g} s")


def run(options: RunOptions, say: Callable[[str], None] = progress) -> dict[str, Any]:
    from lab.backends import make_lab
    from lab.bench.machine import revision, this_machine
    from lab.bench.runner import start_cluster

    lab = make_lab(options.backend)
    if lab.is_up:
        raise LabError(
            "a lab is up with this HBLAB_PREFIX/HBLAB_STATE_DIR: fuzz and flood need their "
            "own (make fuzz sets HBLAB_PREFIX=hbf HBLAB_STATE_DIR=/var/lib/hbf)"
        )
    result: dict[str, Any] = {
        "format": "hblab-fuzz/1",
        "kind": options.kind,
        "options": asdict(options),
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": revision(REPO),
        "machine": asdict(this_machine()),
        "error": None,
    }
    began = time.monotonic()
    try:
        say(f"lab up: {options.impl}, profile {options.profile} {options.overrides or ''}")
        start_cluster(lab, options.impl, options.profile, options.overrides)
        _measure(lab, options, result, say)
    except Exception as exc:  # the lab still goes down; what was measured is kept
        result["error"] = f"{type(exc).__name__}: {exc}"
        say(f"error: {result['error']}")
    finally:
        removed = lab.down()
        say(f"lab down ({len(removed)} things removed)")
        result["seconds"] = round(time.monotonic() - began, 1)
    result["ok"] = result["error"] is None and all(result.get("checks", {"ran": False}).values())
    return result


def measure_on(
    lab: Any, options: RunOptions, say: Callable[[str], None] = progress
) -> dict[str, Any]:
    """Fuzz or flood a lab that is already up and steady (the integration tests)."""
    result: dict[str, Any] = {"kind": options.kind, "options": asdict(options), "error": None}
    _measure(lab, options, result, say)
    result["ok"] = all(result["checks"].values())
    return result


def _measure(
    lab: Any, options: RunOptions, result: dict[str, Any], say: Callable[[str], None]
) -> None:
    from lab import netsock
    from lab.fuzz.capture import sniff_heartbeats
    from lab.fuzz.sender import send_paced
    from lab.topology import REFERENCE

    nodes = [h.name for h in REFERENCE.cluster_nodes]
    target, peer = options.target, next(n for n in nodes if n != options.target)
    timers = lab.timers()  # the nodes' own ha.cf: --set keepalive=/deadtime= count
    result["timers"] = {k: f"{getattr(timers, k) * 1000:g}ms" for k in ("keepalive", "deadtime")}
    say(f"capturing the cluster's packets on {target}:eth1 for {options.capture_seconds:g} s")
    captured = sniff_heartbeats(
        lab.netns_of(target), "eth1", {_addr(n) for n in nodes}, options.capture_seconds
    )
    result["captured"] = len(captured)
    result["captured_types"] = _types(captured)
    stream = _stream(options, captured)
    pids = {n: observe.daemon_pid(lab, n) for n in nodes}
    target_pid = pids[target]
    if target_pid is None:
        raise LabError(f"no hbnode daemon runs on {target}")
    offsets = {
        (n, name): observe.log_size(lab, n, name)
        for n in nodes
        for name in ("ha-log", "ha-events.jsonl", "ha-debug")
    }
    sock = netsock.inet_socket(lab.netns_of(SENDER), socket.SOCK_DGRAM)
    sampler = observe.Sampler(lab, observe.daemon_pids(lab, target))
    hb = options.impl == "hbnode"
    try:
        p0a = observe.Snapshot.take(lab, peer, hb)
        t0 = observe.Snapshot.take(lab, target, hb)
        p0b = observe.Snapshot.take(lab, peer, hb)
        sampler.start()
        say(f"sending {options.count:,} datagrams at {options.rate:,.0f}/s to {target} "
            f"({_addr(target)}:694) from {SENDER}")  # fmt: skip
        sent = send_paced(
            sock, (_addr(target), 694), stream, options.rate, options.count, options.seconds
        )
        say(f"sent {sent.sent:,} in {sent.seconds:.1f} s ({sent.rate:,.0f}/s); draining")
        result["drain_s"] = round(_wait_drained(target_pid), 3)
        sampler.stop()
        p1a = observe.Snapshot.take(lab, peer, hb)
        t1 = observe.Snapshot.take(lab, target, hb)
        p1b = observe.Snapshot.take(lab, peer, hb)
    finally:
        sock.close()
        sampler.stop()
    result["send"] = sent.to_json()
    accounting = report.account(sent.sent, (t0, t1), (p0a, p0b, p1a, p1b))
    result["accounting"] = accounting.to_json()
    result["usage"] = sampler.summary()
    result["snapshots"] = {"target_before": t0.to_json(), "target_after": t1.to_json()}
    _judge(lab, options, result, nodes, target, peer, pids, offsets, accounting, t1)


def _judge(
    lab: Any,
    options: RunOptions,
    result: dict[str, Any],
    nodes: list[str],
    target: str,
    peer: str,
    pids: dict[str, int | None],
    offsets: dict[tuple[str, str], int],
    accounting: report.Accounting,
    after: observe.Snapshot,
) -> None:
    new = {key: observe.log_since(lab, key[0], key[1], off) for key, off in offsets.items()}
    target_log = new[(target, "ha-log")].splitlines()
    rejection = [ln for ln in target_log if any(m in ln for m in observe.REJECTION_LOG_MARKS)]
    deaths = [
        f"{n}: {ln}"
        for n in nodes
        for ln in new[(n, "ha-log")].splitlines()
        if any(m in ln for m in observe.DEATH_LOG_MARKS)
    ]
    events = []
    for n in nodes:
        for ln in new[(n, "ha-events.jsonl")].splitlines():
            try:
                step = json.loads(ln).get("step")
            except ValueError:
                continue
            if step in observe.BAD_EVENTS or "takeover" in str(step):
                events.append(f"{n}: {ln}")
    reasons = sum(1 for v in accounting.rejected.values() if v) + 2  # + unknown, replay
    seconds = result["send"]["seconds"] + result.get("drain_s", 0)
    result["log"] = {
        "lines": len(target_log),
        "rejection_lines": len(rejection),
        "bound": report.log_line_bound(reasons, seconds),
        "debug_bytes": len(new[(target, "ha-debug")]),
        "death_lines": deaths[:20],
        "bad_events": events[:20],
        "rejection_sample": rejection[:6],
    }
    pids_after = {n: observe.daemon_pid(lab, n) for n in nodes}
    result["pids_before"], result["pids_after"] = pids, pids_after
    result["pids_unchanged"] = pids == pids_after and all(pids.values())
    holders = lab.vip_holders()
    peer_status = (after.nodes.get(peer) or {}).get("status")
    result["final"] = {"holders": holders, f"{target}_sees_{peer}": peer_status}
    usage = result["usage"]
    result["checks"] = {
        "daemons_alive_same_pid": result["pids_unchanged"],
        "no_false_death_or_takeover": not deaths
        and not events
        and usage.get("holder_sets") == [MASTER]
        and holders == [MASTER]
        and peer_status in ("active", "up"),
        "accounting_adds_up": options.impl != "hbnode"  # Heartbeat has no such counters
        or (accounting.link_balanced and accounting.unexplained == 0),
        "rejection_logs_rate_limited": len(rejection) <= result["log"]["bound"],
        "memory_bounded": usage.get("pss_growth_kib", 1 << 30) < options.pss_limit_kib,
    }
    result["title"] = (
        f"{options.impl} target {target}, {result['send']['sent']:,} datagrams, "
        f"keepalive {result['timers']['keepalive']} deadtime {result['timers']['deadtime']}"
        + (f", {options.mix}" if options.kind == "flood" else f", seed {options.seed}")
    )
