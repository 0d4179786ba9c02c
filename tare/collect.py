"""``tare collect``: the standalone collector, or collectd with the run's rendered config."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Literal

import collectors
from collectors import collectd as collectd_bin
from collectors.collectd_conf import GraphiteTarget, RunConfig, render_run_config
from collectors.names import join, label
from collectors.sampler import ProcMatch, Sampler, Targets
from collectors.sender import CarbonSender
from collectors.series import render_types_db
from collectors.standalone import CollectStats, SamplerLike, collect, run_base_path
from tare.errors import ServiceUnavailable, UsageError

log = logging.getLogger(__name__)

Backend = Literal["auto", "procfs", "psutil"]


@dataclass(frozen=True, slots=True)
class CollectOptions:
    run_id: str
    duration_s: float | None
    carbon_host: str
    carbon_port: int
    prefix: str
    host: str
    targets: Targets
    state_dir: Path
    backend: Backend = "auto"
    interval_s: int = 1
    processes_plugin: bool = False


def parse_carbon(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--carbon {value!r}: expected HOST:PORT")
    return host, int(port)


def parse_processes(by_name: tuple[str, ...], by_pidfile: tuple[str, ...]) -> tuple[ProcMatch, ...]:
    out: list[ProcMatch] = []
    for option, items in (("--process", by_name), ("--process-pidfile", by_pidfile)):
        for item in items:
            lab, sep, value = item.partition("=")
            if not sep:
                lab, value = item, item
            if not lab or not value:
                raise UsageError(f"{option} {item!r}: expected LABEL=VALUE")
            if option == "--process":
                out.append(ProcMatch(label=lab, name=value))
            else:
                out.append(ProcMatch(label=lab, pid_file=Path(value)))
    labels = [label(m.label) for m in out]
    if len(set(labels)) != len(labels):
        raise UsageError("two --process options share one label")
    return tuple(out)


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
    sender = CarbonSender(opts.carbon_host, opts.carbon_port, spool)
    stop = _StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    base = run_base_path(opts.prefix, opts.run_id, opts.host)
    log.info("collecting to %s:%d under %s", opts.carbon_host, opts.carbon_port, base)
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


def collectd_prefix(prefix: str, run_id: str) -> str:
    """write_graphite's prefix; collectd appends ``<host>.<plugin>...``."""
    return join(prefix, "runs", label(run_id)) + "."


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
            opts.carbon_host, opts.carbon_port, collectd_prefix(opts.prefix, opts.run_id)
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
    proc: subprocess.Popen[bytes] | None = None
    try:
        collectd_bin.preflight(exe, conf)
        _check_carbon(opts)
        if not stop.stopped:
            proc = subprocess.Popen(
                [str(exe), "-f", "-C", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads run here)
            )
            log.info("collectd pid %d with %s", proc.pid, conf)
        deadline = None if opts.duration_s is None else time.monotonic() + opts.duration_s
        while proc is not None and not stop.stopped:
            if deadline is not None and time.monotonic() >= deadline:
                break
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise ServiceUnavailable(f"collectd exited with {proc.returncode}: {err.strip()}")
            time.sleep(0.2)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.signum == signal.SIGINT:
        raise KeyboardInterrupt
    return conf


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when tare dies, so collectd is never orphaned."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _check_carbon(opts: CollectOptions) -> None:
    try:
        with socket.create_connection((opts.carbon_host, opts.carbon_port), timeout=3):
            return
    except OSError as exc:
        print(
            f"tare: warning: carbon at {opts.carbon_host}:{opts.carbon_port} unreachable ({exc}); "
            "collectd keeps a bounded queue and retries",
            file=sys.stderr,
        )
