"""``tare plan``, ``tare run`` and ``tare capacity``: the campaign file turned into the harness's
typed inputs, and the harness, the collectors and Graphite wired together. No measurement and
no statistics here."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from collectors.carbon import unreachable
from collectors.collect import (
    CollectOptions,
    Collector,
    Together,
    default_host,
    resolve_collector,
    start_run_collection,
)
from collectors.results import capacity_points, load_points
from collectors.sampler import ProcMatch, Targets
from collectors.sender import CarbonSender, Delivery, deliver
from contracts.errors import BadInput, RunInvalid, ServiceUnavailable, UsageError
from contracts.events import RunEvent, SteadyEnd
from contracts.labels import label
from contracts.load import PROFILE_FACTOR, Profile
from contracts.manifest import CampaignInfo, CampaignRecord, GraphiteTarget, levels_of
from contracts.paths import CapacityMetric
from contracts.states import RunState
from harness import matrix
from harness.agent import AgentCommands, StepTimeouts
from harness.campaign import CampaignSummary, run_campaign, start_or_resume
from harness.facts import host_facts
from harness.hostlab import RemoteWorkload, hosts_lab
from harness.lab import Lab, LabError, Sysctls, loopback_lab, namespace_lab, split_cpus
from harness.ledger import Ledger
from harness.lock import LabLock
from harness.matrix import Design, PlannedRun
from harness.preflight import agents_on_path, check_tools
from harness.profiles import Profiles
from harness.progress import Progress
from harness.remote_collect import REMOTE_STATE, RemoteCollector, collect_argv, open_log
from harness.runner import RunnerConfig, RunOutcome
from pipeline.adaptive import Expected, expected, targets
from pipeline.graphite import GraphiteClient, GraphiteUnavailable
from tare import __version__, hosts
from tare.config import Campaign, placeholders, program
from tare.configfile import ConfigError

log = logging.getLogger(__name__)

SETUP_S = 2.0  # lab, workload start and tear-down per run (measured: 1.5-2 s here)
PROBE_SETUP_S = 0.5  # the probe's load tool started and its log read
AGENT_SETUP_S = 0.5  # install, mode, start, health, stop, uninstall (reference agent)
COLLECTD_SETUP_S = 1.5  # a per-run collectd's start and stop (measured: 33.5 s a 30 s run)


def run_seconds(campaign: Campaign, runs: Sequence[PlannedRun]) -> float:
    """The wall time of these runs of the campaign: load, set-up, the probe, the agent's, the
    collector's."""
    spec = campaign.spec
    setup = SETUP_S + (COLLECTD_SETUP_S if spec.collect.collector == "collectd" else 0)
    setup += spec.design.probe_s + PROBE_SETUP_S if spec.design.covariate else 0
    return matrix.wall_time_s(runs, campaign.spec.load.duration_s, setup, AGENT_SETUP_S)


def design(campaign: Campaign) -> Design:
    spec = campaign.spec
    workload_uses = set(placeholders(spec.workload.command))
    # the load (rate and profile) and what the workload's own command uses change a baseline
    baseline_factors = frozenset({"rate", PROFILE_FACTOR} | (set(spec.factors) & workload_uses))
    return Design(
        factors=campaign.factor_levels(),
        kind=spec.design.kind,
        crossed=tuple(spec.design.crossed),
        reference=dict(spec.design.reference),
        repeats=spec.design.min_repeats if spec.design.adaptive else spec.design.repeats,
        interleave=spec.design.interleave or spec.design.adaptive,
        baseline_factors=baseline_factors,
    )


@dataclass(frozen=True, slots=True)
class Plan:
    runs: list[PlannedRun]
    wall_time_s: float
    cells: int


def make_plan(campaign: Campaign) -> Plan:
    runs = matrix.plan(design(campaign))
    clashes = matrix.path_collisions(list({r.cell: None for r in runs}))
    if clashes:
        a, b = clashes[0]
        raise ConfigError(
            f"{campaign.path}: the cells {dict(a.levels)} and {dict(b.levels)} would share one "
            "nightly Graphite path; rename a level"
        )
    wall = run_seconds(campaign, runs)
    return Plan(runs, wall, len({r.cell for r in runs}))


def adaptive_estimate(campaign: Campaign, state_dir: Path) -> Expected:
    """An adaptive night's least, expected (from ``tare calibrate``'s noise) and most wall time."""
    from contracts import noise
    from tare.adaptive import block_costs

    d = campaign.spec.design
    load = campaign.spec.load
    costs = block_costs(design(campaign), partial(run_seconds, campaign))
    goal = targets(d.target_ci)
    found = noise.load_all(state_dir)
    return expected(costs, d.min_repeats, d.max_repeats, goal, found, load.duration_s)


