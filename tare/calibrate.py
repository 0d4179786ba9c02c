"""``tare calibrate``: can the lab see a known overhead, and how small an overhead can it see?

Three groups of runs, interleaved round after round (A B A2, then A2 B A, ...): A and A2 are the
baseline (no agent) twice, for the A/A test; B is the ballast agent (``harness/ballast.py``) with
a known CPU share and resident memory. After each round the overheads are recomputed, and the
calibration stops as soon as every judged CI is narrow enough (sequential stopping) or the budget
of load seconds per pair is spent. Wiring: statistics in ``pipeline.precision``.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TextIO

import numpy as np

from collectors.names import label
from harness.lab import Lab, namespace_lab, split_cpus
from harness.matrix import BASELINE, Cell, PlannedRun
from harness.runner import RunOutcome, execute_run
from pipeline.fetch import RunRef, fetch_run
from pipeline.graphite import GraphiteClient
from pipeline.kpis import BY_NAME, Kpi
from pipeline.precision import Verdict, compare_runs, judge, judge_aa
from pipeline.stats import Comparison
from tare.config import Campaign, parse_campaign
from tare.errors import ServiceUnavailable, UsageError
from tare.run import Hooks, LabLock, _agents_on_path, preflight, runner_config
from tare.stack.settings import StackSettings

SETUP_S = 7.0  # lab, workload, agent up and down per run (measured here: 5-8 s)


@dataclass(frozen=True, slots=True)
class Techniques:
    """The noise-reduction techniques, each switchable so its effect can be measured."""

    exact_cpu: bool = True  # wall - idle per core and the cgroup; off: /proc/stat busy ticks
    pinning: bool = True  # generator and workload on separate cores
    rps: bool = True  # packet processing steered to each side's cores
    short_runs: bool = True  # many short interleaved runs; off: one long run per side
    trimming: bool = True  # warm-up and cool-down left out; off: the whole run
    covariate: bool = True  # adjusted with the load core's busy time
    sequential: bool = True  # stop once every CI is narrow enough; off: spend the budget


@dataclass(frozen=True, slots=True)
class Options:
    cpu_percent: float = 5.0
    memory_mb: float = 64.0
    rate: int = 5000
    budget_s: int = 600  # seconds of load per pair (A/B, and A/A)
    run_s: int = 30
    warmup_s: int = 5
    cooldown_s: int = 2
    max_cpu_half_width: float = 2.0  # points of one core
    max_mem_half_width: float = 5.0  # MB
    # Beyond its own pages a process costs the cgroup kernel memory (stack, slab, page-table
    # pages: 0.56 MB measured for the 64 MB ballast), and the charge is batched per CPU (64
    # pages each): cgroup memory is judged to 1 MB.
    mem_resolution_mb: float = 1.0
    min_rounds: int = 3
    techniques: Techniques = field(default_factory=Techniques)
    aa_only: bool = False  # the noise floor alone (benchmarks/noise_floor.py)
    max_rounds: int | None = None  # default: as many as the budget allows

    def __post_init__(self) -> None:
        if not 0 < self.cpu_percent <= 100:
            raise UsageError("--cpu-percent must be within (0, 100]")
        if self.memory_mb <= 0:
            raise UsageError("--memory-mb must be > 0")
        if self.rate <= 0:
            raise UsageError("--rate must be > 0")
        if self.run_s <= self.warmup_s + self.cooldown_s + 4:
            raise UsageError("--run-s must leave at least 5 s between warm-up and cool-down")
        if self.budget_s < 2 * self.run_s * (2 if self.techniques.short_runs else 1):
            raise UsageError(f"--budget-s must allow two runs per side ({4 * self.run_s} s)")


@dataclass(frozen=True, slots=True)
class Target:
    kpi: Kpi
    injected: str  # "cpu" | "mem"
    judged: bool
    maps: str  # how the injected value maps to this KPI


def targets(t: Techniques) -> list[Target]:
    cpu = "P % of one core = P points of one core"
    return [
        Target(BY_NAME["cpu_cgroup"], "cpu", t.exact_cpu, f"{cpu}: the ballast runs in the cgroup"),
        Target(
            BY_NAME["cpu_workload_core"],
            "cpu",
            t.exact_cpu,
            f"{cpu}: the ballast is pinned to the workload core",
        ),
        Target(BY_NAME["cpu_all"], "cpu", False, f"{cpu}: summed over the cores"),
        Target(TICKS, "cpu", not t.exact_cpu, f"{cpu}: /proc/stat busy ticks, workload core"),
        Target(BY_NAME["mem_cgroup"], "mem", True, "M MB of anonymous resident memory"),
        Target(BY_NAME["mem_available"], "mem", False, "M MB less available (system-wide)"),
    ]


TICK_FIELDS = ("user_pct", "system_pct", "softirq_pct", "irq_pct", "steal_pct")
TICKS = Kpi("cpu_workload_core_ticks", "tare.cpu_{core}.ticks", "pp of a core")
LOAD_CORE = "load_core_busy"


def cores() -> tuple[str, str]:
    """(the workload core, the first load core): the lab's split, for the KPI paths."""
    w_core, l_cores = split_cpus(os.cpu_count() or 1)
    return w_core, l_cores.split("-")[0].split(",")[0]


