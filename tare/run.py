"""``tare plan`` and ``tare run``: wire the campaign file, the harness, the collectors and
Graphite together. Measurement and statistics live elsewhere; this module only connects."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from collectors.names import label
from collectors.sampler import ProcMatch, Sampler, Targets
from collectors.sender import CarbonSender
from collectors.standalone import collect, run_base_path
from harness import matrix
from harness.agent import AgentCommands
from harness.campaign import CampaignSummary, run_campaign
from harness.lab import Lab, loopback_lab, namespace_lab
from harness.ledger import Ledger
from harness.matrix import Design, PlannedRun
from harness.progress import Progress
from harness.runner import RunnerConfig, RunOutcome
from tare import __version__
from tare.config import Campaign, placeholders
from tare.errors import ServiceUnavailable, UsageError

log = logging.getLogger(__name__)

SETUP_S = 4.0  # lab, workload start and tear-down per run (measured: 2-4 s here)
AGENT_SETUP_S = 3.0  # install, mode, start, health, stop, uninstall


def design(campaign: Campaign) -> Design:
    spec = campaign.spec
    workload_uses = set(placeholders(spec.workload.command))
    baseline_factors = frozenset({"rate"} | (set(spec.factors) & workload_uses))
    return Design(
        factors=campaign.factor_levels(),
        kind=spec.design.kind,
        crossed=tuple(spec.design.crossed),
        reference=dict(spec.design.reference),
        repeats=spec.design.repeats,
        interleave=spec.design.interleave,
        baseline_factors=baseline_factors,
    )


@dataclass(frozen=True, slots=True)
class Plan:
    runs: list[PlannedRun]
    wall_time_s: float
    cells: int


def make_plan(campaign: Campaign) -> Plan:
    d = design(campaign)
    runs = matrix.plan(d)
    wall = matrix.wall_time_s(runs, campaign.spec.load.duration_s, SETUP_S, AGENT_SETUP_S)
    return Plan(runs, wall, len({r.cell for r in runs}))


def plan_json(campaign: Campaign, p: Plan) -> dict[str, Any]:
    return {
        "campaign": campaign.name,
        "design": campaign.spec.design.kind,
        "repeats": campaign.spec.design.repeats,
        "interleave": campaign.spec.design.interleave,
        "cells": p.cells,
        "runs": [
            {
                "seq": r.seq,
                "levels": dict(r.cell.levels),
                "repeat": r.repeat,
                "baseline_for": [dict(c.levels) for c in r.baseline_of],
            }
            for r in p.runs
        ],
        "load_s_per_run": campaign.spec.load.duration_s,
        "wall_time_s": round(p.wall_time_s),
    }


def config_hash(campaign: Campaign) -> str:
    return hashlib.sha256(campaign.spec.model_dump_json().encode()).hexdigest()[:16]


def _version(argv: list[str]) -> str | None:
    exe = shutil.which(argv[0]) or shutil.which(argv[0], path="/usr/sbin:/sbin")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, *argv[1:]], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout + proc.stderr).strip().splitlines()
    return text[0][:120] if text else None


def host_facts() -> dict[str, Any]:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": socket.gethostname(),
        "kernel": platform.release(),
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "tare": __version__,
        "tools": {
            "h2load": _version(["h2load", "--version"]),
            "httperf": _version(["httperf", "--version"]),
            "nginx": _version(["nginx", "-v"]),
            "nft": _version(["nft", "--version"]),
        },
    }


class _Collection:
    """tare's standalone sampler in a thread, pinned with the load to the load cores."""

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


