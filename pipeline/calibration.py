"""The calibration's evaluation (pure apart from ``fetch_values``): which KPIs the ballast maps
to, the A/A and ballast comparisons, the between-run spread, and the verdicts."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from contracts.calibration import Ballast, Group, Techniques
from contracts.kpis import BY_NAME, CPU_UNIT, Kpi
from contracts.noise import Noise
from contracts.paths import CalibrationStat
from contracts.states import RunState
from pipeline.fetch import RunRef, fetch_run
from pipeline.graphite import GraphiteClient
from pipeline.precision import CPU_MARGIN, MEMORY_MARGIN, Margin, Recovery, judge
from pipeline.precision import narrow_enough as precise
from pipeline.stats import Comparison, Slope, compare, compare_adjusted, pooled_slope

TICK_FIELDS = ("user_pct", "system_pct", "softirq_pct", "irq_pct", "steal_pct")
TICKS = Kpi("cpu_workload_core_ticks", "cpu_{core}.ticks", CPU_UNIT)


@dataclass(frozen=True, slots=True)
class Criteria:
    ballast: Ballast = field(default_factory=Ballast)
    techniques: Techniques = field(default_factory=Techniques)
    cpu_margin: Margin = CPU_MARGIN
    memory_margin: Margin = MEMORY_MARGIN
    min_runs: int = 2  # finished runs per group for a judged KPI's verdict


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
    probe: dict[str, float] = field(default_factory=dict)  # KPI -> value before the agent


@dataclass
class Result:
    criteria: Criteria
    rate: int
    budget_s: int
    run_s: int
    runs: list[RunData]
    aa: list[Recovery]
    ballast: list[tuple[Target, Recovery]]
    sd_between_runs: dict[str, float]
    rounds: int
    stopped: str

    @property
    def problems(self) -> list[str]:
        out = [f"{v.kpi}: {p}" for _t, v in self.ballast if _t.judged for p in v.problems]
        out += [f"{v.kpi}: {p}" for v in self.aa for p in v.problems]
        return out


def fetch_values(
    client: GraphiteClient, ref: RunRef, extra: Sequence[Kpi] = ()
) -> dict[str, list[float]]:
    """Per-second values of the calibration's KPIs (and ``extra`` ones) over a run's window."""
    kpis = [BY_NAME[k] for k in ("cpu_cgroup", "cpu_workload_core", "cpu_all")]
    kpis += [BY_NAME["mem_cgroup"], BY_NAME["mem_available"]]
    ticks = [Kpi(f"tick_{f}", f"cpu_{{core}}.{f}", "pp") for f in TICK_FIELDS]
    frame = fetch_run(client, ref, [*kpis, *ticks, *extra], required=False)
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


def _slope(runs: Sequence[RunData], kpi: str) -> Slope | None:
    """The KPI's slope on the probe, pooled within the three groups (finished, probed runs)."""
    cells = []
    for g in Group:
        got = [r for r in _finished(runs, g, kpi) if kpi in r.probe]
        cells.append(([float(np.mean(r.values[kpi])) for r in got], [r.probe[kpi] for r in got]))
    return pooled_slope(cells)


def compare_groups(
    runs: Sequence[RunData], a: Group, b: Group, t: Target, covariate: bool = False
) -> Comparison | None:
    """The estimator ``tare analyze`` uses (``pipeline.stats.compare``: Welch on run means,
    no inference below two runs a side; with ``covariate``, each run adjusted by its probe,
    one slope pooled over the three groups, where every run has one for this KPI), oriented so
    that a cost is positive."""
    name = t.kpi.name
    ra, rb = _finished(runs, a, name), _finished(runs, b, name)
    if not ra or not rb:
        return None
    ya, yb = [r.values[name] for r in ra], [r.values[name] for r in rb]
    slope = _slope(runs, name) if covariate else None
    if slope is not None and all(name in r.probe for r in (*ra, *rb)):
        xa, xb = [r.probe[name] for r in ra], [r.probe[name] for r in rb]
        comp = compare_adjusted(ya, yb, xa, xb, slope)
    else:
        comp = compare(ya, yb)
    return comp.flipped() if t.kpi.lower_is_cost else comp


