"""A real Prometheus server inside the lab, scraping the nodes' hbnode_metrics endpoints.

It runs in one lab host's network namespace (the client's, by default): it listens
on that namespace's 127.0.0.1 and reaches only lab addresses, so nothing of it is
seen from the machine's own network. Its configuration and database live in a
directory of its own, removed by :meth:`LabPrometheus.stop`, which also ends
exactly the process it started. The binary is Debian's ``prometheus``.

    with LabPrometheus(lab, targets, rules=[RULES]) as prom:
        prom.wait_for('hbnode_resource_group_held{instance="192.168.0.28:9694"} == 1', 30)
"""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from lab import netsock
from lab.errors import LabError
from lab.labcore import LabBase
from lab.probes import ensure_lab_target

LISTEN = ("127.0.0.1", 9090)  # inside the host's namespace only
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
Sample = dict[str, Any]  # one element of a query's "result": {"metric": {...}, "value": [t, v]}


class LabPrometheus:
    def __init__(
        self,
        lab: LabBase,
        targets: list[str],
        rules: list[Path] | None = None,
        host: str = "client",
        interval: float = 1.0,
    ) -> None:
        for target in targets:
            ensure_lab_target(target.rsplit(":", 1)[0])  # scrapes stay inside the lab
        self.netns = lab.netns_of(host)
        self.targets = targets
        self.rules = rules or []
        self.interval = interval
        self.proc: subprocess.Popen[bytes] | None = None
        self.workdir: Path | None = None

    # -- life ---------------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()  # a failed start leaves no process and no directory behind
            raise

    def _start(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise LabError("prometheus is not installed (apt install prometheus)")
        self.workdir = Path(tempfile.mkdtemp(prefix="hblab-prometheus-"))
        config = self.workdir / "prometheus.yml"
        config.write_text(json.dumps(self._config(), indent=2))  # JSON is YAML
        argv = [
            "nsenter",
            f"--net={netsock.netns_path(self.netns)}",
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={LISTEN[0]}:{LISTEN[1]}",
        ]
        with (self.workdir / "prometheus.log").open("wb") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError(f"prometheus exited: {self.log()[-800:]}")
            try:
                self._get("/-/ready")
                return
            except OSError:
                time.sleep(0.2)
        raise LabError(f"prometheus not ready within {START_TIMEOUT:.0f} s")

    def _config(self) -> dict[str, Any]:
        every = int(self.interval * 1000)  # Prometheus durations: integers with a unit
        return {
            "global": {
                "scrape_interval": f"{every}ms",
                "evaluation_interval": f"{every}ms",
                "scrape_timeout": f"{every * 9 // 10}ms",
            },
            "rule_files": [str(path) for path in self.rules],
            "scrape_configs": [
                {
                    "job_name": "hbnode",
                    "static_configs": [{"targets": self.targets, "labels": {"cluster": "lab"}}],
                }
            ],
        }

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> LabPrometheus:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        path = self.workdir / "prometheus.log" if self.workdir else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    # -- the HTTP API, from inside the namespace -------------------------------------------
    def _get(self, path: str) -> bytes:
        conn = http.client.HTTPConnection(*LISTEN, timeout=5)
        sock = netsock.inet_socket(self.netns)
        sock.settimeout(5)
        sock.connect(LISTEN)
        conn.sock = sock
        try:
            conn.request("GET", path)
            reply = conn.getresponse()
            body = reply.read()
            if reply.status != 200:
                raise OSError(f"prometheus: GET {path}: {reply.status} {body[:200]!r}")
            return body
        finally:
            conn.close()

    def query(self, expr: str) -> list[Sample]:
        """An instant query's result vector."""
        body = json.loads(self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
        if body.get("status") != "success":
            raise LabError(f"prometheus: {expr}: {body}")
        return list(body["data"]["result"])

    def wait_for(self, expr: str, timeout: float, interval: float = 0.5) -> list[Sample]:
        """Poll until ``expr`` returns a non-empty vector; its result."""
        return self._wait(expr, timeout, interval, want_empty=False)

    def wait_empty(self, expr: str, timeout: float, interval: float = 0.5) -> None:
        """Poll until ``expr`` returns nothing (an alert resolved, a series gone)."""
        self._wait(expr, timeout, interval, want_empty=True)

    def _wait(self, expr: str, timeout: float, interval: float, want_empty: bool) -> list[Sample]:
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if bool(result) != want_empty:
                return result
            if time.monotonic() >= deadline:
                still = f"still {'non-empty' if want_empty else 'empty'}"
                raise TimeoutError(f"prometheus: {expr} {still} after {timeout:.0f} s: {result}")
            time.sleep(interval)
