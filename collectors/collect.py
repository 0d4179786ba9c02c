"""A run's collection: tare's sampler in the foreground (``tare collect``) or in a thread beside
the load (``tare run``), or collectd with the run's rendered config."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Literal

import collectors
from collectors import collectd as collectd_bin
from collectors.carbon import unreachable
from collectors.collectd_conf import GraphiteTarget, RunConfig, render_run_config
from collectors.sampler import Sampler, Targets
from collectors.sender import CarbonSender
from collectors.series import render_types_db
from collectors.standalone import CollectStats, SamplerLike, collect
from contracts.addresses import CarbonAddress
from contracts.labels import label
from contracts.paths import Source, collectd_run_prefix, run_base

log = logging.getLogger(__name__)

Backend = Literal["auto", "procfs", "psutil"]


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


def run_collectd(opts: CollectOptions) -> Path:
    """Run collectd with the run's config for the duration (or until SIGINT/SIGTERM)."""
    exe = collectd_bin.require_binary()
    conf = render_collectd(opts)
    stop = _StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        collectd_bin.preflight(exe, conf)
        why = unreachable(opts.carbon)
        if why is not None:
            print(
                f"tare: warning: carbon at {opts.carbon} unreachable ({why}); "
                "collectd keeps a bounded queue and retries",
                file=sys.stderr,
            )
        if not stop.stopped:
            collectd_bin.supervise(exe, conf, opts.duration_s, lambda: stop.stopped)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.signum == signal.SIGINT:
        raise KeyboardInterrupt
    return conf


class Background:
    """tare's sampler in a thread for the length of a run (``stop`` ends it and flushes)."""

    def __init__(self, targets: Targets, sender: CarbonSender, base: str) -> None:
        self.stop_flag = threading.Event()
        self.sender = sender
        self.sampler = Sampler(targets)
        self.thread = threading.Thread(
            target=collect,
            args=(self.sampler, sender, base),
            kwargs={"duration_s": None, "should_stop": self.stop_flag.is_set},
            daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        if self.stop_flag.is_set():
            return
        self.stop_flag.set()
        self.thread.join(timeout=10)
        self.sampler.close()
        self.sender.close()
