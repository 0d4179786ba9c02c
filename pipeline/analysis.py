"""Summaries per run and KPI, and overhead per contender cell against its baseline (pure:
frames and plain values in, tables out).

A contender is compared only with the baseline that differs from it in ``mode`` alone, same
campaign (so same night and host); the harness records which baseline cell serves which
contenders. Overhead is absolute (in the KPI's unit, oriented so that a positive number is a
cost) and relative to the baseline, with a 95 % confidence interval, a p-value and the minimal
detectable effect of the cell (``pipeline.stats``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from contracts.kpis import BY_NAME, Kpi
from contracts.states import Verdict
from pipeline.stats import Comparison, compare

Levels = tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    levels: Levels  # factor -> level, in factor order (mode and rate included)
    baseline_of: tuple[Levels, ...]  # for a baseline run: the contender cells it serves
    valid: bool

    @property
    def mode(self) -> str:
        return str(dict(self.levels)["mode"])


@dataclass(frozen=True, slots=True)
class Overhead:
    cell: Levels
    baseline_cell: Levels
    kpi: str
    unit: str
    baseline_mean: float
    contender_mean: float
    absolute: Comparison | None  # None for relative-only KPIs
    relative_pct: float | None
    relative_ci: tuple[float, float] | None
    pvalue: float
    significant: bool
    mde: float  # in the unit of ``absolute`` (or % for relative-only KPIs)
    method: str

    @property
    def verdict(self) -> Verdict:
        """Cost or gain when significant (a positive overhead is a cost), else no change."""
        delta = self.absolute.delta if self.absolute is not None else self.relative_pct
        if delta is None or math.isnan(self.pvalue):
            return Verdict.NO_INFERENCE
        if not self.significant:
            return Verdict.NO_CHANGE
        return Verdict.COST if delta > 0 else Verdict.GAIN


@dataclass(frozen=True, slots=True)
class Refusal:
    cell: Levels
    reason: str


def summaries(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run and KPI: mean, median, p5, p95, stdev, n (seconds with a value), missing."""
    grouped = frame.groupby(["run_id", "kpi"])["value"]
    out = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "median": grouped.median(),
            "p5": grouped.quantile(0.05),
            "p95": grouped.quantile(0.95),
            "stdev": grouped.std(ddof=1),
            "n": grouped.count(),
            "missing": grouped.apply(lambda s: int(s.isna().sum())),
        }
    )
    return out.reset_index()


def by_configuration(frame: pd.DataFrame, runs: Sequence[RunInfo]) -> pd.DataFrame:
    """Per configuration (cell) and KPI, over its valid repeats: the mean of the run means, the
    standard deviation between runs, and how many runs."""
    cell_of = {r.run_id: " ".join(f"{k}={v}" for k, v in r.levels) for r in runs if r.valid}
    sub = frame[frame["run_id"].isin(list(cell_of))]
    if sub.empty:
        return pd.DataFrame(columns=["cell", "kpi", "mean", "between_run_stdev", "runs"])
    run_means = sub.groupby(["run_id", "kpi"])["value"].mean().reset_index()
    run_means["cell"] = run_means["run_id"].map(cell_of)
    grouped = run_means.groupby(["cell", "kpi"])["value"]
    out = pd.DataFrame(
        {"mean": grouped.mean(), "between_run_stdev": grouped.std(ddof=1), "runs": grouped.count()}
    )
    return out.reset_index()


def _per_run(frame: pd.DataFrame, kpi: str, run_ids: Sequence[str]) -> list[list[float]]:
    sub = frame[(frame["kpi"] == kpi) & frame["run_id"].isin(run_ids)].dropna(subset=["value"])
    return [list(sub[sub["run_id"] == r]["value"]) for r in run_ids]


