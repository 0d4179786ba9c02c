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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from contracts.kpis import BY_NAME, CPU_UNIT, KPIS, MEMORY_UNIT, PER_PACKET_UNIT, Kpi
from contracts.load import Profile
from contracts.manifest import BASELINE
from contracts.states import Verdict
from pipeline.stats import (
    ALPHA,
    Comparison,
    Slope,
    benjamini_hochberg,
    compare,
    compare_adjusted,
    compare_paired,
    pooled_slope,
)

Levels = tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    levels: Levels  # factor -> level, in factor order (mode and rate included)
    baseline_of: tuple[Levels, ...]  # for a baseline run: the contender cells it serves
    valid: bool
    block: int = 0  # the repeat (block) it ran in: a paired comparison matches runs by it
    probe: tuple[tuple[str, float], ...] = ()  # KPI -> its value before the agent (covariate)

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
    pvalue: float  # NaN: no inference
    significant: bool  # q < 0.05 after Benjamini-Hochberg over the campaign's judged tests
    mde: float  # in the unit of ``absolute`` (or % for relative-only KPIs); NaN: no inference
    method: str
    judged: bool = True  # False: a context KPI (shown, never starred, never alerted)
    qvalue: float = float("nan")  # the BH-adjusted p-value
    # False: the contender failed more of its requests than load.max_error_pct, so its work
    # (CPU, memory) is not the baseline's: a refused connection costs less than a served one
    like_for_like: bool = True

    @property
    def inferred(self) -> bool:
        """An interval between runs exists for this overhead."""
        return math.isfinite(self.pvalue)

    @property
    def verdict(self) -> Verdict:
        """Cost or gain when significant (a positive overhead is a cost), else no change."""
        delta = self.absolute.delta if self.absolute is not None else self.relative_pct
        if delta is None or math.isnan(self.pvalue) or not self.judged:
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


def derive(frame: pd.DataFrame, kpis: Sequence[Kpi] = KPIS) -> pd.DataFrame:
    """The frame with every derived KPI added, second by second: numerator / denominator x
    scale where both have a value and the denominator is positive (NaN elsewhere)."""
    if frame.empty:
        return frame
    wide = frame.pivot_table(index=["run_id", "time"], columns="kpi", values="value", dropna=False)
    parts = [frame]
    for kpi in kpis:
        if kpi.ratio_of is None or not set(kpi.ratio_of) <= set(wide.columns):
            continue
        num, den = wide[kpi.ratio_of[0]], wide[kpi.ratio_of[1]]
        ratio = (num / den.where(den > 0)) * kpi.scale
        got = ratio.rename("value").reset_index()
        got["kpi"] = kpi.name
        parts.append(got[["run_id", "kpi", "time", "value"]])
    return pd.concat(parts, ignore_index=True)


def measures(kpi: Kpi, levels: Levels) -> bool:
    """Whether ``kpi`` is measured in a run of this cell (its load profile; the agent's own
    series only where the agent runs)."""
    cell = dict(levels)
    if not kpi.applies(Profile.of(cell)):
        return False
    return not (kpi.agent_only and cell.get("mode") == BASELINE)


def _per_run(frame: pd.DataFrame, kpi: str, run_ids: Sequence[str]) -> list[list[float]]:
    sub = frame[(frame["kpi"] == kpi) & frame["run_id"].isin(run_ids)].dropna(subset=["value"])
    return [list(sub[sub["run_id"] == r]["value"]) for r in run_ids]


def pair_cells(runs: Sequence[RunInfo]) -> tuple[dict[Levels, Levels], list[Refusal]]:
    """contender cell -> baseline cell, from what the harness recorded; refusals name why."""
    contenders = {r.levels for r in runs if r.mode != BASELINE}
    baselines = {r.levels for r in runs if r.mode == BASELINE}
    served: dict[Levels, Levels] = {}
    for r in runs:
        if r.mode == BASELINE:
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


