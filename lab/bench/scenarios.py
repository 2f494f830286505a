"""The bench's failure scenarios, as data: what is set up, what breaks, what to expect.

Every scenario starts from the tutorial's steady state (master holds the VIP and
serves the page, slave stands by) with the lab's timer profile. ``master`` is the
node that fails; ``slave`` is the observer that must notice it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ScenarioName(enum.StrEnum):
    START = "start"
    POWEROFF = "poweroff"
    CRASH = "crash"
    STOP = "stop"
    FAILBACK = "failback"
    CUT_PING = "cut-ping"
    CUT_NOPING = "cut-noping"
    HEAL = "heal"
    HEAL_PING = "heal-ping"
    FENCE_CUT = "fence-cut"
    FENCE_CRASH = "fence-crash"
    FENCE_POWEROFF = "fence-poweroff"


# No ping node and no ipfail: the pure two-node split brain (ipfail needs ping nodes).
NO_PING = {"ping": "", "respawn": ""}


@dataclass(frozen=True, slots=True)
class Scenario:
    name: ScenarioName
    title: str
    fault: str  # what hblab does at t = 0
    expected_holder: str  # who must hold the VIP once it settles
    overrides: dict[str, str] = field(default_factory=dict)
    # Observe at least this many deadtimes after the fault (plus MIN_WINDOW_EXTRA):
    # a split brain never "settles", so its two-holder time is read over a fixed window.
    min_window_deadtimes: float = 0.0
    settle_timeout: float = 30.0  # seconds after the fault for the end state
    # The end state must hold this many deadtimes (+ STABLE_EXTRA) before it counts:
    # after a heal Heartbeat releases on one node, then the other, then restarts both.
    stable_deadtimes: float = 0.0
    detects: bool = True  # "last heartbeat heard → declared dead" means something here
    # heal-ping: how long eth1 stays out before the heal, by run (cycled), in seconds.
    cut_seconds: tuple[float, ...] = ()
    fencing: bool = False  # hblab up --fencing: a BMC per node, stonith_host lines (lab.bmc)
    # Its figures are CPU-bound (a daemon's own start-up: imports, forks), so with
    # `--jobs` it runs with no other lab beside it.
    alone: bool = False


SCENARIOS: dict[ScenarioName, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            ScenarioName.START,
            "start-up: both daemons started together (service heartbeat start)",
            "start both",
            "master",
            settle_timeout=60.0,
            stable_deadtimes=3.0,
            detects=False,
            alone=True,
        ),
        Scenario(ScenarioName.POWEROFF, "poweroff of the VIP holder", "poweroff master", "slave"),
        Scenario(ScenarioName.CRASH, "kill -9 of the holder's daemon", "crash master", "slave"),
        Scenario(ScenarioName.STOP, "orderly `service heartbeat stop`", "stop master", "slave"),
        Scenario(
            ScenarioName.FAILBACK,
            "auto_failback after poweron",
            "poweron master",
            "master",
            settle_timeout=90.0,
            stable_deadtimes=3.0,  # the state that lasts, not the first moment after
            detects=False,  # master died before t = 0
        ),
        Scenario(
            ScenarioName.CUT_PING,
            "eth1 cut, ping node on eth1 (hbnode_isolation on)",
            "link master eth1 down",
            "slave",
            {"hbnode_isolation": "on"},
            min_window_deadtimes=4.0,
            stable_deadtimes=3.0,
        ),
        Scenario(
            ScenarioName.CUT_NOPING,
            "eth1 cut, no ping node",
            "link master eth1 down",
            "slave",
            dict(NO_PING),
            min_window_deadtimes=4.0,
        ),
        Scenario(
            ScenarioName.HEAL,
            "heal: eth1 replugged after a split brain (no ping node)",
            "link master eth1 up",
            "master",  # auto_failback on: the owner, and it must stay there
            dict(NO_PING),
            settle_timeout=120.0,
            stable_deadtimes=3.0,
            detects=False,  # after a heal, "is dead" is a late-heartbeat artefact
        ),
        Scenario(
            ScenarioName.HEAL_PING,
            "the tutorial's split-brain demo: eth1 out for 0.5-30 s, then back (ping node)",
            "link master eth1 up",
            "master",
            {"hbnode_isolation": "on"},
            settle_timeout=120.0,
            stable_deadtimes=3.0,
            detects=False,
            cut_seconds=(0.5, 1.0, 2.0, 4.0, 10.0, 30.0),
        ),
        # Fencing (hblab up --fencing, docs/fencing.md). A reset reboots the node, which
        # comes back and, with auto_failback on, ends up the holder again: the state
        # that lasts is master alone; two-holder time and the outage say the rest.
        # fence-cut: a reboot plugs no cable back; both are plugged back once the
        # fenced node has booted (runner._replug_after_fence).
        Scenario(
            ScenarioName.FENCE_CUT,
            "eth1 cut on both nodes at once, no ping node, fencing (the fence race);"
            " both plugged back once the fenced node has booted",
            "link master eth1 down; link slave eth1 down",
            "master",
            dict(NO_PING),
            settle_timeout=120.0,
            stable_deadtimes=3.0,
            fencing=True,
        ),
        Scenario(
            ScenarioName.FENCE_CRASH,
            "kill -9 of the holder's daemon, fencing",
            "crash master",
            "master",
            dict(NO_PING),
            settle_timeout=120.0,
            stable_deadtimes=3.0,
            fencing=True,
        ),
        Scenario(
            ScenarioName.FENCE_POWEROFF,
            "poweroff of the holder, fencing (its BMC answers off; the reset powers it on)",
            "poweroff master",
            "master",
            dict(NO_PING),
            settle_timeout=120.0,
            stable_deadtimes=3.0,
            fencing=True,
        ),
    )
}
MIN_WINDOW_EXTRA = 4.0
STABLE_EXTRA = 2.0
QUICK = (ScenarioName.POWEROFF, ScenarioName.STOP)


def parse_scenarios(names: list[str]) -> list[Scenario]:
    """Scenario names from the command line (``all`` or a list), validated."""
    if not names or names == ["all"]:
        return list(SCENARIOS.values())
    result: list[Scenario] = []
    for name in names:
        try:
            result.append(SCENARIOS[ScenarioName(name)])
        except ValueError:
            known = ", ".join(s.value for s in ScenarioName)
            raise ValueError(f"unknown scenario {name!r} (choose from {known})") from None
    return result
