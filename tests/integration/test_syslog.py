"""Each node runs rsyslog with CentOS's rules: the daemon's lines reach /var/log/messages.

With no log line at all in ha.cf, Heartbeat logs through ha_logd to syslog (facility
daemon) and hbnode writes syslog itself, the same way; with the tutorial's
``logfacility local0`` the lines reach /var/log/messages too, as on CentOS.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .helpers import Cluster, wait_until

NO_LOG_LINES = {"logfile": "", "debugfile": "", "logfacility": ""}
STARTUP_TIMEOUT = 60.0
TAKEOVER_MARGIN = 6.0


def _syslog_line(node: str, text: str) -> re.Pattern[str]:
    """A traditional syslog line from the daemon: `Nov 30 15:04:09 master heartbeat: [43]: …`."""
    stamp = r"\w{3} [ \d]\d \d\d:\d\d:\d\d"
    return re.compile(rf"^{stamp} {node} heartbeat: \[\d+\]: .*{re.escape(text)}", re.M)


def _messages_say(cluster: Cluster, node: str, text: str) -> Callable[[], bool]:
    return lambda: bool(_syslog_line(node, text).search(cluster.log(node, "messages")))


def test_no_log_line_logs_to_the_nodes_syslog(
    lab_factory: Callable[..., Cluster], impl_spec: str
) -> None:
    cluster = lab_factory(impl_spec, NO_LOG_LINES)
    cluster.startup("master", STARTUP_TIMEOUT)
    for node in ("master", "slave"):
        wait_until(
            _messages_say(cluster, node, "Configuration validated. Starting heartbeat"),
            10.0,
            f"{node}'s start-up in its /var/log/messages",
        )
        # The tutorial's check, inside the node.
        grep = cluster.lab.run(node, ["grep", "heartbeat", "/var/log/messages"], timeout=10)
        assert grep.returncode == 0 and grep.stdout.strip()
        # ha.cf names no file, and ha_logd's defaults (Debian's logd.cf) write none either.
        assert not (cluster.lab.log_dir(node) / "ha-log").exists()
    cluster.lab.poweroff("master")
    cluster.wait_holder("slave", cluster.deadtime + TAKEOVER_MARGIN)
    wait_until(
        _messages_say(cluster, "slave", "node master: is dead"),
        10.0,
        "the takeover in slave's /var/log/messages",
    )


def test_the_tutorials_logfacility_reaches_messages_too(
    lab_factory: Callable[..., Cluster], impl_spec: str
) -> None:
    cluster = lab_factory(impl_spec)  # logfile, debugfile and logfacility local0
    cluster.startup("master", STARTUP_TIMEOUT)
    for node in ("master", "slave"):
        wait_until(
            _messages_say(cluster, node, "Starting heartbeat"),
            10.0,
            f"local0.info lines of {node} in /var/log/messages (CentOS's *.info rule)",
        )
        assert "Starting heartbeat" in cluster.log(node)
