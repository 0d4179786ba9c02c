"""The calibration's evaluation (pure apart from ``fetch_values``): which KPIs the ballast maps
to, the A/A and ballast comparisons, the between-run spread, and the verdicts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from contracts.calibration import Ballast, Group, Techniques
from contracts.kpis import BY_NAME, CPU_UNIT, Kpi
from contracts.states import RunState
from pipeline.fetch import RunRef, fetch_run
from pipeline.graphite import GraphiteClient
from pipeline.precision import Verdict, compare_runs, judge, judge_aa
from pipeline.stats import Comparison

TICK_FIELDS = ("user_pct", "system_pct", "softirq_pct", "irq_pct", "steal_pct")
TICKS = Kpi("cpu_workload_core_ticks", "cpu_{core}.ticks", CPU_UNIT)
LOAD_CORE = "load_core_busy"


@dataclass(frozen=True, slots=True)
class Criteria:
    ballast: Ballast = field(default_factory=Ballast)
    techniques: Techniques = field(default_factory=Techniques)
    max_cpu_half_width: float = 2.0  # points of one core
    max_mem_half_width: float = 5.0  # MB
    # Beyond its own pages a process costs the cgroup kernel memory (stack, slab, page-table
    # pages: 0.56 MB measured for the 64 MB ballast), and the charge is batched per CPU (64
    # pages each): cgroup memory is judged to 1 MB.
    mem_resolution_mb: float = 1.0


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


@dataclass
class RunData:
    run_id: str
    group: Group
    status: RunState
    reason: str | None
    values: dict[str, list[float]] = field(default_factory=dict)  # kpi -> per-second values
    ref: RunRef | None = None  # where its series are (the steady window)


@dataclass
class Result:
    criteria: Criteria
    rate: int
    budget_s: int
    run_s: int
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
    ticks = [Kpi(f"tick_{f}", f"cpu_{{core}}.{f}", "pp") for f in TICK_FIELDS]
    load = Kpi(LOAD_CORE, f"cpu_{load_core}.busy_pct", "pp")
    frame = fetch_run(client, ref, [*kpis, *ticks, load], required=False)
    out: dict[str, list[float]] = {}
    for name, g in frame.groupby("kpi"):
        out[str(name)] = [float(v) for v in g.sort_values("time")["value"] if math.isfinite(v)]
    parts = [frame[frame["kpi"] == f"tick_{f}"].set_index("time")["value"] for f in TICK_FIELDS]
    if all(len(p) for p in parts):
        total = sum(parts[1:], parts[0])
        out[TICKS.name] = [float(v) for v in total.sort_index() if math.isfinite(v)]
    return out


def _finished(runs: Sequence[RunData], group: Group, kpi: str) -> list[RunData]:
    return [r for r in runs if r.group is group and r.status is RunState.DONE and r.values.get(kpi)]


def compare(
    runs: Sequence[RunData], a: Group, b: Group, t: Target, covariate: bool
) -> Comparison | None:
    ra, rb = _finished(runs, a, t.kpi.name), _finished(runs, b, t.kpi.name)
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
    c: Criteria, runs: Sequence[RunData]
) -> tuple[list[Verdict], list[tuple[Target, Verdict]]]:
    tech = c.techniques
    ballast: list[tuple[Target, Verdict]] = []
    aa_kpis: list[str] = []
    aa_comps: list[Comparison] = []
    for t in targets(tech):
        comp = compare(runs, Group.A, Group.B, t, tech.covariate)
        if comp is not None:
            cpu = t.injected == "cpu"
            injected = c.ballast.cpu_percent if cpu else c.ballast.memory_mb
            limit = c.max_cpu_half_width if cpu else c.max_mem_half_width
            res = 0.0 if cpu else c.mem_resolution_mb
            ballast.append(
                (t, judge(t.kpi.name, injected, comp, limit, "pp" if cpu else "MB", res))
            )
        aa = compare(runs, Group.A, Group.A2, t, tech.covariate)
        if aa is not None and t.judged:
            aa_kpis.append(t.kpi.name)
            aa_comps.append(aa)
    return judge_aa(aa_kpis, aa_comps), ballast


def narrow_enough(c: Criteria, runs: Sequence[RunData]) -> bool:
    judged = [v for t, v in evaluate(c, runs)[1] if t.judged]
    return bool(judged) and all(v.narrow for v in judged)


def sd_between(c: Criteria, runs: Sequence[RunData]) -> dict[str, float]:
    out = {}
    for t in targets(c.techniques):
        means = [
            float(np.mean(r.values[t.kpi.name]))
            for r in runs
            if r.group.baseline and r.status is RunState.DONE and r.values.get(t.kpi.name)
        ]
        if len(means) >= 2:
            out[t.kpi.name] = float(np.std(means, ddof=1))
    return out


def result(
    c: Criteria, rate: int, budget_s: int, run_s: int, runs: list[RunData], rounds: int, why: str
) -> Result:
    aa, ballast = evaluate(c, runs)
    return Result(c, rate, budget_s, run_s, runs, aa, ballast, sd_between(c, runs), rounds, why)


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

    b = r.criteria.ballast
    return {
        "injected": {"cpu_percent": b.cpu_percent, "memory_mb": b.memory_mb},
        "rate": r.rate,
        "budget_s": r.budget_s,
        "run_s": r.run_s,
        "techniques": asdict(r.criteria.techniques),
        "rounds": r.rounds,
        "stopped": r.stopped,
        "runs": [
            {
                "run_id": x.run_id,
                "group": x.group.value,
                "status": x.status.value,
                "reason": x.reason,
            }
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


def table(r: Result) -> list[str]:
    b = r.criteria.ballast
    lines = [
        f"calibrate: {r.rate} conn/s, ballast {b.cpu_percent:g} % of one core and "
        f"{b.memory_mb:g} MB; {r.rounds} round(s) of {r.run_s} s runs ({r.stopped})",
        "A/A, baseline against baseline (the noise floor):",
        f"  {'KPI':<26}{'difference [95 % CI]':>28}{'p':>8}{'MDE':>8}{'sd/run':>8}",
    ]
    for v in r.aa:
        c = v.recovered
        sd = r.sd_between_runs.get(v.kpi)
        lines.append(
            f"  {v.kpi:<26}{f'{c.delta:+.2f} [{c.ci_low:+.2f}, {c.ci_high:+.2f}]':>28}"
            f"{c.pvalue:>8.2g}{c.mde:>8.2f}{'-' if sd is None else f'{sd:.2f}':>8}"
            + ("  SIGNIFICANT" if v.problems else "")
        )
    lines.append("Ballast against baseline:")
    lines.append(f"  {'KPI':<26}{'injected':>9}{'recovered [95 % CI]':>28}{'MDE':>8}  verdict")
    for t, v in r.ballast:
        c = v.recovered
        verdict = "ok" if v.ok else "; ".join(v.problems)
        if v.ok and v.inside is False:
            verdict = f"ok (outside the CI by less than the {v.resolution:g} resolution)"
        if not t.judged:
            verdict = "(reported)"
        lines.append(
            f"  {v.kpi:<26}{v.injected:>9g}"
            f"{f'{c.delta:+.2f} [{c.ci_low:+.2f}, {c.ci_high:+.2f}]':>28}{c.mde:>8.2f}  {verdict}"
        )
    lines.append("  (CPU in points of one core; memory in MB)")
    return lines