class Hooks:
    def __init__(self, campaign: Campaign, cid: str, state_dir: Path, host: str) -> None:
        self.campaign = campaign
        self.cid = cid
        self.state_dir = state_dir
        self.host = host
        carbon_host, _, port = campaign.spec.graphite.carbon.rpartition(":")
        self.carbon = (carbon_host, int(port))

    def _sender(self, name: str) -> CarbonSender:
        return CarbonSender(self.carbon[0], self.carbon[1], self.state_dir / "spool" / name)

    def start_collection(self, run_id: str, lab: Lab, agent_present: bool) -> _Collection:
        spec = self.campaign.spec
        processes: tuple[ProcMatch, ...] = (ProcMatch("server", name=spec.workload.process),)
        if agent_present:
            processes += (ProcMatch("agent", name=spec.agent.process),)
        targets = Targets(
            netns=lab.workload.netns,
            interfaces=(lab.workload.interface,) if lab.workload.interface else (),
            cgroup=lab.cgroup,
            processes=processes,
        )
        base = run_base_path(spec.graphite.prefix, run_id, self.host)
        return _Collection(targets, self._sender("run-collect"), base)

    def run_finished(self, run_id: str, planned: PlannedRun, outcome: RunOutcome) -> None:
        spec = self.campaign.spec
        base = run_base_path(spec.graphite.prefix, run_id, self.host).rsplit(".", 1)[0] + ".load"
        points: list[tuple[str, float, int]] = []
        for sec, count in sorted(outcome.per_second.items()):
            points.append((f"{base}.conn_started_per_s", float(count), sec))
        end = int(outcome.steady[1]) if outcome.steady else int(time.time())
        summary: dict[str, float | None] = {
            "target_rate": float(planned.cell.rate),
            "valid": 1.0 if outcome.status == "done" else 0.0,
        }
        if outcome.load is not None:
            r = outcome.load
            summary.update(
                {
                    "achieved_rate": r.achieved_rate,
                    "errors": float(r.errors),
                    "p50_ms": r.p50_ms,
                    "p90_ms": r.p90_ms,
                    "p99_ms": r.p99_ms,
                    "server_accept_rate": outcome.server_accept_rate,
                }
            )
        points += [(f"{base}.{k}", float(v), end) for k, v in summary.items() if v is not None]
        sender = self._sender("run-results")
        try:
            sender.add(points)
        finally:
            sender.close()
        self._event(run_id, planned, outcome)

    def _event(self, run_id: str, planned: PlannedRun, outcome: RunOutcome) -> None:
        from pipeline.graphite import GraphiteClient, GraphiteUnavailable

        spec = self.campaign.spec
        tags = [
            "tare",
            "run",
            label(self.campaign.name),
            label(planned.cell.mode),
            f"rate-{planned.cell.rate}",
            outcome.status,
        ]
        data = json.dumps(
            {
                "run_id": run_id,
                "campaign_id": self.cid,
                "levels": dict(planned.cell.levels),
                "status": outcome.status,
                "reason": outcome.reason,
            }
        )
        when = int(outcome.steady[0]) if outcome.steady else int(time.time())
        try:
            GraphiteClient(spec.graphite.render_url, timeout_s=5).post_event(
                f"tare run {run_id}", tags, when, data
            )
        except GraphiteUnavailable as exc:
            log.warning("run %s: event not posted: %s", run_id, exc)


