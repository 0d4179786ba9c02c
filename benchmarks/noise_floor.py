"""The lab's noise floor, with each noise-reduction technique off and on.

    .venv/bin/python -m benchmarks.noise_floor [--rates 5000 10000] [--runs 8] [--run-s 30]

For each rate: A/A runs (baseline against baseline, interleaved) with every technique on; then
the lab techniques off one at a time (pinning, RPS steering), each a fresh set of runs; then one
long run per side instead of many short ones. The analysis techniques (exact CPU accounting,
steady-window trimming) are switched off, and a load-core covariate is tried, on the same runs.
For each CPU KPI it prints the standard deviation between runs and the minimal detectable overhead
(80 % power, 5 % two-sided) for a budget of 10 minutes of load per baseline/contender pair,
projected from that standard deviation: with runs of R seconds, 300/R runs a side.
Needs root and the local stack (``tare stack up``); about 4 minutes per set of 8 runs of 30 s.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as sps

from contracts.calibration import Techniques
from contracts.kpis import Kpi
from contracts.states import RunState
from harness.calibration import Design
from pipeline.calibration import Criteria, RunData, fetch_values
from pipeline.graphite import GraphiteClient
from tare.calibrate import calibrate, cores
from tare.stack.settings import resolve

PAIR_BUDGET_S = 600
LOAD_CORE = "load_core_busy"


def adjusted(
    a: Sequence[float], xa: Sequence[float], b: Sequence[float], xb: Sequence[float]
) -> tuple[list[float], list[float], float]:
    """(a', b', theta): run values with a covariate's effect removed (pooled within-group slope;
    CUPED/ANCOVA). A study of what a covariate could buy: tare's estimator does not use it (the
    load core's busy time is measured during the run, so an agent can move it)."""
    ya, yb = np.asarray(a, float), np.asarray(b, float)
    ca, cb = np.asarray(xa, float), np.asarray(xb, float)
    dxa, dxb = ca - ca.mean(), cb - cb.mean()
    sxx = float(np.sum(dxa**2) + np.sum(dxb**2))
    if sxx <= 0 or len(ya) + len(yb) < 4:
        return list(map(float, ya)), list(map(float, yb)), 0.0
    theta = float(np.sum(dxa * (ya - ya.mean())) + np.sum(dxb * (yb - yb.mean()))) / sxx
    grand = float(np.concatenate((ca, cb)).mean())
    return (
        [float(v) for v in ya - theta * (ca - grand)],
        [float(v) for v in yb - theta * (cb - grand)],
        theta,
    )


CPU_KPIS = ("cpu_cgroup", "cpu_workload_core", "cpu_workload_core_ticks")


@dataclass(frozen=True, slots=True)
class Row:
    technique: str
    rate: int
    kpi: str
    runs: int
    sd: float
    mde_10min: float