def _matched(
    base: Sequence[RunInfo], cont: Sequence[RunInfo]
) -> tuple[list[RunInfo], list[RunInfo]] | None:
    """The runs of both sides in block order, matched (one of each per block), or None when
    some block lacks one of them."""
    a = {r.block: r for r in base}
    b = {r.block: r for r in cont}
    blocks = sorted(set(a) & set(b))
    if len(blocks) != len(a) or len(blocks) != len(b) or len(base) != len(a):
        return None
    return [a[k] for k in blocks], [b[k] for k in blocks]


def _probes(runs: Sequence[RunInfo], kpi: str) -> list[float] | None:
    """Every run's covariate for ``kpi``, or None when one of them has none."""
    got = [dict(r.probe).get(kpi) for r in runs]
    return None if any(x is None for x in got) else [float(x) for x in got if x is not None]


def _slope(frame: pd.DataFrame, kpi: Kpi, cells: Sequence[Sequence[RunInfo]]) -> Slope | None:
    """The KPI's slope on the probe, pooled within ``cells`` (runs with a value and a probe)."""
    pairs = []
    for runs in cells:
        means, probes = [], []
        for r, values in zip(
            runs, _per_run(frame, kpi.name, [r.run_id for r in runs]), strict=True
        ):
            x = dict(r.probe).get(kpi.name)
            if values and x is not None:
                means.append(sum(values) / len(values))
                probes.append(float(x))
        pairs.append((means, probes))
    return pooled_slope(pairs)


def _compare(
    frame: pd.DataFrame,
    kpi: Kpi,
    base: Sequence[RunInfo],
    cont: Sequence[RunInfo],
    paired: bool,
    slope: Slope | None,
) -> tuple[list[list[float]], list[list[float]], Comparison] | None:
    """The runs of both sides and their comparison: matched by block with ``paired`` (where
    every block has both), each run adjusted by its probe with a ``slope`` (where every run
    has a probe for this KPI); None when a side has no values."""
    matched = _matched(base, cont) if paired else None
    if matched is not None:
        base, cont = matched
    if kpi.agent_only:  # the agent absent from a baseline costs nothing: zero a run
        a = [[0.0] for _ in base]
    else:
        a = _per_run(frame, kpi.name, [r.run_id for r in base])
    b = _per_run(frame, kpi.name, [r.run_id for r in cont])
    if not any(a) or not any(b):
        return None
    whole = all(a) and all(b)
    if matched is not None and not whole:  # some run lacks the KPI: no pairs to match
        matched = None
        a, b = [r for r in a if r], [r for r in b if r]
    xa, xb = _probes(base, kpi.name), _probes(cont, kpi.name)
    if slope is not None and whole and xa is not None and xb is not None:
        return a, b, compare_adjusted(a, b, xa, xb, slope, matched is not None)
    if matched is not None:
        return a, b, compare_paired(a, b)
    return a, b, compare(a, b)


def overheads(
    frame: pd.DataFrame,
    runs: Sequence[RunInfo],
    kpis: Sequence[Kpi] | None = None,
    paired: bool = False,
    covariate: bool = False,
) -> tuple[list[Overhead], list[Refusal]]:
    """Every contender cell against its baseline, per KPI; with ``paired``, each contender run
    against the baseline run of its own block where every block has both; with
    ``covariate``, every run adjusted by what the KPI read in its probe before the agent, with
    one slope per baseline and the contenders it serves (``pipeline.stats.compare_adjusted``).
    Significance is Benjamini-Hochberg adjusted over every judged test that has an interval."""
    valid = [r for r in runs if r.valid]
    pairs, refusals = pair_cells(valid)
    by_cell: dict[Levels, list[RunInfo]] = {}
    for r in valid:
        by_cell.setdefault(r.levels, []).append(r)
    kpis = list(kpis) if kpis is not None else [BY_NAME[k] for k in frame["kpi"].unique()]
    served: dict[Levels, list[Levels]] = {}
    for cell, base_cell in pairs.items():
        served.setdefault(base_cell, [base_cell]).append(cell)
    slopes: dict[tuple[Levels, str], Slope | None] = {}

    def slope(base_cell: Levels, kpi: Kpi) -> Slope | None:
        if not covariate or kpi.agent_only:
            return None
        key = (base_cell, kpi.name)
        if key not in slopes:
            slopes[key] = _slope(frame, kpi, [by_cell[c] for c in served[base_cell]])
        return slopes[key]

    out: list[Overhead] = []
    for cell, base_cell in pairs.items():
        base, cont = by_cell[base_cell], by_cell[cell]
        for kpi in kpis:
            if not measures(kpi, cell):
                continue
            got = _compare(frame, kpi, base, cont, paired, slope(base_cell, kpi))
            if got is None:
                refusals.append(Refusal(cell, f"{kpi.name}: no values on one side"))
                continue
            out.append(_overhead(cell, base_cell, kpi, *got))
    return adjust(out), refusals