def pair_cells(runs: Sequence[RunInfo]) -> tuple[dict[Levels, Levels], list[Refusal]]:
    """contender cell -> baseline cell, from what the harness recorded; refusals name why."""
    contenders = {r.levels for r in runs if r.mode != "baseline"}
    baselines = {r.levels for r in runs if r.mode == "baseline"}
    served: dict[Levels, Levels] = {}
    for r in runs:
        if r.mode == "baseline":
            for cell in r.baseline_of:
                served[cell] = r.levels
    pairs: dict[Levels, Levels] = {}
    refusals: list[Refusal] = []
    for cell in sorted(contenders, key=str):
        base = served.get(cell)
        if base is not None:
            pairs[cell] = base
            continue
        want = {k: v for k, v in cell if k != "mode"}
        if not baselines:
            refusals.append(Refusal(cell, "no baseline run in this campaign"))
            continue
        best = min(baselines, key=lambda b: sum(dict(b)[k] != v for k, v in want.items()))
        differ = [f"{k} ({dict(best)[k]} vs {v})" for k, v in want.items() if dict(best)[k] != v]
        refusals.append(
            Refusal(
                cell, "no baseline differing in mode only; nearest differs in " + ", ".join(differ)
            )
        )
    return pairs, refusals


def overheads(
    frame: pd.DataFrame, runs: Sequence[RunInfo], kpis: Sequence[Kpi] | None = None
) -> tuple[list[Overhead], list[Refusal]]:
    valid = [r for r in runs if r.valid]
    pairs, refusals = pair_cells(valid)
    by_cell: dict[Levels, list[str]] = {}
    for r in valid:
        by_cell.setdefault(r.levels, []).append(r.run_id)
    kpis = list(kpis) if kpis is not None else [BY_NAME[k] for k in frame["kpi"].unique()]
    out: list[Overhead] = []
    for cell, base_cell in pairs.items():
        for kpi in kpis:
            a = _per_run(frame, kpi.name, by_cell[base_cell])
            b = _per_run(frame, kpi.name, by_cell[cell])
            if not any(a) or not any(b):
                refusals.append(Refusal(cell, f"{kpi.name}: no values on one side"))
                continue
            out.append(_overhead(cell, base_cell, kpi, a, b))
    return out, refusals


def _mean(runs: Sequence[Sequence[float]]) -> float:
    values = [sum(r) / len(r) for r in runs if r]
    return sum(values) / len(values)


def _overhead(
    cell: Levels, base_cell: Levels, kpi: Kpi, a: list[list[float]], b: list[list[float]]
) -> Overhead:
    comp = compare(a, b)
    if kpi.lower_is_cost:
        comp = comp.flipped()
    base_mean, cont_mean = _mean(a), _mean(b)
    rel = rel_ci = None
    if base_mean:
        rel = comp.delta / abs(base_mean) * 100
        rel_ci = (comp.ci_low / abs(base_mean) * 100, comp.ci_high / abs(base_mean) * 100)
    mde = comp.mde
    if kpi.relative_only:
        mde = comp.mde / abs(base_mean) * 100 if base_mean else float("nan")
    return Overhead(
        cell,
        base_cell,
        kpi.name,
        kpi.unit,
        base_mean,
        cont_mean,
        None if kpi.relative_only else comp,
        rel,
        rel_ci,
        comp.pvalue,
        comp.significant,
        mde,
        comp.method,
    )


def as_rows(items: Sequence[Overhead]) -> list[dict[str, Any]]:
    rows = []
    for o in items:
        row: dict[str, Any] = {
            **dict(o.cell),
            "kpi": o.kpi,
            "unit": o.unit,
            "baseline_mean": o.baseline_mean,
            "contender_mean": o.contender_mean,
            "relative_pct": o.relative_pct,
            "relative_ci_low": o.relative_ci[0] if o.relative_ci else None,
            "relative_ci_high": o.relative_ci[1] if o.relative_ci else None,
            "pvalue": o.pvalue,
            "significant": o.significant,
            "verdict": o.verdict.value,
            "mde": o.mde,
            "method": o.method,
        }
        if o.absolute is not None:
            row.update(
                {
                    "absolute": o.absolute.delta,
                    "ci_low": o.absolute.ci_low,
                    "ci_high": o.absolute.ci_high,
                    "n_baseline": o.absolute.n_baseline,
                    "n_contender": o.absolute.n_contender,
                }
            )
        rows.append(row)
    return rows