def mde(sd: float, run_s: int) -> float:
    n = max(2, PAIR_BUDGET_S // 2 // run_s)  # runs per side
    df = 2 * n - 2
    t = float(sps.t.ppf(0.975, df) + sps.t.ppf(0.80, df))
    return t * sd * math.sqrt(2 / n)


def run_means(runs: Sequence[RunData], kpi: str) -> tuple[list[float], list[float]]:
    ys, xs = [], []
    for r in runs:
        if r.status is RunState.DONE and r.values.get(kpi) and r.values.get(LOAD_CORE):
            ys.append(float(np.mean(r.values[kpi])))
            xs.append(float(np.mean(r.values[LOAD_CORE])))
    return ys, xs


def spread(runs: Sequence[RunData], kpi: str, covariate: bool) -> tuple[int, float]:
    """SD between runs (A and A2 are one population); with the covariate, of the adjusted
    values (one degree of freedom fewer)."""
    ys, xs = run_means(runs, kpi)
    if len(ys) < 3:
        return len(ys), math.nan
    if not covariate:
        return len(ys), float(np.std(ys, ddof=1))
    half = len(ys) // 2
    a, b, _ = adjusted(ys[:half], xs[:half], ys[half:], xs[half:])
    resid = np.array(a + b)
    return len(ys), float(np.sqrt(np.sum((resid - resid.mean()) ** 2) / (len(ys) - 2)))


def untrimmed(client: GraphiteClient, runs: Sequence[RunData], opts: Design) -> list[RunData]:
    """The same runs over their whole load window (warm-up and cool-down included)."""
    out = []
    for r in runs:
        if r.ref is None:
            out.append(r)
            continue
        ref = replace(r.ref, start=r.ref.start - opts.warmup_s, end=r.ref.end + opts.cooldown_s)
        out.append(replace(r, values=fetch_values(client, ref)))
    return out


def with_load_core(client: GraphiteClient, runs: Sequence[RunData]) -> list[RunData]:
    """The same runs with the load core's busy time, for the covariate study."""
    load = Kpi(LOAD_CORE, f"cpu_{cores()[1]}.busy_pct", "pp")
    return [
        r if r.ref is None else replace(r, values=fetch_values(client, r.ref, [load])) for r in runs
    ]


def measure(rate: int, runs: int, run_s: int, out: list[Row]) -> None:
    stack = resolve()
    client = GraphiteClient(stack.render_url, timeout_s=30)
    base = Design(
        rate=rate,
        run_s=run_s,
        budget_s=runs * run_s,
        aa_only=True,
        max_rounds=runs // 2,
        techniques=Techniques(sequential=False),
    )

    def record(
        technique: str, data: Sequence[RunData], covariate: bool, kpis: Sequence[str], rs: int
    ) -> None:
        for kpi in kpis:
            n, sd = spread(data, kpi, covariate)
            out.append(Row(technique, rate, kpi, n, sd, mde(sd, rs)))
            print(f"  {technique:<28} {rate:>6} {kpi:<26} n={n:<3} sd={sd:6.2f}", file=sys.stderr)

    print(f"noise floor at {rate}/s: all techniques on", file=sys.stderr)
    criteria = Criteria()
    ref = calibrate(base, criteria, stack, sys.stderr).runs
    record("all on", ref, False, CPU_KPIS[:2], run_s)
    record("exact CPU accounting off", ref, False, CPU_KPIS[2:], run_s)
    record("+ load-core covariate (study)", with_load_core(client, ref), True, CPU_KPIS[:2], run_s)
    record("trimming off", untrimmed(client, ref, base), False, CPU_KPIS[:2], run_s)
    for name, tech in (
        ("pinning off", Techniques(sequential=False, pinning=False)),
        ("RPS steering off", Techniques(sequential=False, rps=False)),
    ):
        print(f"noise floor at {rate}/s: {name}", file=sys.stderr)
        data = calibrate(
            replace(base, techniques=tech), Criteria(techniques=tech), stack, sys.stderr
        ).runs
        record(name, data, False, CPU_KPIS[:2], run_s)
    long_s = run_s * 4
    print(f"noise floor at {rate}/s: long runs ({long_s} s)", file=sys.stderr)
    long_opts = replace(
        base, run_s=long_s, budget_s=runs // 2 * long_s, max_rounds=max(2, runs // 4)
    )
    data = calibrate(long_opts, criteria, stack, sys.stderr).runs
    record(f"short runs off ({long_s} s runs)", data, False, CPU_KPIS[:2], long_s)


def print_table(rows: Sequence[Row]) -> None:
    print(f"{'technique':<30}{'rate':>7}  {'KPI':<26}{'runs':>5}{'sd/run':>8}{'MDE 10 min':>12}")
    for r in rows:
        print(
            f"{r.technique:<30}{r.rate:>7}  {r.kpi:<26}{r.runs:>5}{r.sd:>8.2f}{r.mde_10min:>12.2f}"
        )
    print("CPU in points of one core; MDE: 80 % power, 5 % two-sided, 10 min of load per pair")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[5000, 10000])
    parser.add_argument("--runs", type=int, default=8, help="runs per set (even)")
    parser.add_argument("--run-s", type=int, default=30)
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for rate in args.rates:
        measure(rate, args.runs, args.run_s, rows)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
