"""The daemon: a thin I/O adapter around the sans-IO core.

Everything that decides (membership, sequencing, resources) lives in pure code
driven by the clock passed in. This module only moves bytes and time: it reads
datagrams and hands them to the codec and the core, sends what the core wants
sent, arms one timer at the core's next deadline, and answers the control socket.
"""

from __future__ import annotations

import contextlib
import grp
import os
import selectors
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from hbnode import __version__
from hbnode.config import ClusterConfig, ConfigError, load_config
from hbnode.config.logsinks import log_sinks
from hbnode.control import CONTROL_SOCKET, parse_request_untrusted
from hbnode.control_commands import answer
from hbnode.daemonize import daemonize as detach_and_run
from hbnode.eventlog import EVENTS_FILE, EventLog
from hbnode.executor import ActionExecutor, Outcome, Progress
from hbnode.hblog import HbLogger, Level, SyslogSend, SyslogSink, stream_is_journal
from hbnode.held_clients import HeldClients
from hbnode.link_io import LinkIO
from hbnode.loadavg import LoadAvg
from hbnode.loopwatch import LoopWatch
from hbnode.node import Node
from hbnode.persist import load_persisted
from hbnode.pidfile import remove_pid, write_pid
from hbnode.realtime import make_realtime
from hbnode.resource_runner import make_fence_runner, make_runner
from hbnode.respawn import Supervisor
from hbnode.rm import ActionKind
from hbnode.rm.fencing import FenceResult
from hbnode.sdnotify import Notifier
from hbnode.service import ServiceNotices
from hbnode.takeovers import TakeoverStats
from hbnode.watchdog_io import Watchdog, WatchdogDevice

if TYPE_CHECKING:
    from hbnode.metrics import MetricsServer  # prometheus_client: imported only when asked for

CLIENT_GROUP = "haclient"
MAX_IDLE_WAIT = 1.0  # wake at least this often even if the core has no timer
TIMER_SLACK = 0.001  # epoll counts in ms: a timer this close is due now
CONTROL_TIMEOUT = 0.25  # a whole control request must arrive within this


