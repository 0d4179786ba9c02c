"""A run's collection: tare's sampler in the foreground (``tare collect``) or in a thread beside
the load (``tare run``), or collectd with the run's rendered config."""

from __future__ import annotations

import dataclasses
import logging
import math
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Literal, Protocol

import collectors
from collectors import collectd as collectd_bin
from collectors.carbon import unreachable
from collectors.collectd import CollectdUnavailable
from collectors.collectd_conf import GraphiteTarget, RunConfig, render_run_config
from collectors.collectd_run import CollectdRun, cpu_pct
from collectors.relay import Relay
from collectors.sampler import Sampler, Targets, Value
from collectors.sender import CarbonSender
from collectors.series import render_types_db
from collectors.standalone import CollectStats, SamplerLike, collect
from contracts.addresses import CarbonAddress
from contracts.labels import label
from contracts.manifest import CollectorReport
from contracts.paths import Source, collectd_run_prefix, run_base

log = logging.getLogger(__name__)

Backend = Literal["auto", "procfs", "psutil"]
Collector = Literal["sampler", "collectd"]


@dataclass(frozen=True, slots=True)
class CollectOptions:
    run_id: str
    duration_s: float | None
    carbon: CarbonAddress
    prefix: str
    host: str
    targets: Targets
    state_dir: Path
    backend: Backend = "auto"
    interval_s: int = 1
    processes_plugin: bool = False
    ready_file: Path | None = None  # touched once the first sample is taken


def default_host() -> str:
    return label(socket.gethostname())


class _StopFlag:
    def __init__(self) -> None:
        self.stopped = False
        self.signum = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.stopped = True
        self.signum = signum


def _sampler(opts: CollectOptions) -> SamplerLike:
    backend = opts.backend
    if backend == "auto":
        backend = "procfs" if Path("/proc/stat").exists() else "psutil"
    if backend == "procfs":
        return Sampler(opts.targets)
    from collectors.psutil_sampler import PsutilSampler

    if opts.targets.netns or opts.targets.netns_pid or opts.targets.cgroup:
        log.warning("the psutil backend has no network namespace or cgroup sources")
    return PsutilSampler(opts.targets.processes, opts.targets.interfaces)