def _missing(c: Criteria, runs: Sequence[RunData], groups: Sequence[Group], kpi: str) -> str | None:
    for g in groups:
        n = len(_finished(runs, g, kpi))
        if n < c.min_runs:
            failed = sum(1 for r in runs if r.group is g and r.status is not RunState.DONE)
            series = "" if n or failed else f", no {kpi} series"
            return (
                f"{n} finished run(s) with {kpi} in group {g.value} "
                f"({failed} failed{series}); {c.min_runs} needed"
            )
    return None


def evaluate(
    c: Criteria, runs: Sequence[RunData]
) -> tuple[list[Recovery], list[tuple[Target, Recovery]]]:
    """Every judged KPI gets a verdict, from at least ``min_runs`` finished runs per group, or
    a problem saying why not; reported KPIs get a verdict when they can."""
    ballast: list[tuple[Target, Recovery]] = []
    aa: list[Recovery] = []
    for t in targets(c.techniques):
        cpu = t.injected == "cpu"
        injected = c.ballast.cpu_percent if cpu else c.ballast.memory_mb
        margin = c.cpu_margin if cpu else c.memory_margin
        unit = "pp" if cpu else "MB"
        missing = _missing(c, runs, (Group.A, Group.B), t.kpi.name)
        comp = (
            None if missing else compare_groups(runs, Group.A, Group.B, t, c.techniques.covariate)
        )
        verdict = judge(t.kpi.name, injected, comp, margin.of(injected), unit, missing)
        if t.judged or comp is not None:
            ballast.append((t, verdict))
        if t.judged:
            missing = _missing(c, runs, (Group.A, Group.A2), t.kpi.name)
            comp = (
                None
                if missing
                else compare_groups(runs, Group.A, Group.A2, t, c.techniques.covariate)
            )
            aa.append(judge(t.kpi.name, 0.0, comp, margin.of(injected), unit, missing))
    return aa, ballast


def narrow_enough(c: Criteria, runs: Sequence[RunData]) -> bool:
    aa, ballast = evaluate(c, runs)
    judged = [v for t, v in ballast if t.judged] + aa
    return bool(judged) and all(precise(v) for v in judged)


def sd_between(c: Criteria, runs: Sequence[RunData]) -> dict[str, float]:
    """Per KPI fetched, the sd of the baseline runs' means (A and A2 together), in the unit of
    its overhead (for a relative-only KPI, % of the mean)."""
    names = {k for r in runs for k in r.values if k in BY_NAME or k == TICKS.name}
    out = {}
    for name in sorted(names):
        means = [
            float(np.mean(r.values[name]))
            for r in runs
            if r.group.baseline and r.status is RunState.DONE and r.values.get(name)
        ]
        if len(means) < 2:
            continue
        sd = float(np.std(means, ddof=1))
        kpi = BY_NAME.get(name)
        if kpi is not None and kpi.relative_only:
            mean = float(np.mean(means))
            if not mean:
                continue
            sd = sd / abs(mean) * 100
        out[name] = sd
    return out


def result(
    c: Criteria, rate: int, budget_s: int, run_s: int, runs: list[RunData], rounds: int, why: str
) -> Result:
    aa, ballast = evaluate(c, runs)
    return Result(c, rate, budget_s, run_s, runs, aa, ballast, sd_between(c, runs), rounds, why)


def noise_of(r: Result, run_s: int, steady_s: int) -> Noise | None:
    """What the calibration measured between runs, to keep (None: fewer than two finished
    baseline runs, no sd)."""
    if not r.sd_between_runs:
        return None
    runs = sum(1 for x in r.runs if x.group.baseline and x.status is RunState.DONE)
    return Noise(r.rate, run_s, steady_s, dict(r.sd_between_runs), runs, int(time.time()))