def campaign_for(opts: Options, stack: StackSettings) -> Campaign:
    """The calibration as a campaign: nginx, the ballast agent, one rate."""
    state = ["--state-dir", "{lab_dir}/ballast"]
    size = ["--cpu-percent", "{cpu_percent}", "--memory-mb", "{memory_mb}"]
    nginx = ["nginx", "-p", "{lab_dir}/nginx", "-c", "{lab_dir}/nginx/nginx.conf"]

    def argv(*words: str) -> str:
        return json.dumps(["tare-ballast", *words])  # a JSON list of strings is a TOML array

    trim = opts.techniques.trimming
    text = f"""
[campaign]
name = "calibrate"
[graphite]
render_url = "{stack.render_url}"
carbon = "{stack.carbon}"
[workload]
command = {json.dumps([*nginx, "-g", "daemon off;"])}
port = 8080
[agent]
name = "ballast"
process = "tare-ballast"
modes = ["ballast"]
install = {argv("install", *state, *size)}
uninstall = {argv("uninstall", *state)}
set_mode = {argv("mode", "{mode}", *state)}
start = {argv("start", *state)}
stop = {argv("stop", *state)}
health = {argv("status", *state)}
version = {argv("--version")}
[load]
rates = [{opts.rate}]
duration_s = {opts.run_s}
warmup_s = {opts.warmup_s if trim else 0}
cooldown_s = {opts.cooldown_s if trim else 0}
run_timeout_s = {opts.run_s * 3 + 60}
[design]
kind = "full"
repeats = 1
[factors]
cpu_percent = [{opts.cpu_percent}]
memory_mb = [{opts.memory_mb}]
"""
    return parse_campaign(text, "(calibration)")


@dataclass
class RunData:
    run_id: str
    group: str  # "A" | "A2" | "B"
    status: str
    reason: str | None
    values: dict[str, list[float]] = field(default_factory=dict)  # kpi -> per-second values
    ref: RunRef | None = None  # where its series are (the steady window)


@dataclass
class Result:
    options: Options
    runs: list[RunData]
    aa: list[Verdict]
    ballast: list[tuple[Target, Verdict]]
    sd_between_runs: dict[str, float]
    rounds: int
    stopped: str

    @property
    def problems(self) -> list[str]:
        out = [f"{v.kpi}: {p}" for _t, v in self.ballast if _t.judged for p in v.problems]
        out += [f"{v.kpi}: {p}" for v in self.aa for p in v.problems]
        return out


def fetch_values(client: GraphiteClient, ref: RunRef, load_core: str) -> dict[str, list[float]]:
    kpis = [BY_NAME[k] for k in ("cpu_cgroup", "cpu_workload_core", "cpu_all")]
    kpis += [BY_NAME["mem_cgroup"], BY_NAME["mem_available"]]
    ticks = [Kpi(f"tick_{f}", f"tare.cpu_{{core}}.{f}", "pp") for f in TICK_FIELDS]
    load = Kpi(LOAD_CORE, f"tare.cpu_{load_core}.busy_pct", "pp")
    frame = fetch_run(client, ref, [*kpis, *ticks, load], required=False)
    out: dict[str, list[float]] = {}
    for name, g in frame.groupby("kpi"):
        out[str(name)] = [float(v) for v in g.sort_values("time")["value"] if math.isfinite(v)]
    parts = [frame[frame["kpi"] == f"tick_{f}"].set_index("time")["value"] for f in TICK_FIELDS]
    if all(len(p) for p in parts):
        total = sum(parts[1:], parts[0])
        out[TICKS.name] = [float(v) for v in total.sort_index() if math.isfinite(v)]
    return out


