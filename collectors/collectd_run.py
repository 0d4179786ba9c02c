"""collectd for the length of one run: started with the run's config, found reading before the
load starts, watched, restarted when it dies, stopped (killed when it hangs).

A collectd that cannot start, or dies more than ``max_restarts`` times, is a failure, told with
its last log line; the harness fails the run with it. collectd writes to the run's ``Relay``,
which passes everything on (spooling through carbon outages) and counts the steady seconds
that really arrived: a restart's gap, or a hung daemon's, is what is missing there.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from collectors import collectd as collectd_bin
from collectors.collectd import last_words, since, size
from collectors.relay import Relay
from contracts.manifest import CollectorReport
from contracts.processes import stop

log = logging.getLogger(__name__)

READY = "Initialization complete"  # collectd logs it as it enters its read loop
TICKS = os.sysconf("SC_CLK_TCK")


def ended(returncode: int) -> str:
    """How a process ended, in words: ``exited with 1``, ``was killed by SIGKILL``."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with {returncode}"


def _cpu_seconds(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class _Life:
    """One collectd process: when it started, when it was seen reading, what it cost."""

    proc: subprocess.Popen[bytes]
    started: float
    log_offset: int
    stderr_offset: int
    ready: float | None = None
    ready_mono: float = 0.0
    cpu_s: float = 0.0
    rss_mb: float | None = None


def cpu_pct(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    """Points of one core between the first sample at or after ``start`` and the last at or
    before ``end`` (samples: time, CPU seconds so far); None with fewer than two."""
    inside = [s for s in samples if start <= s[0] <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    return (c1 - c0) / (t1 - t0) * 100


@dataclass
class CollectdRun:
    exe: Path
    conf: Path
    log_file: Path
    prefix: str
    relay: Relay
    max_restarts: int = 2
    ready_timeout_s: float = 15.0
    hang_s: float = 10.0  # alive but nothing reached the relay for this long: hung, killed
    poll_s: float = 0.1
    clock: Callable[[], float] = time.time
    lives: list[_Life] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: str | None = None
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _watch: threading.Thread | None = None

    def start(self) -> None:
        """Start collectd and wait for its first read; on failure ``failure()`` says why."""
        self._launch()
        if self.failed is None:
            self._watch = threading.Thread(target=self._watch_loop, daemon=True)
            self._watch.start()

    @property
    def _stderr(self) -> Path:
        return self.conf.parent / "collectd.stderr"

    def _launch(self) -> None:
        offset = size(self.log_file)
        stderr_offset = size(self._stderr)
        with self._stderr.open("ab") as stderr:
            proc = subprocess.Popen(
                collectd_bin.daemon_argv(self.exe, self.conf),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                preexec_fn=collectd_bin.die_with_parent,  # noqa: PLW1509 (before any thread)
            )
        life = _Life(proc, self.clock(), offset, stderr_offset)
        self.lives.append(life)
        log.info("collectd pid %d with %s", proc.pid, self.conf)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if READY in since(self.log_file, offset):
                life.ready = self.clock()
                life.ready_mono = time.monotonic()
                return
            if proc.poll() is not None:
                words = self._words(life)
                self.failed = f"collectd {ended(proc.returncode)} at start: {words}"
                return
            time.sleep(self.poll_s)
        self._end(life)
        self.failed = (
            f"collectd did not start reading within {self.ready_timeout_s:g} s "
            f"(killed): {self._words(life)}"
        )

    def _words(self, life: _Life) -> str:
        """The last error this life of collectd logged (or wrote on stderr)."""
        text = (
            since(self.log_file, life.log_offset) + "\n" + since(self._stderr, life.stderr_offset)
        )
        return last_words(text, errors_only=True) or "no error in its log"

    def _watch_loop(self) -> None:
        next_measure = 0.0
        while not self._stopping.wait(self.poll_s):
            life = self.lives[-1]
            if life.proc.poll() is None:
                if time.monotonic() >= next_measure:  # once a second: /proc reads cost too
                    self._measure(life)
                    next_measure = time.monotonic() + 1.0
                    self._kill_if_hung(life)
                continue
            why = f"collectd {ended(life.proc.returncode)}: {self._words(life)}"
            if len(self.lives) > self.max_restarts:
                self.failed = f"{why} (after {self.max_restarts} restart(s) in this run)"
                return
            self.notes.append(f"{why}; restarted")
            log.warning("%s; restarting it", why)
            self._launch()
            if self.failed is not None:
                return

    def _kill_if_hung(self, life: _Life) -> None:
        quiet = time.monotonic() - max(self.relay.last_arrival, life.ready_mono)
        if quiet >= self.hang_s:
            self.notes.append(f"collectd wrote nothing for {quiet:.0f} s (hung); killed")
            log.warning("collectd wrote nothing for %.0f s; killing it", quiet)
            life.proc.kill()
            life.proc.wait(timeout=10)

    def _measure(self, life: _Life) -> None:
        cpu = _cpu_seconds(life.proc.pid)
        if cpu is not None and life.proc.poll() is None:
            life.cpu_s = cpu
            life.rss_mb = _peak_rss_mb(life.proc.pid) or life.rss_mb
            self.cpu_samples.append((self.clock(), sum(x.cpu_s for x in self.lives)))

    def _end(self, life: _Life) -> None:
        self._measure(life)
        if stop(life.proc, group=False, timeout_s=10):
            self.notes.append("collectd did not stop on SIGTERM within 10 s; killed")

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._watch is not None:
            self._watch.join(timeout=30)
        if self.lives:
            self._end(self.lives[-1])
        self.relay.close()  # what collectd wrote as it stopped, passed on

    def failure(self) -> str | None:
        return self.failed

    def report(self, steady: tuple[float, float]) -> CollectorReport:
        """Its CPU over the steady window (start-up left out; the relay's thread counted in),
        peak RSS, and the steady seconds whose CPU point never reached the relay."""
        cpu = cpu_pct(self.cpu_samples, *steady)
        relay = cpu_pct(self.relay.cpu_samples, *steady)
        if cpu is not None and relay is not None:
            cpu += relay
        peaks = [life.rss_mb for life in self.lives if life.rss_mb is not None]
        window = range(math.ceil(steady[0]), math.floor(steady[1]) + 1)
        return CollectorReport(
            "collectd",
            self.prefix,
            round(cpu, 3) if cpu is not None else None,
            round(max(peaks), 1) if peaks else None,
            sum(1 for t in window if t not in self.relay.seconds),
            tuple(self.notes),
        )