def fixed_wall_time_s(campaign: Campaign) -> float:
    """The campaign's wall time with ``design.repeats`` repeats and no adaptive stop."""
    d = replace(design(campaign), repeats=campaign.spec.design.repeats)
    return run_seconds(campaign, matrix.plan(d))


def plan_json(campaign: Campaign, p: Plan) -> dict[str, Any]:
    offered = profiles(campaign)
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
                "load": offered.describe(dict(r.cell.levels)),
                "repeat": r.repeat,
                "baseline_for": [dict(c.levels) for c in r.baseline_of],
            }
            for r in p.runs
        ],
        "load_s_per_run": campaign.spec.load.duration_s,
        "collector": campaign.spec.collect.collector,
        "compare_prefix": campaign.spec.collect.compare_prefix,
        "wall_time_s": round(p.wall_time_s),
    }


def config_hash(campaign: Campaign) -> str:
    return hashlib.sha256(campaign.spec.model_dump_json().encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Collecting:
    """Who collects each run: the campaign's collector, and the other one under a second
    prefix when the campaign compares them."""

    collector: Collector = "sampler"
    compare_prefix: str | None = None
    max_restarts: int = 2

    @property
    def other(self) -> Collector:
        return "sampler" if self.collector == "collectd" else "collectd"


class Recorder:
    """The harness's hooks: the run's collector(s) during each run, the load results and an
    event after it, all to this campaign's Graphite."""

    def __init__(
        self,
        graphite: GraphiteTarget,
        campaign: str,
        cid: str,
        state_dir: Path,
        processes: tuple[str, str],  # the workload's and the agent's process names
        collecting: Collecting = Collecting(),
        remote: RemoteWorkload | None = None,  # the workload host over SSH
    ) -> None:
        self.remote = remote
        self.graphite = graphite
        self.campaign = campaign
        self.cid = cid
        self.state_dir = state_dir
        self.processes = processes
        self.collecting = collecting
        self.host = default_host()

    def sender(self, name: str) -> CarbonSender:
        return CarbonSender(self.graphite.carbon, self.state_dir / "spool" / name)

    def start_collection(self, run_id: str, lab: Lab, agent_present: bool) -> Together:
        if self.remote is not None and lab.workload.transport is not None:
            return Together(self._remote_collector(run_id, lab, agent_present))
        server, agent = self.processes
        processes: tuple[ProcMatch, ...] = (ProcMatch("server", name=server),)
        if agent_present:
            processes += (ProcMatch("agent", name=agent),)
        targets = Targets(
            netns=lab.workload.netns,
            interfaces=(lab.workload.interface,) if lab.workload.interface else (),
            cgroup=lab.cgroup,
            processes=processes,
        )
        c = self.collecting
        asked = [(c.collector, self.graphite.prefix)]
        if c.compare_prefix is not None:
            asked.append((c.other, c.compare_prefix))
        started = []
        for kind, prefix in asked:
            opts = CollectOptions(
                run_id, None, self.graphite.carbon, prefix, self.host, targets, self.state_dir
            )
            name = "run-collect" if prefix == self.graphite.prefix else "run-collect-compare"
            started.append(
                start_run_collection(kind, opts, partial(self.sender, name), c.max_restarts)
            )
        return Together(started[0], tuple(started[1:]))

    def _remote_collector(self, run_id: str, lab: Lab, agent_present: bool) -> RemoteCollector:
        """tare collect on the workload host, pushing to the relay itself, under the same
        paths as a local run's sampler (so the analysis reads both alike)."""
        assert self.remote is not None
        server, agent = self.processes
        followed = [("server", server)] + ([("agent", agent)] if agent_present else [])
        argv = collect_argv(
            self.remote.tare,
            label(self.campaign),
            run_id,
            self.remote.carbon or str(self.graphite.carbon),
            self.graphite.prefix,
            self.host,
            lab.cgroup,
            lab.workload.interface,
            followed,
        )
        log = open_log(self.state_dir / "log" / "remote-collect" / f"{run_id}.log")
        report = f"{REMOTE_STATE}/{label(self.campaign)}/reports/{label(run_id)}.json"
        return RemoteCollector(lab.workload, argv, report, log, self.graphite.prefix)

    def run_finished(self, run_id: str, planned: PlannedRun, outcome: RunOutcome) -> None:
        end = int(outcome.steady[1]) if outcome.steady else int(time.time())
        summary = outcome.summary()
        points = load_points(
            self.graphite.prefix,
            run_id,
            self.host,
            summary.target_rate if summary is not None else planned.cell.rate,
            outcome.status is RunState.DONE,
            outcome.per_second,
            summary,
            end,
            mid_second(outcome.steady) if outcome.steady else None,
        )
        delivery = deliver(self.graphite.carbon, self.state_dir / "spool", "run-results", points)
        if not delivery.sent:
            log.warning("%s: %s", run_id, delivery.describe("result points", self.graphite.carbon))
        event = RunEvent(
            run_id,
            self.campaign,
            self.cid,
            levels_of(dict(planned.cell.levels)),
            outcome.status,
            outcome.reason,
            int(outcome.steady[0]) if outcome.steady else int(time.time()),
        )
        marks: list[RunEvent | SteadyEnd] = [event]
        if outcome.steady:
            marks.append(SteadyEnd(run_id, int(outcome.steady[1])))
        try:
            client = GraphiteClient(str(self.graphite.render_url), timeout_s=5)
            for m in marks:
                client.post_event(m.what, m.tags(), m.when, m.data())
        except GraphiteUnavailable as exc:
            log.warning("run %s: event not posted: %s", run_id, exc)


def mid_second(steady: tuple[float, float]) -> int:
    """A whole second in the middle of a steady window: where a run's one-point KPIs go (the
    render API leaves out a window's first second)."""
    return (math.ceil(steady[0]) + math.floor(steady[1])) // 2


def preflight(campaign: Campaign, local_workload: bool = True, local_load: bool = True) -> None:
    """The load tool and the workload's program where they run here, and carbon answering."""
    spec = campaign.spec
    here = campaign.path.parent.resolve()
    workload = program(spec.workload.command, here)[0] if local_workload else None
    if local_workload:
        try:
            split_cpus(os.cpu_count() or 1, spec.workload.cpus)
        except LabError as exc:
            raise BadInput(f"{campaign.path}: {exc}") from None
    if local_load:
        check_tools(spec.load.tool, workload, f"{campaign.path}: workload.command")
    carbon = campaign.graphite.carbon
    why = unreachable(carbon)
    if why is not None:
        raise ServiceUnavailable(
            f"carbon at {carbon} unreachable ({why}); start it with 'tare stack up'"
        )


def check_rates(
    campaign: Campaign,
    runs: Sequence[PlannedRun],
    make_lab: Callable[[str], Lab],
    state_dir: Path,
    stream: TextIO,
) -> None:
    """Every connection rate the plan holds, offered to the bare workload before the night
    (``harness.reach``); RunInvalid naming the first one out of reach."""
    from harness.reach import out_of_reach

    rates = [r.cell.rate for r in runs if Profile.of(dict(r.cell.levels)) is Profile.CONNECTIONS]
    if not rates:
        return
    cfg = runner_config(campaign, state_dir)
    root = state_dir / "lab" / "reach"
    refused = out_of_reach(
        rates, cfg, make_lab, root, lambda text: print(f"tare: {text}", file=stream, flush=True)
    )
    if refused:
        raise RunInvalid(  # each refused rate was said as it was offered
            f"{refused[0].describe()}: lower load.rates, or give the load more cores "
            "([hosts] load); no run was spent"
        )


def profiles(campaign: Campaign) -> Profiles:
    """How the campaign offers each load profile."""
    load = campaign.spec.load
    return Profiles(
        requests_clients=load.requests.connections,
        throughput_clients=load.throughput.connections,
        throughput_mbit=load.throughput.mbit_per_s,
        body_bytes=load.throughput.body_kib * 1024,
        bulk_path=load.throughput.path,
    )


def lab_sysctls(campaign: Campaign) -> Sysctls:
    """The campaign's [lab.sysctls]: written on the workload host only where it says (else the
    host keeps its own), and on the load host over tare's load tuning."""
    t = campaign.spec.lab.sysctls
    return Sysctls.asked(
        {k: str(v) for k, v in t.workload.items()}, {k: str(v) for k, v in t.load.items()}
    )


def runner_config(campaign: Campaign, state_dir: Path) -> RunnerConfig:
    spec = campaign.spec
    a = spec.agent
    here = campaign.path.parent.resolve()
    return RunnerConfig(
        workload_argv=program(spec.workload.command, here),
        port=spec.workload.port,
        path=spec.workload.path,
        ready_timeout_s=spec.workload.ready_timeout_s,
        access_log=spec.workload.access_log,
        agent=AgentCommands(
            install=program(a.install, here),
            uninstall=program(a.uninstall, here),
            set_mode=program(a.set_mode, here),
            start=program(a.start, here),
            stop=program(a.stop, here),
            health=program(a.health, here),
            version=program(a.version, here) if a.version else None,
            health_timeout_s=a.health_timeout_s,
            timeouts=StepTimeouts(**a.timeouts.model_dump()),
        ),
        tool=spec.load.tool,
        duration_s=spec.load.duration_s,
        warmup_s=spec.load.warmup_s,
        cooldown_s=spec.load.cooldown_s,
        min_ratio=spec.load.min_achieved_ratio,
        run_timeout_s=spec.load.run_timeout_s,
        lab_root=state_dir / "lab" / "runs",
        state_dir=state_dir,
        max_disturbance_pct=spec.load.max_disturbance_pct,
        max_missing_s=spec.collect.max_missing_s,
        profiles=profiles(campaign),
        max_error_pct=spec.load.max_error_pct,
        probe_s=spec.design.probe_s if spec.design.covariate else 0,
        campaign_dir=here,
    )


def recorder(
    campaign: Campaign,
    cid: str,
    state_dir: Path,
    collector: Collector,
    remote: RemoteWorkload | None = None,
) -> Recorder:
    spec = campaign.spec
    return Recorder(
        campaign.graphite,
        campaign.name,
        cid,
        state_dir,
        (spec.workload.process, spec.agent.process),
        Collecting(collector, spec.collect.compare_prefix, spec.collect.max_restarts),
        remote,
    )


def collector_of(campaign: Campaign, state_dir: Path, stream: TextIO) -> Collector:
    """The campaign's collector, checked before the first run (collectd installed and loading
    tare's plugin; with ``auto``, the sampler when not, saying why); the comparison collector
    is checked too."""
    c = campaign.spec.collect
    g = campaign.graphite
    chosen, why = resolve_collector(c.collector, state_dir, g.carbon, g.prefix)
    if why is not None:
        print(f"tare: collector auto: the sampler ({why})", file=stream)
    if c.compare_prefix is not None and chosen == "sampler":
        resolve_collector("collectd", state_dir, g.carbon, c.compare_prefix)
    return chosen


def run(
    campaign: Campaign,
    state_dir: Path,
    resume: bool,
    stream: TextIO = sys.stderr,
    live: bool | None = None,
    lab_kind: str = "auto",
) -> CampaignSummary:
    agents_on_path()
    remote = hosts.remote_workload(campaign)
    preflight(
        campaign,
        local_workload=remote is None,
        local_load=hosts.ssh_of(campaign, "load") is None,
    )
    if remote is not None:
        hosts.preflight(campaign, remote)
    p = make_plan(campaign)
    if lab_kind == "namespaces" and os.geteuid() != 0:
        raise UsageError("--lab namespaces needs root")
    as_root = os.geteuid() == 0 if lab_kind == "auto" else lab_kind == "namespaces"
    record_dir = state_dir / "lab" / "records"
    spec = campaign.spec
    with lab_locks("run", campaign, state_dir):
        collector = collector_of(campaign, state_dir, stream)
        ledger = Ledger(state_dir / "ledger.db")
        try:
            if not as_root and remote is None:
                gives = loopback_lab("x", record_dir).gives_up
                why = "not root" if lab_kind == "auto" else "--lab loopback"
                print(
                    f"tare: {why}: a loopback lab, which gives up " + "; ".join(gives), file=stream
                )

            sysctls = lab_sysctls(campaign)

            def make_lab(run_id: str) -> Lab:
                lab_id = uuid.uuid4().hex[:8]
                if remote is not None:
                    return hosts_lab(
                        lab_id,
                        record_dir,
                        remote,
                        hosts.load_address(campaign),
                        hosts.ssh_of(campaign, "load"),
                        sysctls,
                    )
                if as_root:
                    return namespace_lab(
                        lab_id,
                        record_dir,
                        spec.workload.port,
                        sysctls=sysctls,
                        clients=spec.lab.clients,
                        workload_cpus=spec.workload.cpus,
                    )
                return loopback_lab(lab_id, record_dir, spec.workload.cpus)

            if spec.load.check_rates:
                check_rates(campaign, p.runs, make_lab, state_dir, stream)
            facts = host_facts(__version__)
            cid = start_or_resume(
                ledger,
                campaign.name,
                spec.campaign.platform,
                str(campaign.path),
                config_hash(campaign),
                p.runs,
                resume,
                facts,
            )
            record = campaign_record(ledger, cid)
            info = CampaignInfo(
                cid,
                campaign.name,
                record.night,
                spec.campaign.platform,
                facts,
                campaign.graphite,
                str(campaign.output_dir),
                spec.design.paired and spec.design.interleave,
                spec.design.covariate,
                collector,
                tuple(targets(spec.design.target_ci).items()) if spec.design.adaptive else (),
                spec.load.max_error_pct,
            )
            rows = ledger.runs(cid)
            d = design(campaign)
            planned = {r.seq: r for r in p.runs}
            for row in rows:  # rounds an adaptive night added before it was interrupted
                if row.seq not in planned:
                    planned[row.seq] = matrix.replanned(d, row.seq, dict(row.levels), row.repeat)
            per_run = run_seconds(campaign, p.runs[:1]) if p.runs else SETUP_S
            progress = Progress(len(rows), per_run, stream, live)
            more = None
            if spec.design.adaptive:
                from tare.adaptive import Rounds

                more = Rounds(
                    d,
                    spec.design.min_repeats,
                    spec.design.max_repeats,
                    dict(info.target_ci),
                    partial(campaign_record, ledger, cid),
                    GraphiteClient(str(campaign.graphite.render_url), timeout_s=30),
                    progress.say,
                )
            return run_campaign(
                ledger,
                info,
                planned,
                runner_config(campaign, state_dir),
                make_lab,
                recorder(campaign, cid, state_dir, collector, remote),
                progress,
                spec.design.reruns_disturbed,
                more,
            )
        finally:
            ledger.close()


@contextlib.contextmanager
def lab_locks(verb: str, campaign: Campaign, state_dir: Path) -> Iterator[None]:
    """The lab lock of every host the campaign measures on: this machine's, or one per host
    reached over SSH (so campaigns on distinct hosts run at once)."""
    with contextlib.ExitStack() as stack:
        for name in dict.fromkeys(hosts.host_names(campaign)):
            host = None if name == hosts.THIS_MACHINE else name
            stack.enter_context(LabLock(verb, campaign.name, state_dir, host=host))
        yield


def campaign_record(ledger: Ledger, cid: str) -> CampaignRecord:
    record = ledger.campaign(cid)
    assert record is not None
    return record


def capacity(
    campaign: Campaign,
    state_dir: Path,
    modes: list[str],
    clients: list[int],
    step_s: float,
    repeats: int,
) -> tuple[list[Any], Delivery]:
    """Sweep each mode's closed-loop capacity ``repeats`` times (modes interleaved, the order
    reversed in alternate repeats), each sweep in a fresh lab; results also go to Graphite
    (what became of them is the Delivery)."""
    from harness.capacity import sweep

    agents_on_path()
    preflight(campaign)
    if os.geteuid() != 0:
        raise UsageError("tare capacity needs root (the namespaces lab)")
    levels = {
        **matrix.default_reference(campaign.factor_levels()),
        **campaign.spec.design.reference,
    }
    record_dir = state_dir / "lab" / "records"
    results = []
    host = default_host()

    sysctls = lab_sysctls(campaign)

    def make_lab(_run_id: str) -> Lab:
        return namespace_lab(
            uuid.uuid4().hex[:8],
            record_dir,
            campaign.spec.workload.port,
            sysctls=sysctls,
            clients=campaign.spec.lab.clients,
            workload_cpus=campaign.spec.workload.cpus,
        )

    with LabLock("capacity", campaign.name, state_dir):
        for r in range(repeats):
            for mode in modes if r % 2 == 0 else list(reversed(modes)):
                run_id = label(f"capacity-{campaign.name}-{mode}-{uuid.uuid4().hex[:6]}")
                cfg = runner_config(campaign, state_dir)
                results.append(sweep(mode, dict(levels), cfg, make_lab, run_id, clients, step_s))
    return results, write_capacity(campaign, state_dir, host, results)


def write_capacity(campaign: Campaign, state_dir: Path, host: str, results: list[Any]) -> Delivery:
    """Per mode, the mean over its sweeps (one point per series and second)."""
    now = int(time.time())
    by_mode: dict[str, list[dict[CapacityMetric, float]]] = {}
    for c in results:
        k = c.knee()
        if k is not None:
            by_mode.setdefault(c.mode, []).append(
                {
                    CapacityMetric.MAX_CONN_PER_S: float(c.max_rate or 0),
                    CapacityMetric.KNEE_CLIENTS: float(k.clients),
                    CapacityMetric.KNEE_CONN_PER_S: k.rate,
                }
            )
    points = []
    for mode, sweeps in by_mode.items():
        values = {m: sum(s[m] for s in sweeps) / len(sweeps) for m in sweeps[0]}
        points += capacity_points(campaign.graphite.prefix, campaign.name, host, mode, values, now)
    return deliver(campaign.graphite.carbon, state_dir / "spool", "capacity", points)
