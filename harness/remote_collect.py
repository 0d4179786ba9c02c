"""A run's collector on a workload host reached over SSH: ``tare collect`` started there,
pushing to the relay itself, stopped when the load ends, its report read back.

It runs on a connection of its own (``Host.popen``), so stopping it here ends it there (SIGTERM
to its group: tare collect flushes and writes its report). The report (JSON, the seconds it
sampled among it) is written to a file there and read back over the shared connection.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from contracts.manifest import CollectorReport
from contracts.processes import ended_mid_run, stop
from harness.lab import Host, LabError

# the remote collector's state (its spool, sent by the campaign's next run; its reports), one
# directory per campaign: two campaigns' collectors never share a spool
REMOTE_STATE = "/var/tmp/tare-collect"


def collect_argv(
    tare: str,
    campaign: str,
    run_id: str,
    carbon: str,
    prefix: str,
    host_label: str,
    cgroup: str | None,
    interface: str | None,
    processes: Sequence[tuple[str, str]],
) -> list[str]:
    argv = [
        tare, "collect",
        "--run-id", run_id,
        "--carbon", carbon,
        "--prefix", prefix,
        "--host", host_label,
        "--state-dir", f"{REMOTE_STATE}/{campaign}",
        "--ready-file", f"{REMOTE_STATE}/{campaign}/reports/{run_id}.ready",
        "--json",
    ]  # fmt: skip
    if cgroup:
        argv += ["--cgroup", cgroup]
    if interface:
        argv += ["--interface", interface]
    for lab, name in processes:
        argv += ["--process", f"{lab}={name}"]
    return argv


def missing_seconds(sampled: Sequence[int], steady: tuple[float, float]) -> int:
    window = range(math.ceil(steady[0]), math.floor(steady[1]) + 1)
    have = set(sampled)
    return sum(1 for t in window if t not in have)


class RemoteCollector:
    """The run's collector on the workload host (the ``RunCollection`` protocol)."""

    def __init__(
        self, host: Host, argv: Sequence[str], report: str, log: IO[bytes], prefix: str
    ) -> None:
        self.host = host
        self.report_path = report
        self.prefix = prefix
        self.log = log
        self.stopped = False
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        write = 'mkdir -p "${0%/*}" && rm -f "$0" "${0%.json}.ready" && exec "$@" > "$0"'
        self.proc = host.popen(["sh", "-c", write, report, *argv], log)
        self.wait_ready(report.removesuffix(".json") + ".ready")

    def start(self) -> None:
        """Started in the constructor."""

    def wait_ready(self, ready: str, timeout_s: float = 30.0) -> None:
        """Until the collector has taken its first sample there (so the load never starts
        before it: a remote interpreter takes a second or two to start)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.host.run(["test", "-e", ready], 15, in_cgroup=False).returncode == 0:
                return
            time.sleep(0.1)
        if self.proc.poll() is None:
            self.error = f"the collector on the workload host took no sample in {timeout_s:.0f} s"

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        ended_itself = self.proc.poll() is not None
        if ended_itself:  # before the load ended: the connection (or the collector) died
            self.error = self.ended()
        stop(self.proc.pid)
        self.log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                got = self.host.run(["cat", self.report_path], 15, in_cgroup=False)
            except LabError as exc:
                self.error = self.error or f"the collector's report is unreadable: {exc}"
                return
            try:
                self.result = json.loads(got.stdout) if got.returncode == 0 else None
            except ValueError:
                self.result = None
            if self.result is not None or ended_itself:
                return
            time.sleep(0.2)
        if self.error is None:
            self.error = "the collector on the workload host left no report"

    def failure(self) -> str | None:
        if self.error is not None:
            return self.error
        if not self.stopped and self.proc.poll() is not None:
            return self.ended()
        return None

    def ended(self) -> str:
        """Why the collector ended before it was stopped, in ssh's words when the connection
        dropped (ssh's exit 255)."""
        if not self.log.closed:
            self.log.flush()
        code = self.proc.wait()  # called once it has ended: at once
        return "the collector on the workload host " + ended_mid_run(
            code, True, Path(self.log.name)
        )

    def report(self, steady: tuple[float, float]) -> CollectorReport:
        sampled = (self.result or {}).get("sampled_seconds") or []
        notes: tuple[str, ...] = (self.error,) if self.error else ()
        spooled = int((self.result or {}).get("spooled_bytes") or 0)
        if spooled:
            notes += (f"{spooled} bytes spooled on the workload host, sent by its next run",)
        return CollectorReport(
            "sampler@workload",
            self.prefix,
            None,
            None,
            missing_seconds([int(s) for s in sampled], steady),
            notes,
        )


def open_log(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")