def _compare(runs: list[RunData], a: str, b: str, t: Target, covariate: bool) -> Comparison | None:
    ra = [r for r in runs if r.group == a and r.status == "done" and r.values.get(t.kpi.name)]
    rb = [r for r in runs if r.group == b and r.status == "done" and r.values.get(t.kpi.name)]
    if not ra or not rb:
        return None
    cov = None
    if covariate and all(r.values.get(LOAD_CORE) for r in (*ra, *rb)):
        cov = (
            [float(np.mean(r.values[LOAD_CORE])) for r in ra],
            [float(np.mean(r.values[LOAD_CORE])) for r in rb],
        )
    comp = compare_runs([r.values[t.kpi.name] for r in ra], [r.values[t.kpi.name] for r in rb], cov)
    return comp.flipped() if t.kpi.lower_is_cost else comp


def evaluate(
    opts: Options, runs: list[RunData]
) -> tuple[list[Verdict], list[tuple[Target, Verdict]]]:
    tech = opts.techniques
    ballast: list[tuple[Target, Verdict]] = []
    aa_kpis: list[str] = []
    aa_comps: list[Comparison] = []
    for t in targets(tech):
        comp = _compare(runs, "A", "B", t, tech.covariate)
        if comp is not None:
            injected = opts.cpu_percent if t.injected == "cpu" else opts.memory_mb
            limit = opts.max_cpu_half_width if t.injected == "cpu" else opts.max_mem_half_width
            unit = "pp" if t.injected == "cpu" else "MB"
            res = 0.0 if t.injected == "cpu" else opts.mem_resolution_mb
            ballast.append((t, judge(t.kpi.name, injected, comp, limit, unit, res)))
        aa = _compare(runs, "A", "A2", t, tech.covariate)
        if aa is not None and t.judged:
            aa_kpis.append(t.kpi.name)
            aa_comps.append(aa)
    return judge_aa(aa_kpis, aa_comps), ballast


def _narrow_enough(ballast: list[tuple[Target, Verdict]]) -> bool:
    judged = [v for t, v in ballast if t.judged]
    return bool(judged) and all(v.narrow for v in judged)


def sd_between(runs: list[RunData], opts: Options) -> dict[str, float]:
    out = {}
    for t in targets(opts.techniques):
        means = [
            float(np.mean(r.values[t.kpi.name]))
            for r in runs
            if r.group in ("A", "A2") and r.status == "done" and r.values.get(t.kpi.name)
        ]
        if len(means) >= 2:
            out[t.kpi.name] = float(np.std(means, ddof=1))
    return out


