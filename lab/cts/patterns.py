"""What CTS looks for in the logs, and how long it waits: Heartbeat 3.0.6's cts/CM_hb.py.

The patterns are CM_hb's R1 ones, unchanged (``%s`` is a node name). CTS read one
syslog file collecting every node's lines, ``MON DD HH:MM:SS host heartbeat: [pid]:
...``; each lab node writes exactly that format to its own /var/log/ha-log
(``logfacility``/``logfile`` in ha.cf), and :mod:`lab.cts.logwatch` reads both files
as one log, so the patterns apply as CTS wrote them.

Timeouts: CTS was tuned for ``deadtime 30`` (CM_hb: ``"DeadTime": 30``,
``"StableTime": 30``; ClusterManager: ``"StartTime": 90``). The lab runs other
timers (the fast profile: deadtime 1.5 s), so every time CTS derives from those
three is scaled by ``deadtime / 30``. The constants CTS adds on top (``+10``,
``+60`` s) and its fixed pauses are kept as they are: they allow for the machine
(slow commands, log delivery). The two watches for a start-up line also get
Heartbeat's own fixed delay that no ha.cf timer sets (RQSTDELAY, 10 s before a
starting node asks for its resources), for both implementations alike.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- CM_hb.py: "Patterns to look for in the log files for various occasions" ------------
WE_STARTED = " (%s) .* Initial resource acquisition complete"
THEY_STARTED = " (%s) .* Initial resource acquisition complete"
WE_STOPPED = "%s heartbeat.*Heartbeat shutdown complete"
THEY_STOPPED = "%s heartbeat.*node (%s).*: is dead"
THEY_DEAD = "node (%s).*: is dead"
ALL_STOPPED = " (%s).*heartbeat.*Heartbeat shutdown complete"
STANDBY_OK = "Standby resource acquisition done"
STANDBY_NONE = "No reply to standby request"
STANDBY_TRANSIENT = "standby message.*ignored.*in flux"
RETURN_PARTITION = "Cluster node %s returning after partition"

# -- CM_hb.py: "Bad news Regexes.  Should never occur." --------------------------------
BAD_REGEXES: tuple[str, ...] = (
    r"Shutting down\.",
    r"Forcing shutdown\.",
    r"Both machines own .* resources!",
    r"No one owns .* resources!",
    r", exiting\.",
    r"ERROR:",
    r"CRIT.*:",
)

# RandomTests.audit ignores its own lines; ClusterManager.errorstoignore() is empty
# for heartbeat.
ALWAYS_IGNORED: tuple[str, ...] = (" CTS: ", "BadNews:")

# CTStests.py: Split_brainTest.errorstoignore()
SPLIT_BRAIN_IGNORED: tuple[str, ...] = (
    "ERROR:.*Both machines own.*resources",
    "ERROR:.*lost a lot of packets!",
    "ERROR: Cannot rexmit pkt .*: seqno too low",
    "ERROR: Irretrievably lost packet: node",
    "CRIT: Cluster node .* returning after partition",
)

# CTStests.py: Fastdetection.errorstoignore() (ccm does not run in R1 mode; kept for
# fidelity: the lines cannot occur)
DETECTION_IGNORED: tuple[str, ...] = (
    "ccm.*ERROR: ccm_control_process:failure to send protoversion request",
    "ccm.*ERROR: Lost connection to heartbeat service. Need to bail out",
)

# -- time ---------------------------------------------------------------------------------
CTS_DEADTIME = 30.0  # CM_hb "DeadTime": the ha.cf deadtime CTS's times were written for
CTS_STABLETIME = 30.0  # CM_hb "StableTime"
CTS_STARTTIME = 90.0  # ClusterManager "StartTime"
CTS_STONITH_TIMEOUT = 900.0  # StonithTest: a reset machine must be back within this
CTS_DETECTION_TIMEOUT = 60.0  # Fastdetection(timeout=60)
# Heartbeat waits this long, whatever ha.cf says, before a starting node asks for its
# resources (hb_resource.c RQSTDELAY). CTS's 30 s-deadtime budgets absorbed it; a
# budget scaled to a 1.5 s deadtime cannot, so the watches for a start-up line add it.
RQSTDELAY = 10.0
AUDIT_TRIES = 5  # ResourceAudit: five looks, a second apart, unless a group runs twice
AUDIT_PAUSE = 1.0
STANDBY_RETRIES = 10  # StandbyTest: a standby ignored "in flux" is asked again
STANDBY_RETRY_PAUSE = 2.0


@dataclass(frozen=True, slots=True)
class Timing:
    """CTS's times for a cluster whose deadtime is ``deadtime`` seconds."""

    deadtime: float

    @property
    def scale(self) -> float:
        return self.deadtime / CTS_DEADTIME

    @property
    def dead_time(self) -> float:
        """CTS "DeadTime": the longest a death may take to be noticed."""
        return CTS_DEADTIME * self.scale

    @property
    def stable_time(self) -> float:
        """CTS "StableTime": how long the cluster is left alone to settle."""
        return CTS_STABLETIME * self.scale

    @property
    def start_time(self) -> float:
        """ClusterManager "StartTime": the longest a start may take."""
        return CTS_STARTTIME * self.scale

    # Each watch as CTS wrote it, with the scaled base and the unscaled constant.
    @property
    def start_watch(self) -> float:
        return self.start_time + 10 + RQSTDELAY  # StartaCM: StartTime+10, + RQSTDELAY

    @property
    def stop_watch(self) -> float:
        return self.dead_time  # StopTest: DeadTime (after a blocking stop)

    @property
    def lite_watch(self) -> float:
        return self.dead_time + 10  # SimulStopLite, standby, Stonith's death watch

    @property
    def lite_start_watch(self) -> float:
        return self.dead_time + 10 + RQSTDELAY  # SimulStartLite: DeadTime+10, + RQSTDELAY

    @property
    def partition_watch(self) -> float:
        return self.dead_time + 60  # Split_brainTest: each of its three watches

    @property
    def stonith_up_watch(self) -> float:
        return CTS_STONITH_TIMEOUT * self.scale

    @property
    def detection_watch(self) -> float:
        return CTS_DETECTION_TIMEOUT * self.scale

    def table(self) -> list[tuple[str, str, float]]:
        """(what, CTS's value, ours) for the run's header and docs/cts.md."""
        return [
            ("DeadTime", "30 s", self.dead_time),
            ("StableTime", "30 s", self.stable_time),
            ("StartTime", "90 s", self.start_time),
            ("start watch (StartaCM)", "StartTime+10 (+ RQSTDELAY 10 s)", self.start_watch),
            ("stop watch (StopTest)", "DeadTime", self.stop_watch),
            ("SimulStartLite", "DeadTime+10 (+ RQSTDELAY 10 s)", self.lite_start_watch),
            ("SimulStopLite, standby, Stonith death watch", "DeadTime+10", self.lite_watch),
            ("Split_brain watches", "DeadTime+60", self.partition_watch),
            ("Stonith: node back up", "900 s", self.stonith_up_watch),
            ("DetectionTime: death seen", "60 s", self.detection_watch),
        ]
