"""BENCHMARKS.md: the latest bench results, the machine, and how each figure is measured."""

from __future__ import annotations

from lab.bench import idletable, table, targets
from lab.bench.model import BenchResult
from lab.bench.scenarios import SCENARIOS

METHOD = """\
## How each figure is measured

Every run gets a fresh lab (`hblab up`, then `down` in a `finally`). It waits for
the tutorial's steady state: master holds the VIP and the client gets master's page.
Then it starts the watchers, waits 1 s, and does the scenario's fault at t = 0.
The run ends once the end state holds, the client has its page back and 2 s more
have passed. A split brain never settles, so the eth1 cuts are watched for at least
4 × deadtime + 4 s after the fault.

"""

# (figure, how it is measured): rendered as the table under METHOD.
METHODS = (
    (
        "HTTP outage",
        "`GET http://VIP/` from `client`, a new connection each time, every 20 ms, with a "
        "100 ms timeout. The figure is the longest run of failed probes after t = 0, from "
        "the first failure to the next success.",
    ),
    (
        "client ARP → new holder",
        "The client's neighbour entry for the VIP is polled over netlink every 20 ms. The "
        "figure is the first time after t = 0 that it holds the MAC of the node that should "
        "hold the VIP.",
    ),
    (
        "two holders / no holder",
        "`ArpWatch`: the client sends an ARP who-has for the VIP every 20 ms and a scapy "
        "socket records which MACs answer it (a gratuitous ARP is not an answer). The "
        "figures are the total time after t = 0 with two or more MACs answering, and with "
        "none.",
    ),
    (
        "detection (capture → log)",
        "tcpdump on the survivor's eth1 gives the kernel timestamp of the last packet heard "
        "from the failed node. The survivor's `/var/log/ha-log` is polled every 10 ms for "
        "`node master: is dead`, and the line is timestamped when it appears. Heartbeat's own "
        "log timestamps have 1 s resolution, so they are not used. Both implementations are "
        "measured the same way (±10 ms).",
    ),
    (
        "detection (event log)",
        "hbnode only: `peer_dead.ts − last_heartbeat_heard.ts` from its "
        "`/var/log/ha-events.jsonl`, with millisecond timestamps, as a cross-check.",
    ),
    (
        "idle CPU / PSS / processes per daemon",
        "Each implementation gets a lab of its own (netns backend) and all of them idle at "
        "the same time, after startup, so machine load hits them alike. Each daemon's "
        "processes are found through the node's PID namespace: the pid file inside the node, "
        "then its heartbeat/ipfail/hbnode children (respawned clients count). CPU is the "
        "on-CPU time of every thread (`/proc/PID/task/*/schedstat`, ns) plus cutime+cstime "
        "per 10 s slice, as a % of one core. PSS is the median of the per-second sums of "
        "`/proc/PID/smaps_rollup` Pss. Each node and slice is one sample.",
    ),
)

NOTES = """\
Cells show the median (min–max) over the runs that reached their end state, and
`n=` when fewer runs did. The ratio column is hbnode's median divided by Heartbeat's.
"""


def scenario_lines() -> list[str]:
    return [f"- `{s.name.value}`: {s.title} (t = 0: `{s.fault}`)" for s in SCENARIOS.values()]


def _where(jobs: int) -> str:
    if jobs == 1:
        return "Every figure below comes from that one run, on one lab, with the same timers."
    return (
        f"Every figure below comes from that one run, with the same timers, in {jobs} labs "
        "side by side: each scenario's runs of every implementation at the same time "
        "(`--jobs`), the idle window alone afterwards."
    )


def render(result: BenchResult, command: str) -> str:
    timers = ", ".join(f"{k} {v:g} s" for k, v in result.timers.items())
    minutes = result.seconds / 60
    lines = [
        "# Benchmarks: hbnode and the real Heartbeat 3.0.6, side by side",
        "",
        f"Written by `{command}` on {result.started} (took {minutes:.1f} min).",
        _where(result.jobs),
        "",
        f"- machine: {result.machine.describe()}",
        f"- implementations: {', '.join(result.impls)}; runs per scenario: {result.runs}",
        f"- source tree: `{result.revision or 'unknown'}`",
        f"- timer profile `{result.profile}`: {timers}",
        "",
        "## Results",
        "",
        table.render_markdown(result),
    ]
    failures = table.failure_lines(result)
    if failures:
        lines += ["Runs that missed their end state (left out of the figures):", ""]
        lines += [f"- {line}" for line in failures] + [""]
    processes = idletable.render_markdown(result)
    if processes:
        lines += ["Idle cost of each process, per node (median and range over nodes and slices):"]
        lines += ["", processes]
    lines += ["## Targets (issue 6)", "", *targets.render(targets.check(result)), ""]
    lines += ["## Scenarios", "", *scenario_lines(), "", METHOD]
    lines += ["| figure | method |", "|---|---|", *(f"| {f} | {m} |" for f, m in METHODS), ""]
    lines.append(NOTES)
    return "\n".join(lines)