def _agents_on_path() -> None:
    """Agents installed with tare (tare-refagent) sit next to it: put them on the PATH."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def preflight(campaign: Campaign) -> None:
    spec = campaign.spec
    tool = spec.load.tool
    if shutil.which(tool) is None:
        package = "nghttp2-client" if tool == "h2load" else "httperf"
        raise ServiceUnavailable(f"load tool {tool} not found (apt-get install {package})")
    server = spec.workload.command[0]
    if (
        "{" not in server
        and shutil.which(server, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None
    ):
        raise ServiceUnavailable(f"{campaign.path}: workload.command: {server} not found")
    host, _, port = spec.graphite.carbon.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            pass
    except (OSError, ValueError) as exc:
        raise ServiceUnavailable(
            f"carbon at {spec.graphite.carbon} unreachable ({exc}); start it with 'tare stack up'"
        ) from None


class LabLock:
    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / "lab.lock"
        self.fh: IO[str] | None = None

    def __enter__(self) -> LabLock:
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another campaign"
            fh.close()
            raise ServiceUnavailable(
                f"the lab is in use by {holder}; one campaign at a time"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        self.fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None:
            self.fh.close()


def runner_config(campaign: Campaign, state_dir: Path) -> RunnerConfig:
    spec = campaign.spec
    a = spec.agent
    return RunnerConfig(
        workload_argv=tuple(spec.workload.command),
        port=spec.workload.port,
        path=spec.workload.path,
        ready_timeout_s=spec.workload.ready_timeout_s,
        agent=AgentCommands(
            install=tuple(a.install),
            uninstall=tuple(a.uninstall),
            set_mode=tuple(a.set_mode),
            start=tuple(a.start),
            stop=tuple(a.stop),
            health=tuple(a.health),
            version=tuple(a.version) if a.version else None,
            health_timeout_s=a.health_timeout_s,
        ),
        tool=spec.load.tool,
        duration_s=spec.load.duration_s,
        warmup_s=spec.load.warmup_s,
        cooldown_s=spec.load.cooldown_s,
        min_ratio=spec.load.min_achieved_ratio,
        run_timeout_s=spec.load.run_timeout_s,
        lab_root=state_dir / "lab" / "runs",
        state_dir=state_dir,
    )


def run_id_for(cid: str, run: PlannedRun) -> str:
    return label(f"{cid}-{run.seq:03d}-{run.cell.mode}-{run.cell.rate}-r{run.repeat}")


def start_or_resume(
    ledger: Ledger, campaign: Campaign, p: Plan, resume: bool, facts: dict[str, Any]
) -> str:
    chash = config_hash(campaign)
    if resume:
        found = ledger.latest_unfinished(campaign.name)
        if found is None:
            raise UsageError(f"no interrupted campaign {campaign.name!r} to resume")
        cid, old_hash = found
        if old_hash != chash:
            raise UsageError(
                f"{campaign.path} changed since campaign {cid} was interrupted; "
                "run without --resume to start anew"
            )
        return cid
    now = time.gmtime()
    cid = label(f"{campaign.name}-{time.strftime('%Y%m%dT%H%M%S', now)}-{uuid.uuid4().hex[:4]}")
    ledger.create_campaign(
        cid,
        campaign.name,
        time.strftime("%Y-%m-%d", now),
        campaign.spec.campaign.platform,
        str(campaign.path),
        chash,
        facts,
        [
            {
                "run_id": run_id_for(cid, r),
                "seq": r.seq,
                "mode": r.cell.mode,
                "rate": r.cell.rate,
                "repeat": r.repeat,
                "levels": dict(r.cell.levels),
            }
            for r in p.runs
        ],
    )
    return cid


def run(
    campaign: Campaign,
    state_dir: Path,
    resume: bool,
    stream: TextIO = sys.stderr,
    live: bool | None = None,
    lab_kind: str = "auto",
) -> CampaignSummary:
    _agents_on_path()
    preflight(campaign)
    p = make_plan(campaign)
    if lab_kind == "namespaces" and os.geteuid() != 0:
        raise UsageError("--lab namespaces needs root")
    as_root = os.geteuid() == 0 if lab_kind == "auto" else lab_kind == "namespaces"
    host = label(socket.gethostname())
    record_dir = state_dir / "lab" / "records"
    with LabLock(state_dir):
        ledger = Ledger(state_dir / "ledger.db")
        try:
            facts = host_facts()
            cid = start_or_resume(ledger, campaign, p, resume, facts)
            if not as_root:
                gives = loopback_lab("x", record_dir).gives_up
                why = "not root" if lab_kind == "auto" else "--lab loopback"
                print(
                    f"tare: {why}: a loopback lab, which gives up " + "; ".join(gives), file=stream
                )

            def make_lab(run_id: str) -> Lab:
                lab_id = uuid.uuid4().hex[:8]
                if as_root:
                    return namespace_lab(lab_id, record_dir, campaign.spec.workload.port)
                return loopback_lab(lab_id, record_dir)

            est = campaign.spec.load.duration_s + SETUP_S
            progress = Progress(len(p.runs), est, stream, live)
            base_manifest = {
                "campaign_id": cid,
                "campaign": campaign.name,
                "night": (ledger.campaign(cid) or {}).get("night"),
                "platform": campaign.spec.campaign.platform,
                "host": facts,
                "graphite": {
                    "render_url": campaign.spec.graphite.render_url,
                    "carbon": campaign.spec.graphite.carbon,
                    "prefix": campaign.spec.graphite.prefix,
                },
                "output_dir": campaign.spec.campaign.output_dir,
            }
            planned = {r.seq: r for r in p.runs}
            return run_campaign(
                ledger,
                cid,
                planned,
                runner_config(campaign, state_dir),
                make_lab,
                Hooks(campaign, cid, state_dir, host),
                progress,
                base_manifest,
            )
        finally:
            ledger.close()


def capacity(
    campaign: Campaign, state_dir: Path, modes: list[str], clients: list[int], step_s: float
) -> list[Any]:
    """Sweep each mode's closed-loop capacity in a fresh lab; results also go to Graphite."""
    from harness.capacity import sweep

    _agents_on_path()
    preflight(campaign)
    if os.geteuid() != 0:
        raise UsageError("tare capacity needs root (the namespaces lab)")
    levels = {
        **matrix.default_reference(campaign.factor_levels()),
        **campaign.spec.design.reference,
    }
    record_dir = state_dir / "lab" / "records"
    results = []
    host = label(socket.gethostname())
    with LabLock(state_dir):
        for mode in modes:
            run_id = label(f"capacity-{campaign.name}-{mode}-{uuid.uuid4().hex[:6]}")

            def make_lab(_run_id: str) -> Lab:
                return namespace_lab(uuid.uuid4().hex[:8], record_dir, campaign.spec.workload.port)

            results.append(
                sweep(
                    mode,
                    dict(levels),
                    runner_config(campaign, state_dir),
                    make_lab,
                    run_id,
                    clients,
                    step_s,
                )
            )
    spec = campaign.spec
    carbon_host, _, port = spec.graphite.carbon.rpartition(":")
    sender = CarbonSender(carbon_host, int(port), state_dir / "spool" / "capacity")
    now = int(time.time())
    try:
        for r in results:
            k = r.knee()
            if k is None:
                continue
            base = f"{spec.graphite.prefix}.capacity.{label(campaign.name)}.{host}.{label(r.mode)}"
            sender.add(
                [
                    (f"{base}.max_conn_per_s", float(r.max_rate or 0), now),
                    (f"{base}.knee_clients", float(k.clients), now),
                    (f"{base}.knee_conn_per_s", k.rate, now),
                ]
            )
    finally:
        sender.close()
    return results