def to_json(r: Result) -> dict[str, Any]:
    def comp(c: Comparison | None) -> dict[str, Any] | None:
        if c is None:
            return None
        return {
            "delta": c.delta,
            "ci_low": c.ci_low,
            "ci_high": c.ci_high,
            "pvalue": c.pvalue,
            "mde": c.mde,
            "method": c.method,
            "narrowed": c.narrowed if math.isfinite(c.narrowed) else None,
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
                "means": {k: float(np.mean(v)) for k, v in sorted(x.values.items()) if v},
                "probe": x.probe,
            }
            for x in r.runs
        ],
        "aa": [
            {
                "kpi": v.kpi,
                "recovered": comp(v.recovered),
                "margin": v.margin,
                "significant": bool(v.recovered and v.recovered.significant),
                "noise_floor_mde": v.recovered.mde if v.recovered else None,
                "sd_between_runs": r.sd_between_runs.get(v.kpi),
                "problems": list(v.problems),
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
                "margin": v.margin,
                "half_width": v.half_width,
                "judged": t.judged,
                "problems": list(v.problems),
            }
            for t, v in r.ballast
        ],
        "ok": not r.problems,
        "problems": r.problems,
    }


def _ci(c: Comparison | None) -> str:
    if c is None:
        return "not measured"
    if not c.inferred:
        return f"{c.delta:+.2f} (no inference)"
    return f"{c.delta:+.2f} [{c.ci_low:+.2f}, {c.ci_high:+.2f}]"


def table(r: Result) -> list[str]:
    b = r.criteria.ballast
    lines = [
        f"calibrate: {r.rate} conn/s, ballast {b.cpu_percent:g} % of one core and "
        f"{b.memory_mb:g} MB; {r.rounds} round(s) of {r.run_s} s runs ({r.stopped}); "
        + (
            "estimator: tare analyze's (Welch on run means, CPU adjusted by each run's probe)"
            if r.criteria.techniques.covariate
            else "estimator: tare analyze's (Welch on run means)"
        ),
        "A/A, baseline against baseline (the noise floor):",
        f"  {'KPI':<26}{'difference [95 % CI]':>28}{'margin':>8}{'MDE':>8}{'sd/run':>8}  verdict",
    ]
    for v in r.aa:
        c = v.recovered
        sd = r.sd_between_runs.get(v.kpi)
        mde = f"{c.mde:.2f}" if c is not None and c.inferred else "-"
        lines.append(
            f"  {v.kpi:<26}{_ci(c):>28}{v.margin:>8.2f}{mde:>8}"
            f"{'-' if sd is None else f'{sd:.2f}':>8}  {'ok' if v.ok else '; '.join(v.problems)}"
        )
    lines.append("Ballast against baseline:")
    lines.append(
        f"  {'KPI':<26}{'injected':>9}{'recovered [95 % CI]':>28}{'margin':>8}{'MDE':>8}  verdict"
    )
    for t, v in r.ballast:
        c = v.recovered
        verdict = "ok" if v.ok else "; ".join(v.problems)
        if not t.judged:
            verdict = "(reported)"
        mde = f"{c.mde:.2f}" if c is not None and c.inferred else "-"
        lines.append(
            f"  {v.kpi:<26}{v.injected:>9g}{_ci(c):>28}{v.margin:>8.2f}{mde:>8}  {verdict}"
        )
    lines.append(
        "  (CPU in points of one core; memory in MB; ok: the whole CI within injected +- margin)"
    )
    return lines


def figures(r: Result) -> list[tuple[str, CalibrationStat, float]]:
    """What the lab-health dashboard draws of one calibration: per judged KPI the A/A MDE, the
    baselines' between-run sd and the ballast's error (recovered minus injected)."""
    out: list[tuple[str, CalibrationStat, float]] = []
    for a in r.aa:
        if a.recovered is not None and math.isfinite(a.recovered.mde):
            out.append((a.kpi, CalibrationStat.AA_MDE, float(a.recovered.mde)))
    out += [(k, CalibrationStat.SD_BETWEEN, float(v)) for k, v in r.sd_between_runs.items()]
    for t, rec in r.ballast:
        if t.judged and rec.recovered is not None:
            out.append(
                (t.kpi.name, CalibrationStat.BALLAST_ERROR, rec.recovered.delta - rec.injected)
            )
    return [(k, s, v) for k, s, v in out if math.isfinite(v)]