class Daemon:
    def __init__(
        self, config: ClusterConfig, logger: HbLogger, notifier: Notifier | None = None
    ) -> None:
        self.config = config
        self.log = logger
        self.selector = selectors.DefaultSelector()
        self.events = EventLog(EVENTS_FILE, time.time, echo=logger.info)
        self.loadavg = LoadAvg()
        self.node = Node(
            config,
            logger,
            now=time.monotonic(),
            wallclock=time.time,
            events=self.events,
            persisted=load_persisted(config.hacf.hbgenmethod.value),
            loadavg=self.loadavg,
        )
        self.links = LinkIO(config, self.node, logger)
        self.executor = ActionExecutor(make_runner(config, logger))
        # Resets run on a worker of their own (Heartbeat forks one per reset): a
        # STONITH device that takes a minute must hold up neither the heartbeats
        # nor a resource release.
        self.fencer: ActionExecutor | None = None
        if config.hacf.stonith is not None:
            self.fencer = ActionExecutor(make_fence_runner(config))
        self.respawn = Supervisor(list(config.hacf.respawn), logger)
        self.takeovers = TakeoverStats()
        self.lateness = LoopWatch(config.hacf.keepalive_ms / 1000)
        # systemd (Type=notify): READY, STATUS, STOPPING, WATCHDOG (hbnode.service).
        self.service = ServiceNotices(notifier or Notifier(None), self.node)
        self.metrics: MetricsServer | None = None  # with ha.cf's hbnode_metrics
        self.respawn_started = False
        self.control: socket.socket | None = None
        self.held = HeldClients(self.selector, self._client_gone)
        self.signal_r, self.signal_w = socket.socketpair()
        self.pending_signals: list[int] = []
        self.stopping = False
        # ha.cf "watchdog": fed once per keepalive while this loop turns (hbnode.watchdog).
        self.watchdog: Watchdog | None = None
        hacf = config.hacf
        if hacf.watchdog is not None:
            device = WatchdogDevice(hacf.watchdog, logger)
            self.watchdog = Watchdog(device, hacf.keepalive_ms / 1000, hacf.deadtime_ms)

    # -- set-up / tear-down ------------------------------------------------------
    def open(self) -> None:
        write_pid()
        self.links.open(self.selector)
        self._open_control()
        self._install_signals()
        self.selector.register(self.executor, selectors.EVENT_READ, self._on_outcomes)
        if self.fencer is not None:
            self.selector.register(self.fencer, selectors.EVENT_READ, self._on_fences)
        self._open_metrics()
        if self.watchdog is not None:
            self.watchdog.open(time.monotonic())  # last: hb_init_watchdog, once all is up

    def _open_control(self) -> None:
        path = CONTROL_SOCKET
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        # Root and Heartbeat's client group (haclient: ipfail runs as hacluster) only.
        try:
            os.chown(path, 0, grp.getgrnam(CLIENT_GROUP).gr_gid)
            os.chmod(path, 0o660)
        except KeyError:
            os.chmod(path, 0o600)
        sock.listen(16)
        sock.setblocking(False)
        self.control = sock
        self.selector.register(sock, selectors.EVENT_READ, self._on_control)

    def _open_metrics(self) -> None:
        """ha.cf hbnode_metrics: a scraper's endpoint is no reason to refuse to run,
        so a port that is taken is logged and the node runs without it."""
        if self.config.hacf.metrics is None:
            return
        from hbnode.metrics import MetricsServer  # prometheus_client: only when asked for

        address, port = self.config.hacf.metrics
        try:
            self.metrics = MetricsServer(address, port)
        except OSError as exc:
            self.log.error(f"hbnode_metrics: cannot listen on {address}:{port}: {exc}")
            return
        self.metrics.start()
        self.log.info(f"Prometheus metrics on http://{address}:{port}/metrics")

    def _install_signals(self) -> None:
        self.signal_w.setblocking(False)
        self.signal_r.setblocking(False)
        signal.set_wakeup_fd(self.signal_w.fileno())
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD):
            signal.signal(sig, self._on_signal)
        self.selector.register(self.signal_r, selectors.EVENT_READ, self._drain_signals)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.pending_signals.append(signum)

    def close(self, orderly: bool = True) -> None:
        """Release everything; ``orderly`` False is the crash path.

        Only an orderly close disarms the watchdog (magic close): after a crash
        the device keeps counting and resets the machine, as with Heartbeat.
        """
        if self.watchdog is not None:
            self.watchdog.close(orderly)
        if self.metrics is not None:
            self.metrics.close()
        self.service.close()
        self.respawn.stop_all()
        self.held.close()
        self.executor.close()
        if self.fencer is not None:
            self.fencer.close()
        self.links.close()
        self.loadavg.close()
        if self.control is not None:
            self.control.close()
            with contextlib.suppress(FileNotFoundError):
                CONTROL_SOCKET.unlink()
        remove_pid()

    # -- the loop ----------------------------------------------------------------
    def run(self) -> int:
        self.node.start(time.monotonic())
        self.links.flush(time.monotonic())
        self.service.ready(time.monotonic())  # config loaded, links open, first status out
        for _ in iter(int, 1):  # until shutdown completes; each turn is bounded
            now = time.monotonic()
            watchdog = self.watchdog.get_timer() if self.watchdog else None
            node_due = self.node.get_timer()
            service = self.service.get_timer()
            timers = (node_due, self.respawn.get_timer(), watchdog, service)
            deadlines = [t for t in timers if t]
            deadline = min(deadlines) if deadlines else None
            wait = (
                MAX_IDLE_WAIT if deadline is None else max(0.0, min(deadline - now, MAX_IDLE_WAIT))
            )
            self._dispatch(wait)
            now = time.monotonic()
            # Only when due: a datagram that woke us was handed to the node already,
            # and most wake-ups are datagrams (two of three at keepalive 250 ms).
            if node_due is None or now + TIMER_SLACK >= node_due:
                if node_due is not None and (late := self.lateness.ran(node_due, now)):
                    self.log.warn(late)
                # The timer judges silence (the early isolation verdict): first read what
                # came while this turn ran. A turn the host held up (a blocked log write, a
                # busy CPU) must not count the statuses queued meanwhile as unheard.
                self._dispatch(0.0)
                now = time.monotonic()
                self.node.handle_timer(now)
            self._after_input(now)
            if self.watchdog is not None:
                self.watchdog.poll(now)
            self.service.handle_timer(now)
            fencing = self.fencer is not None and not self.fencer.idle()
            if self.node.finished(now) and self.executor.idle() and not fencing:
                self.log.info(f"{self.config.node_name} Heartbeat shutdown complete.")
                return 0
        return 1

    def _dispatch(self, wait: float) -> None:
        """Hand each ready socket to its reader, waiting up to ``wait`` for one."""
        for key, _mask in self.selector.select(wait):
            key.data(key.fileobj)

    def _after_input(self, now: float) -> None:
        """Send what the node queued, hand its actions to the worker, start clients."""
        self.links.flush(now)
        for action in self.node.take_actions():
            self.takeovers.submitted(action, now)
            if action.kind is ActionKind.FENCE and self.fencer is not None:
                self.fencer.submit(action)
            else:
                self.executor.submit(action)
        if self.node.core.comm_up() and not self.respawn_started and not self.stopping:
            self.respawn_started = True
            self.respawn.start_all(now)
        self.respawn.poll(now, reap=False)  # reaping waits for SIGCHLD (_drain_signals)

    def _record_step(self, progress: Progress, **extra: Any) -> None:
        """A step of a running action, as it happens: the event log is live."""
        step = progress.step
        self.events.record(step.name, at=step.at, **{**extra, **step.fields})

    def _on_outcomes(self, _executor: Any) -> None:
        for report in self.executor.drain():
            if isinstance(report, Progress):  # a step of an action still running
                self._record_step(report, group=report.action.group)
            else:
                self._action_over(report)
        self._after_input(time.monotonic())

    def _action_over(self, outcome: Outcome) -> None:
        action = outcome.action
        if outcome.error:
            self.log.error(f"{action.kind} of {action.group} failed: {outcome.error}")
        self.takeovers.finished(action, outcome.ok, time.monotonic(), time.time())
        self.node.action_done(action.id, outcome.ok, time.monotonic())

    def _on_fences(self, _executor: Any) -> None:
        assert self.fencer is not None
        for report in self.fencer.drain():
            if isinstance(report, Progress):
                self._record_step(report)
            else:
                self._fence_over(report)
        self._after_input(time.monotonic())

    def _fence_over(self, outcome: Outcome) -> None:
        word, _, detail = (outcome.error or "bad: no answer").partition(": ")
        result = FenceResult(word) if word in set(FenceResult) else FenceResult.BAD
        say = self.log.info if result is FenceResult.OK else self.log.error
        say(f"stonith -T reset {outcome.action.group}: {detail or word}")
        self.node.fence_done(outcome.action.id, result, time.monotonic())

    def _drain_signals(self, _sock: Any) -> None:
        with contextlib.suppress(BlockingIOError):
            self.signal_r.recv(4096)
        signals, self.pending_signals = self.pending_signals, []
        for signum in signals:
            if signum in (signal.SIGTERM, signal.SIGINT):
                self._begin_shutdown()
            elif signum == signal.SIGCHLD:
                self.respawn.poll(time.monotonic())
            elif signum == signal.SIGHUP:
                self._reload()
            elif signum == signal.SIGUSR1:
                self.log.debug_level += 1

    def _reload(self) -> None:
        self.service.reloading()
        try:
            self._reread()
        finally:
            self.service.reloaded()

    def _reread(self) -> None:
        """SIGHUP (``service heartbeat reload``): reopen logs, re-read the config.

        New authkeys take effect at once (key rollover without a restart, as with
        Heartbeat). Other changes need a restart; we say which, and keep running
        on the old ones. A broken file is reported and the running config kept.
        """
        self.log.reopen()
        self.events.reopen()
        self.log.info("Signal SIGHUP received: log files reopened; re-reading configuration")
        try:
            fresh = load_config(self.config.ha_d, self.config.node_name)
        except ConfigError as exc:
            for problem in getattr(exc, "errors", [exc]):  # ConfigErrors: every problem
                self.log.error(f"configuration not reloaded: {problem}")
            return
        if fresh.authkeys != self.config.authkeys:
            self.links.keys = fresh.authkeys
            self.config.authkeys = fresh.authkeys
            self.log.info("authkeys re-read: new keys in use")
        if fresh.hacf.parameters != self.config.hacf.parameters or (
            [g.key for g in fresh.resource_groups] != [g.key for g in self.config.resource_groups]
        ):
            self.log.warn("ha.cf or haresources changed: restart heartbeat to apply it")

    def _begin_shutdown(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.log.info(f"Heartbeat shutdown in progress. ({os.getpid()})")
        self.service.stopping()
        self.respawn.terminate_all(time.monotonic())
        self.node.shutdown(time.monotonic())
        self._after_input(time.monotonic())

    # -- control socket ----------------------------------------------------------
    def _on_control(self, sock: Any) -> None:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return
        # A slow or silent client must not hold up heartbeats for long.
        conn.settimeout(CONTROL_TIMEOUT)
        held: str | None = None
        try:
            data = _read_all(conn)
            req = parse_request_untrusted(data)
            if req.get("hold") is True and not self.held.room():
                reply: dict[str, Any] = {"error": "too many clients hold a connection"}
            else:
                reply = answer(self.node, req, time.monotonic(), pid=os.getpid())
            if req["cmd"] == "status":
                reply["io"] = self.links.counters()
                reply["respawn"] = self.respawn.status()
                reply["takeovers"] = self.takeovers.to_json()
                reply["loop"] = self.lateness.to_json()
            held = str(req.get("name")) if reply.get("held") is True else None
        except (OSError, ValueError) as exc:
            reply = {"error": str(exc)}
        with contextlib.suppress(OSError):
            conn.sendall(_json(reply))
        if held is not None:
            self.held.hold(conn, held)  # hbnode.held_clients: its closing is the client's end
        else:
            conn.close()
        self._after_input(time.monotonic())

    def _client_gone(self, name: str) -> None:
        self.node.client_gone(name, time.monotonic())


def _read_all(conn: socket.socket) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + CONTROL_TIMEOUT
    for _ in range(64):
        if time.monotonic() > deadline:
            raise TimeoutError("control request too slow")
        chunk = conn.recv(4096)
        chunks.append(chunk)
        # EOF ends a request, or a newline: a client that holds its connection
        # (hbnode.held_clients) cannot half-close it. JSON has no raw newline inside.
        if not chunk or chunk.endswith(b"\n"):
            break
    return b"".join(chunks)


def _json(obj: object) -> bytes:
    import json

    return json.dumps(obj).encode() + b"\n"  # a held client reads up to the newline


def make_logger(
    config: ClusterConfig,
    foreground: bool,
    syslog_send: SyslogSend | None = None,
    journal: TextIO | None = None,
) -> HbLogger:
    """The daemon's logger, writing where Heartbeat would (hbnode.config.logsinks).

    ``journal``: the stream that is the journal (``hbnode run`` under systemd); it
    takes the place of both the foreground echo and syslog (hbnode.hblog).
    """
    hacf = config.hacf
    sinks = log_sinks(hacf)
    syslog = None
    if sinks.facility is not None and journal is None:
        syslog = SyslogSink("heartbeat", sinks.facility, syslog_send)
    logger = HbLogger(
        logfile=Path(sinks.logfile) if sinks.logfile else None,
        debugfile=Path(sinks.debugfile) if sinks.debugfile else None,
        syslog=syslog,
        syslogmsgfmt=hacf.syslogmsgfmt,
        debug_level=hacf.debug,
        echo=sys.stderr if foreground and journal is None else None,
        journal=journal,
    )
    if sinks.through_logd and hacf.directive_line("use_logd") is None:
        logger.info("No log entry found in ha.cf -- use logd")
    return logger


def _serve(config: ClusterConfig, foreground: bool, report: Any = None) -> int:
    # ha.cf "env NAME=value": config.c set_env puts HA_NAME in the daemon's own
    # environment, which respawned clients and resource scripts inherit.
    os.environ.update(config.hacf.env)
    # Under systemd: stderr may be the journal, and $NOTIFY_SOCKET the service manager.
    journal = os.environ.get("JOURNAL_STREAM") if foreground else None
    logger = make_logger(
        config, foreground, journal=sys.stderr if stream_is_journal(2, journal) else None
    )
    notifier = Notifier.from_environ(os.environ, os.getpid())
    logger.info(f"Configuration validated. Starting heartbeat {__version__} (hbnode)")
    for warning in config.warnings:
        logger.warn(str(warning))
    daemon = Daemon(config, logger, notifier)
    try:
        daemon.open()
    except OSError as exc:
        logger.log(Level.ERROR, f"cannot start: {exc}")
        notifier.notify(f"STATUS=cannot start: {exc}")  # systemctl status says why
        daemon.close()  # cleanexit: an orderly exit, the watchdog is disarmed
        if report:
            report(str(exc))
        return 1
    if report:
        report(None)
    # Once set up, for this thread alone: the loop's (hbnode.realtime).
    rt = make_realtime(config.hacf.realtime, config.hacf.rtprio)
    logger.log(Level[rt.level.upper()], rt.line)
    try:
        code = daemon.run()
    except BaseException as exc:
        _log_crash(logger, exc)
        daemon.close(orderly=False)  # a crash: leave the watchdog to reset the machine
        raise
    daemon.close()
    return code


def _log_crash(logger: HbLogger, exc: BaseException) -> None:
    """A bug that ends the loop is said where the admin looks: a detached daemon's
    stderr is /dev/null, so without this its peer's "is dead" would be all there is.

    Ctrl-C of ``hbnode run`` or an exit asked for is no bug: one line, no traceback.
    """
    if not isinstance(exc, Exception):
        logger.warn(f"hbnode stopped without an orderly shutdown: {type(exc).__name__}")
        return
    import traceback  # only on a crash: the idle daemon does not pay for its imports

    logger.crit(f"hbnode crashed: {type(exc).__name__}: {exc}")
    for block in traceback.format_exception(exc):
        for line in block.rstrip("\n").splitlines():
            logger.error(f"crash: {line}")


def run_daemon(config: ClusterConfig, daemonize: bool = True) -> int:
    """Run the node: detached (``hbnode start``) or in the foreground (``hbnode run``)."""
    if not daemonize:
        return _serve(config, foreground=True)
    return detach_and_run(lambda report: _serve(config, False, report))
