"""``hblab forge``: speak in a cluster node's name, as an attacker on eth1 would.

The forger (lab.forge.StatusForger: the scapy layer, signed with the key given)
first hears a status of the victim on the target's eth1, then, once the victim
falls silent (powered off, say), sends status messages that continue its
sequence, from another host with the victim's address. With the cluster's key the
target believes them; with another key it logs them as bad.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from lab.backends import default_backend, make_lab
from lab.errors import LabError
from lab.forge import StatusForger
from lab.scenario.actions import FORGE_MAX, LEARN_TIMEOUT, keyring

SILENCE_KEEPALIVES = 4  # no packet from the victim for this many keepalives: it is silent
SILENCE_TIMEOUT = 300.0


def main(args: argparse.Namespace) -> int:
    lab = make_lab(args.backend or default_backend())
    lab.require_up()
    for name in (args.sender, args.victim, args.target):
        lab.require_on(name)
    on = {h.name: lab.netns_of(h.name) for h in lab.topo.hosts if lab.is_on(h.name)}
    keepalive = lab.timers().keepalive
    forger = StatusForger(
        lab.topo, on, args.victim, args.target, args.sender, keyring(args.key, lab)
    )
    try:
        forger.start_learning(FORGE_MAX + SILENCE_TIMEOUT)
        _wait(lambda: forger.learned.last is not None, LEARN_TIMEOUT,
              f"no status from {args.victim} on {args.target}'s eth1")  # fmt: skip
        print(f"heard {args.victim}'s status (seq {forger.learned.max_seq:x})", flush=True)
        if not args.now:
            print(f"waiting for {args.victim} to fall silent "
                  f"(hblab poweroff {args.victim}, in another terminal)…", flush=True)  # fmt: skip
            _wait_silent(forger, SILENCE_KEEPALIVES * keepalive)
        every = args.every or keepalive
        seconds = min(args.seconds, FORGE_MAX)
        forger.start_forging(every, seconds)
        print(f"forging status messages as {args.victim} from {args.sender} to {args.target}, "
              f"every {every:g} s for {seconds:g} s (Ctrl-C stops)", flush=True)  # fmt: skip
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:  # bounded by --seconds
            time.sleep(0.2)
    finally:
        forger.stop()
    print(f"sent {forger.sent} forged status messages")
    return 0


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise LabError(f"{what} within {timeout:g} s")
        time.sleep(0.05)


def _wait_silent(forger: StatusForger, quiet: float) -> None:
    """Until no packet of the victim was heard for ``quiet`` seconds (bounded)."""
    deadline = time.monotonic() + SILENCE_TIMEOUT
    seen, since = forger.learned.seen, time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            raise LabError(f"{forger.victim} did not fall silent within {SILENCE_TIMEOUT:g} s")
        if forger.learned.seen != seen:
            seen, since = forger.learned.seen, time.monotonic()
        time.sleep(0.05)