def covariate_effect(items: Sequence[Overhead]) -> list[str]:
    """Per KPI the probe adjusted, what it did to the intervals (one line each): the median
    and range of the unadjusted over the adjusted half-width, and the tests whose probe
    differed between the sides."""
    out = []
    for kpi in dict.fromkeys(o.kpi for o in items):
        comps = [o.absolute for o in items if o.kpi == kpi and o.absolute is not None]
        ratios = [c.narrowed for c in comps if math.isfinite(c.narrowed)]
        if not ratios:
            continue
        ratios.sort()
        mid = ratios[len(ratios) // 2]
        span = f"{ratios[0]:.2f}x" if len(ratios) == 1 else f"{ratios[0]:.2f}x to {ratios[-1]:.2f}x"
        line = f"{kpi}: the probe narrowed its intervals {span} (median {mid:.2f}x)"
        off = sum(1 for c in comps if c.imbalanced)
        if off:
            line += f"; in {off} test(s) the probe differed between the sides (p < 0.05)"
        out.append(line)
    return out


def cell_label(cell: Levels) -> str:
    """A cell as a person reads it: the mode's name, then every other factor as key=value."""
    return " ".join(str(v) if k == "mode" else f"{k}={v}" for k, v in cell)


FULL_PCT = 90.0  # a conntrack table this full is named in words


FULL_AT_PCT = 99.0  # a second the table was this full: full (it holds a few free slots)


def full_seconds(data: pd.DataFrame, runs: Sequence[RunInfo]) -> dict[Levels, float]:
    """Per contender cell, the seconds of its runs' steady windows the conntrack table was
    full, on average over its valid runs (cells never full are left out)."""
    fill = data[data["kpi"] == "conntrack_fill_pct"]
    per_run = fill[fill["value"] >= FULL_AT_PCT].groupby("run_id").size()
    out: dict[Levels, list[float]] = {}
    for r in runs:
        if r.valid and r.mode != BASELINE and r.run_id in set(fill["run_id"]):
            out.setdefault(r.levels, []).append(float(per_run.get(r.run_id, 0)))
    return {cell: sum(v) / len(v) for cell, v in out.items() if any(v)}


def conntrack_words(
    items: Sequence[Overhead], full_s: Mapping[Levels, float] | None = None
) -> list[str]:
    """Per contender cell whose runs filled the conntrack table or lost new connections to it,
    one line in words: for how long it was full (``full_seconds``), how full on average, and
    the packets of new connections it dropped a second."""
    out = []
    by_cell: dict[Levels, dict[str, Overhead]] = {}
    for o in items:
        by_cell.setdefault(o.cell, {})[o.kpi] = o
    for cell, by in by_cell.items():
        fill, drops = by.get("conntrack_fill_pct"), by.get("conntrack_drops_per_s")
        seconds = (full_s or {}).get(cell, 0.0)
        full = fill is not None and fill.contender_mean >= FULL_PCT
        lost = drops is not None and drops.contender_mean > 0
        if not (full or lost or seconds):
            continue
        name = cell_label(cell)
        words = []
        mean = f"{fill.contender_mean:.0f} % full on average" if fill is not None else ""
        if seconds:
            words.append(
                f"the table full for {seconds:.0f} s of each run" + (f" ({mean})" if mean else "")
            )
        elif mean:
            words.append(f"the table {mean}")
        if drops is not None and lost:
            # conntrack counts packets: a dropped SYN retried counts again
            words.append(f"{drops.contender_mean:.1f} new connections' packets dropped a second")
        out.append(f"{name}: " + ", ".join(words))
    return out


# what a failed request spares the server: the KPIs of work, not compared like for like
WORK_UNITS = frozenset({CPU_UNIT, MEMORY_UNIT, PER_PACKET_UNIT})


def mark_unlike(items: Sequence[Overhead], max_error_pct: float | None) -> list[Overhead]:
    """Mark the work KPIs (CPU, memory) of each cell whose runs failed more than
    ``max_error_pct`` of their requests on average (None: the share is unknown, no mark)."""
    if max_error_pct is None:
        return list(items)
    failing = {o.cell for o in items if o.kpi == "error_pct" and o.contender_mean > max_error_pct}
    return [
        replace(o, like_for_like=False)
        if o.cell in failing and BY_NAME[o.kpi].unit in WORK_UNITS
        else o
        for o in items
    ]


def unlike_words(items: Sequence[Overhead]) -> list[str]:
    """One line per cell whose CPU and memory are not like-for-like: its failed share."""
    errors = {o.cell: o for o in items if o.kpi == "error_pct"}
    cells = dict.fromkeys(o.cell for o in items if not o.like_for_like)
    return [
        f"{cell_label(cell)}: {errors[cell].contender_mean:.2f} % of requests failed "
        f"(baseline {errors[cell].baseline_mean:.2f} %), so its CPU and memory (marked ≠) "
        "are not like-for-like: a failed request spares the server the work of a served one"
        for cell in cells
        if cell in errors
    ]


def adjust(items: Sequence[Overhead]) -> list[Overhead]:
    """Significance after Benjamini-Hochberg over the judged tests with an interval."""
    tested = [i for i, o in enumerate(items) if o.judged and math.isfinite(o.pvalue)]
    q = benjamini_hochberg([items[i].pvalue for i in tested])
    out = [replace(o, significant=False) for o in items]
    for i, qi in zip(tested, q, strict=True):
        out[i] = replace(items[i], qvalue=qi, significant=qi < ALPHA)
    return out


def _mean(runs: Sequence[Sequence[float]]) -> float:
    values = [sum(r) / len(r) for r in runs if r]
    return sum(values) / len(values)


def _overhead(
    cell: Levels,
    base_cell: Levels,
    kpi: Kpi,
    a: list[list[float]],
    b: list[list[float]],
    comp: Comparison,
) -> Overhead:
    if kpi.lower_is_cost:
        comp = comp.flipped()
    base_mean, cont_mean = _mean(a), _mean(b)
    rel = rel_ci = None
    if base_mean:
        rel = comp.delta / abs(base_mean) * 100
        if comp.inferred:
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
        False,  # decided over the whole campaign (``adjust``)
        mde,
        comp.method,
        kpi.judged,
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
            "qvalue": o.qvalue,
            "significant": o.significant,
            "judged": o.judged,
            "verdict": o.verdict.value,
            "mde": o.mde,
            "method": o.method,
            "like_for_like": o.like_for_like,
        }
        if o.absolute is not None:
            row.update(
                {
                    "absolute": o.absolute.delta,
                    "ci_low": o.absolute.ci_low,
                    "ci_high": o.absolute.ci_high,
                    "n_baseline": o.absolute.n_baseline,
                    "n_contender": o.absolute.n_contender,
                    "narrowed": o.absolute.narrowed,
                    "balance_p": o.absolute.balance_p,
                }
            )
        rows.append(row)
    return rows