def run_standalone(opts: CollectOptions) -> tuple[CollectStats, CarbonSender]:
    sampler = _sampler(opts)
    spool = opts.state_dir / "spool" / "collect"
    sender = CarbonSender(opts.carbon, spool)
    stop = _StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    base = run_base(opts.prefix, opts.run_id, opts.host, Source.TARE)
    log.info("collecting to %s under %s", opts.carbon, base)
    try:
        stats = collect(
            sampler,
            sender,
            base,
            duration_s=opts.duration_s,
            interval_s=opts.interval_s,
            should_stop=lambda: stop.stopped,
            on_first=(opts.ready_file.touch if opts.ready_file else lambda: None),
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sampler.close()
        sender.close()
    if stop.signum == signal.SIGINT:
        raise KeyboardInterrupt
    return stats, sender


def render_collectd(opts: CollectOptions) -> Path:
    """Write the run's collectd config and tare's types.db; returns the config path."""
    run_dir = opts.state_dir / "collectd" / f"run-{label(opts.run_id)}"
    run_dir.mkdir(parents=True, exist_ok=True)
    types_db = run_dir / "tare-types.db"
    types_db.write_text(render_types_db())
    t = opts.targets
    cfg = RunConfig(
        hostname=opts.host,
        interval_s=float(opts.interval_s),
        base_dir=run_dir,
        log_file=run_dir / "collectd.log",
        target=GraphiteTarget(
            opts.carbon.host, opts.carbon.port, collectd_run_prefix(opts.prefix, opts.run_id)
        ),
        module_path=Path(collectors.__file__).resolve().parent.parent,
        types_db=types_db,
        interfaces=t.interfaces,
        netns=t.netns,
        netns_pid=t.netns_pid,
        cgroup=t.cgroup,
        processes=tuple((m.label, m.name) for m in t.processes if m.name),
        pid_files=tuple((m.label, m.pid_file) for m in t.processes if m.pid_file),
        processes_plugin=opts.processes_plugin,
    )
    conf = run_dir / "collectd.conf"
    conf.write_text(render_run_config(cfg))
    return conf


def run_collectd(opts: CollectOptions) -> tuple[Path, CollectorReport, CarbonSender]:
    """Run collectd with the run's config for the duration (or until SIGINT/SIGTERM), writing
    through a relay that spools what carbon cannot take; a collectd that dies is restarted, one
    that cannot be kept up raises (its last words)."""
    exe = collectd_bin.require_binary()
    base = run_base(opts.prefix, opts.run_id, opts.host, Source.TARE)
    stop = _StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    sender = CarbonSender(opts.carbon, opts.state_dir / "spool" / "collect")
    relay = Relay(sender, f"{base}.cpu_all.busy_pct")
    conf = render_collectd(dataclasses.replace(opts, carbon=CarbonAddress("127.0.0.1", relay.port)))
    daemon = CollectdRun(exe, conf, conf.parent / "collectd.log", opts.prefix, relay)
    started = time.time()
    try:
        collectd_bin.preflight(exe, conf, conf.parent / "collectd.log")
        why = unreachable(opts.carbon)
        if why is not None:
            print(
                f"tare: warning: carbon at {opts.carbon} unreachable ({why}); "
                "spooling until it answers",
                file=sys.stderr,
            )
        daemon.start()
        end = None if opts.duration_s is None else time.monotonic() + opts.duration_s
        while not stop.stopped and daemon.failure() is None:
            if end is not None and time.monotonic() >= end:
                break
            time.sleep(0.2)
    finally:
        daemon.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.signum == signal.SIGINT:
        raise KeyboardInterrupt
    failed = daemon.failure()
    if failed is not None:
        raise CollectdUnavailable(failed)
    return conf, daemon.report((started, time.time())), sender


class _Timed:
    """A sampler that notes the thread's CPU after each sample."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.cpu_samples: list[tuple[float, float]] = []

    def sample(self) -> list[Value]:
        values = self.sampler.sample()
        self.cpu_samples.append((time.time(), time.thread_time()))
        return values

    def close(self) -> None:
        self.sampler.close()


class _Counted:
    """A sink that notes the seconds it was given points for (the sampler's own timestamps)."""

    def __init__(self, sink: CarbonSender) -> None:
        self.sink = sink
        self.seconds: set[int] = set()

    def add(self, points: list[tuple[str, float, int]]) -> None:
        self.seconds.update(ts for _, _, ts in points)
        self.sink.add(points)

    def flush(self) -> bool:
        return self.sink.flush()


class Background:
    """tare's sampler in a thread for the length of a run (``stop`` ends it and flushes)."""

    def __init__(self, targets: Targets, sender: CarbonSender, base: str, prefix: str) -> None:
        self.stop_flag = threading.Event()
        self.sender = sender
        self.prefix = prefix
        self.sampler = _Timed(Sampler(targets))
        self.counted = _Counted(sender)
        self.error: str | None = None
        self.stats: CollectStats | None = None
        self.thread = threading.Thread(target=self._collect, args=(base,), daemon=True)
        self.thread.start()

    def _collect(self, base: str) -> None:
        try:
            self.stats = collect(
                self.sampler, self.counted, base, duration_s=None, should_stop=self.stop_flag.is_set
            )
        except Exception as exc:
            log.exception("the sampler thread died")
            self.error = f"the sampler died: {type(exc).__name__}: {exc}"

    def start(self) -> None:
        """Started in the constructor (a sampler needs no warm-up)."""

    def stop(self) -> None:
        if self.stop_flag.is_set():
            return
        self.stop_flag.set()
        self.thread.join(timeout=10)
        self.sampler.close()
        self.sender.close()

    def failure(self) -> str | None:
        return self.error

    def report(self, steady: tuple[float, float]) -> CollectorReport:
        window = range(math.ceil(steady[0]), math.floor(steady[1]) + 1)
        cpu = cpu_pct(self.sampler.cpu_samples, *steady)
        return CollectorReport(
            "sampler",
            self.prefix,
            round(cpu, 3) if cpu is not None else None,
            None,
            sum(1 for t in window if t not in self.counted.seconds),
            (self.error,) if self.error else (),
        )


class RunCollection(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def failure(self) -> str | None: ...

    def report(self, steady: tuple[float, float]) -> CollectorReport: ...


@dataclass
class Together:
    """The run's collector and, when asked, the other one writing under a second prefix (to
    compare them). Only the first one's failure fails the run."""

    primary: RunCollection
    others: tuple[RunCollection, ...] = ()

    def stop(self) -> None:
        for c in (self.primary, *self.others):
            c.stop()

    def failure(self) -> str | None:
        return self.primary.failure()

    def reports(self, steady: tuple[float, float]) -> tuple[CollectorReport, ...]:
        out = []
        for c in (self.primary, *self.others):
            r = c.report(steady)
            why = c.failure()
            if why and c is not self.primary and why not in r.notes:
                r = dataclasses.replace(r, notes=(*r.notes, why))
            out.append(r)
        return tuple(out)


def start_run_collection(
    kind: Collector,
    opts: CollectOptions,
    sender: Callable[[], CarbonSender],
    max_restarts: int = 2,
) -> RunCollection:
    """One collector for one run, started (a collectd that could not start says so in
    ``failure()``)."""
    base = run_base(opts.prefix, opts.run_id, opts.host, Source.TARE)
    if kind == "sampler":
        return Background(opts.targets, sender(), base, opts.prefix)
    exe = collectd_bin.require_binary()
    relay = Relay(sender(), f"{base}.cpu_all.busy_pct")
    conf = render_collectd(dataclasses.replace(opts, carbon=CarbonAddress("127.0.0.1", relay.port)))
    daemon = CollectdRun(
        exe, conf, conf.parent / "collectd.log", opts.prefix, relay, max_restarts=max_restarts
    )
    daemon.start()
    return daemon


def check_collectd(state_dir: Path, carbon: CarbonAddress, prefix: str) -> Path:
    """collectd is installed and loads tare's plugin (``collectd -T`` with a run config that
    follows nothing); raises CollectdUnavailable naming the package or the plugin's error."""
    exe = collectd_bin.require_binary()
    opts = CollectOptions("preflight", None, carbon, prefix, default_host(), Targets(), state_dir)
    conf = render_collectd(opts)
    collectd_bin.preflight(exe, conf, conf.parent / "collectd.log")
    return exe


def resolve_collector(
    asked: Literal["sampler", "collectd", "auto"],
    state_dir: Path,
    carbon: CarbonAddress,
    prefix: str,
) -> tuple[Collector, str | None]:
    """The collector a campaign gets, and for ``auto`` why it is not collectd (or None)."""
    if asked == "sampler":
        return "sampler", None
    try:
        check_collectd(state_dir, carbon, prefix)
    except CollectdUnavailable as exc:
        if asked == "collectd":
            raise
        return "sampler", str(exc)
    return "collectd", None
