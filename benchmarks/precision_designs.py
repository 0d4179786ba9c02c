"""Which estimator resolves the smallest CPU overhead on this machine: Welch on run means,
paired within blocks, each with and without the probe covariate (``harness.speed``).

    .venv/bin/python -m benchmarks.precision_designs [--rates 5000 10000] [--rounds 8] [--run-s 20]
    .venv/bin/python -m benchmarks.precision_designs --from calibrate.json [...]

Runs A/A rounds with ``tare calibrate``'s machinery (baseline against baseline, alternated
A A2 / A2 A, every run probed before its load), or reads a ``tare calibrate --json`` output.
For every CPU KPI and estimator it prints, from the same runs:

- the residual sd per run (per pair for the paired designs), and the MDE (80 % power, 5 %
  two-sided) projected to 10 minutes of load per baseline/contender pair;
- the A/A difference the estimator itself (``pipeline.stats``) finds on these runs, with its
  interval: a star here is a false one.

Needs root and the local stack (``tare stack up``) unless ``--from``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats as sps

from pipeline.stats import Comparison, ancova, paired, paired_ancova, welch

PAIR_BUDGET_S = 600
CPU_KPIS = ("cpu_cgroup", "cpu_workload_core")
ESTIMATORS = ("welch", "paired", "welch + covariate", "paired + covariate")


@dataclass(frozen=True, slots=True)
class Run:
    group: str  # "A" | "A2"
    block: int  # the round
    means: dict[str, float]
    probe: dict[str, float]


@dataclass(frozen=True, slots=True)
class Row:
    rate: int
    kpi: str
    estimator: str
    n: int
    sd: float
    mde_10min: float
    aa: Comparison | None


def _t(df: float) -> float:
    return float(sps.t.ppf(0.975, df) + sps.t.ppf(0.80, df))


def projected(estimator: str, sd: float, run_s: int) -> float:
    """The MDE of ``estimator`` for 10 minutes of load per pair, from its residual sd."""
    n = max(3, PAIR_BUDGET_S // 2 // run_s)  # runs per side
    if estimator.startswith("paired"):
        df = n - 1 - (1 if "covariate" in estimator else 0)
        return _t(df) * sd / math.sqrt(n)
    df = 2 * n - 2 - (1 if "covariate" in estimator else 0)
    return _t(df) * sd * math.sqrt(2 / n)


def _resid_sd(y: np.ndarray, design: np.ndarray) -> float:
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    r = y - design @ beta
    df = len(y) - design.shape[1]
    return float(np.sqrt(r @ r / df)) if df > 0 else math.nan


def evaluate(rate: int, runs: Sequence[Run], kpi: str, run_s: int) -> list[Row]:
    have = [r for r in runs if kpi in r.means and kpi in r.probe]
    a = [r for r in have if r.group == "A"]
    b = [r for r in have if r.group == "A2"]
    blocks = sorted({r.block for r in a} & {r.block for r in b})
    pa = [next(r for r in a if r.block == k) for k in blocks]
    pb = [next(r for r in b if r.block == k) for k in blocks]
    y = np.array([r.means[kpi] for r in have])
    x = np.array([r.probe[kpi] for r in have])
    g = np.array([1.0 if r.group == "A2" else 0.0 for r in have])
    ones = np.ones(len(y))
    d = np.array([q.means[kpi] - p.means[kpi] for p, q in zip(pa, pb, strict=True)])
    dx = np.array([q.probe[kpi] - p.probe[kpi] for p, q in zip(pa, pb, strict=True)])
    sds = {
        "welch": _resid_sd(y, np.column_stack([ones, g])),
        "welch + covariate": _resid_sd(y, np.column_stack([ones, g, x])),
        "paired": _resid_sd(d, np.ones((len(d), 1))),
        "paired + covariate": _resid_sd(d, np.column_stack([np.ones(len(d)), dx])),
    }
    ya, yb = [r.means[kpi] for r in a], [r.means[kpi] for r in b]
    xa, xb = [r.probe[kpi] for r in a], [r.probe[kpi] for r in b]
    ma, mb = [r.means[kpi] for r in pa], [r.means[kpi] for r in pb]
    na, nb = [r.probe[kpi] for r in pa], [r.probe[kpi] for r in pb]
    tests = {
        "welch": lambda: welch(ya, yb),
        "welch + covariate": lambda: ancova(ya, yb, xa, xb),
        "paired": lambda: paired(ma, mb),
        "paired + covariate": lambda: paired_ancova(ma, mb, na, nb),
    }
    out = []
    for name in ESTIMATORS:
        try:
            aa: Comparison | None = tests[name]()
        except ValueError:
            aa = None
        n = len(d) if name.startswith("paired") else len(y)
        out.append(Row(rate, kpi, name, n, sds[name], projected(name, sds[name], run_s), aa))
    return out


def from_json(data: dict[str, object]) -> list[Run]:
    runs = data.get("runs")
    assert isinstance(runs, list)
    out, seen = [], {"A": 0, "A2": 0}
    for r in runs:
        if r["status"] != "done" or r["group"] not in seen or not r.get("probe"):
            if r["group"] in seen:
                seen[r["group"]] += 1
            continue
        block = seen[r["group"]]  # the k-th run of each group ran in round k
        seen[r["group"]] += 1
        out.append(Run(r["group"], block, dict(r["means"]), dict(r["probe"])))
    return out


def measure(rate: int, rounds: int, run_s: int) -> tuple[list[Run], dict[str, object]]:
    from contracts.calibration import Techniques
    from harness.calibration import Design
    from pipeline.calibration import Criteria, to_json
    from tare.calibrate import calibrate
    from tare.stack.settings import resolve

    design = Design(
        rate=rate,
        run_s=run_s,
        budget_s=rounds * run_s,
        aa_only=True,
        max_rounds=rounds,
        techniques=Techniques(sequential=False),
    )
    result = calibrate(design, Criteria(), resolve(), sys.stderr)
    data = to_json(result)
    return from_json(data), data


def print_table(rows: Sequence[Row]) -> None:
    print(
        f"{'rate':>6}  {'KPI':<18}{'estimator':<20}{'n':>4}{'sd':>7}{'MDE 10 min':>12}"
        f"  {'A/A difference [95 % CI]':<28}"
    )
    for r in rows:
        aa = r.aa
        text = "-"
        if aa is not None and aa.inferred:
            star = " *" if aa.significant else ""
            text = f"{aa.delta:+.2f} [{aa.ci_low:+.2f}, {aa.ci_high:+.2f}]{star}"
        print(
            f"{r.rate:>6}  {r.kpi:<18}{r.estimator:<20}{r.n:>4}{r.sd:>7.2f}{r.mde_10min:>12.2f}"
            f"  {text}"
        )
    print(
        "CPU in points of one core; sd: residual, per run (per pair for the paired designs); "
        "MDE: 80 % power, 5 % two-sided, 10 min of load per pair; * a false star"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[5000, 10000])
    parser.add_argument("--rounds", type=int, default=8, help="A/A rounds (two runs each)")
    parser.add_argument("--run-s", type=int, default=20)
    parser.add_argument("--from", dest="source", type=Path, nargs="*", default=[])
    parser.add_argument("--save", type=Path, help="keep each rate's calibrate JSON here")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    sets: list[tuple[int, int, list[Run]]] = []
    for path in args.source:
        data = json.loads(path.read_text())
        sets.append((int(data["rate"]), int(data["run_s"]), from_json(data)))
    if not args.source:
        from contracts.errors import RunInvalid

        for rate in args.rates:
            try:
                runs, data = measure(rate, args.rounds, args.run_s)
            except RunInvalid as exc:  # a rate out of the lab's reach: said, and skipped
                print(f"{rate}/s: {exc}", file=sys.stderr)
                continue
            if args.save is not None:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / f"aa-{rate}.json").write_text(json.dumps(data, default=str))
            sets.append((rate, args.run_s, runs))
    for rate, run_s, runs in sets:
        for kpi in CPU_KPIS:
            rows += evaluate(rate, runs, kpi, run_s)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
