"""Logging to the journal when stderr is the journal stream ($JOURNAL_STREAM).

journald reads ``<N>`` at the start of each line as the priority (sd-daemon(3))
and stamps the time, host and pid itself: hbnode's line must carry neither, and
must not reach the journal a second time through syslog.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from hbnode.config import load_config
from hbnode.daemon import make_logger
from hbnode.hblog import HbLogger, stream_is_journal
from tests.harness.stepped_pair import _ha_d


def test_each_line_carries_its_priority_and_no_timestamp() -> None:
    journal = io.StringIO()
    logger = HbLogger(journal=journal, clock=lambda: 0.0)
    logger.info("Link slave:eth1 up.")
    logger.crit("Resource STOP failure. Reboot required!")
    logger.warn("Late heartbeat: Node slave:\ninterval 2010 ms")
    logger.debug("only with debug on")
    assert journal.getvalue() == (
        "<6>Link slave:eth1 up.\n"
        "<2>Resource STOP failure. Reboot required!\n"
        "<4>Late heartbeat: Node slave:\n<4>interval 2010 ms\n"  # one prefix per line
    )
    logger.debug_level = 1
    logger.debug("now it is")
    assert journal.getvalue().endswith("<7>now it is\n")


def test_a_stream_is_the_journal_only_by_device_and_inode(tmp_path: Path) -> None:
    path = tmp_path / "stream"
    with path.open("w") as stream, (tmp_path / "other").open("w") as other:
        st = os.fstat(stream.fileno())
        named = f"{st.st_dev}:{st.st_ino}"
        assert stream_is_journal(stream.fileno(), named)
        assert not stream_is_journal(other.fileno(), named)  # e.g. a redirect in a shell
        assert not stream_is_journal(stream.fileno(), None)
        assert not stream_is_journal(stream.fileno(), "garbage")
        assert not stream_is_journal(9999, named)


def test_the_journal_replaces_syslog_and_the_echo_but_not_the_files(tmp_path: Path) -> None:
    ha_d = _ha_d(tmp_path / "ha.d", "logfile /var/log/ha-log\nlogfacility local0\n")
    config = load_config(ha_d, "master")
    sent: list[tuple[int, str]] = []
    journal = io.StringIO()
    logger = make_logger(
        config, True, syslog_send=lambda p, m: sent.append((p, m)), journal=journal
    )
    assert logger.syslog is None and logger.echo is None
    assert logger.logfile == Path("/var/log/ha-log")  # ha-log is where people grep
    plain = make_logger(config, True, syslog_send=lambda p, m: sent.append((p, m)))
    assert plain.syslog is not None and plain.journal is None and plain.echo is not None