def calibrate(
    opts: Options,
    stack: StackSettings,
    stream: TextIO,
    make_lab: Callable[[str], Lab] | None = None,
) -> Result:
    if os.geteuid() != 0:
        raise UsageError("tare calibrate needs root (a namespaces lab pinned to its cores)")
    _agents_on_path()
    campaign = campaign_for(opts, stack)
    preflight(campaign)
    cfg = runner_config(campaign, stack.state_dir)
    host = label(socket.gethostname())
    hooks = Hooks(campaign, "calibrate", stack.state_dir, host)
    client = GraphiteClient(stack.render_url, timeout_s=30)
    if not client.ping():
        raise ServiceUnavailable(
            f"graphite-web at {stack.render_url} does not answer; start it with `tare stack up`"
        )
    w_core, load_core = cores()
    record_dir = stack.state_dir / "lab" / "records"
    tech = opts.techniques

    def default_lab(_run_id: str) -> Lab:
        return namespace_lab(uuid.uuid4().hex[:8], record_dir, 8080, pin=tech.pinning, rps=tech.rps)

    lab_for = make_lab or default_lab
    run_s = opts.run_s if tech.short_runs else opts.budget_s // 2
    if not tech.short_runs:
        cfg = replace(cfg, duration_s=run_s, run_timeout_s=run_s * 2 + 60)
    rounds_max = opts.max_rounds or max(1, opts.budget_s // (2 * run_s))
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    levels = {"rate": opts.rate, "cpu_percent": opts.cpu_percent, "memory_mb": opts.memory_mb}
    runs: list[RunData] = []
    stopped = "budget spent"
    rounds = 0
    with LabLock(stack.state_dir):
        for rnd in range(rounds_max):
            order: tuple[str, ...] = ("A", "B", "A2") if rnd % 2 == 0 else ("A2", "B", "A")
            if opts.aa_only:
                order = ("A", "A2") if rnd % 2 == 0 else ("A2", "A")
            for group in order:
                mode = "ballast" if group == "B" else BASELINE
                cell = Cell((("mode", mode), *levels.items()))
                seq = len(runs) + 1
                run_id = label(f"calib-{stamp}-{seq:03d}-{group.lower()}")
                planned = PlannedRun(seq, cell, rnd + 1, ())
                outcome = execute_run(run_id, planned, cfg, lab_for, hooks)
                hooks.run_finished(run_id, planned, outcome)
                runs.append(_data(client, run_id, group, outcome, host, w_core, load_core))
                print(
                    f"calibrate: round {rnd + 1}/{rounds_max} {group:<2} {mode:<8} "
                    f"{outcome.status}" + (f": {outcome.reason}" if outcome.reason else ""),
                    file=stream,
                    flush=True,
                )
            rounds = rnd + 1
            if tech.sequential and not opts.aa_only and rounds >= opts.min_rounds:
                _aa, ballast = evaluate(opts, runs)
                if _narrow_enough(ballast):
                    stopped = "every CI narrow enough"
                    break
    aa, ballast = evaluate(opts, runs)
    return Result(opts, runs, aa, ballast, sd_between(runs, opts), rounds, stopped)


def _data(
    client: GraphiteClient,
    run_id: str,
    group: str,
    outcome: RunOutcome,
    host: str,
    core: str,
    load_core: str,
) -> RunData:
    data = RunData(run_id, group, outcome.status, outcome.reason)
    if outcome.status == "done" and outcome.steady is not None:
        ref = RunRef(
            run_id, host, "tare", math.ceil(outcome.steady[0]), math.floor(outcome.steady[1]), core
        )
        data.values = fetch_values(client, ref, load_core)
        data.ref = ref
    return data


def to_json(r: Result) -> dict[str, Any]:
    def comp(c: Comparison) -> dict[str, Any]:
        return {
            "delta": c.delta,
            "ci_low": c.ci_low,
            "ci_high": c.ci_high,
            "pvalue": c.pvalue,
            "mde": c.mde,
            "method": c.method,
            "n_baseline_runs": c.n_baseline,
            "n_ballast_runs": c.n_contender,
        }

    return {
        "injected": {"cpu_percent": r.options.cpu_percent, "memory_mb": r.options.memory_mb},
        "rate": r.options.rate,
        "budget_s": r.options.budget_s,
        "run_s": r.options.run_s,
        "techniques": asdict(r.options.techniques),
        "rounds": r.rounds,
        "stopped": r.stopped,
        "runs": [
            {"run_id": x.run_id, "group": x.group, "status": x.status, "reason": x.reason}
            for x in r.runs
        ],
        "aa": [
            {
                "kpi": v.kpi,
                "recovered": comp(v.recovered),
                "significant": bool(v.problems),
                "noise_floor_mde": v.recovered.mde,
                "sd_between_runs": r.sd_between_runs.get(v.kpi),
            }
            for v in r.aa
        ],
        "ballast": [
            {
                "kpi": v.kpi,
                "unit": t.kpi.unit,
                "injected": v.injected,
                "injected_maps_to": t.maps,
                "recovered": comp(v.recovered),
                "injected_inside_ci": v.inside,
                "resolution": v.resolution,
                "half_width": v.half_width,
                "max_half_width": v.max_half_width,
                "judged": t.judged,
                "problems": list(v.problems),
            }
            for t, v in r.ballast
        ],
        "ok": not r.problems,
        "problems": r.problems,
    }
