"""Comparing a contender with its baseline: difference, confidence interval, p-value, and the
smallest difference the data could have detected (pure: numbers in, numbers out).

Noise in this lab is mostly *between* runs, so the unit of comparison is the run: each run's
mean over its steady window, compared across repeats with Welch's t-test (or, for a blocked
design that asks for it, a paired t-test on the differences within each block). With fewer
than two runs on a side there is no between-run variance to estimate, and within-run noise is
no evidence (53 % false stars in simulation): such a comparison has a difference and nothing
else, no interval, no p-value, and its method says so.

``benjamini_hochberg`` controls the false discoveries over a campaign's many tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.80
NO_VARIATION = "no inference (no variation between runs"  # how such a method begins


@dataclass(frozen=True, slots=True)
class Comparison:
    delta: float  # contender - baseline
    ci_low: float
    ci_high: float
    pvalue: float
    mde: float  # minimal detectable |delta| at 80 % power, alpha 0.05
    n_baseline: int
    n_contender: int
    method: str  # "welch" | "paired" | "ancova" | "paired ancova" | "no inference (n vs m runs)"
    # covariate-adjusted only: the unadjusted interval's half-width (what the covariate
    # narrowed) and the p-value of a difference in the covariate between the sides (balance)
    plain_half: float = float("nan")
    balance_p: float = float("nan")

    @property
    def inferred(self) -> bool:
        """An interval and a p-value exist (between-run evidence on both sides)."""
        return math.isfinite(self.pvalue)

    @property
    def significant(self) -> bool:
        return self.inferred and self.pvalue < ALPHA

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    @property
    def narrowed(self) -> float:
        """The unadjusted over the adjusted interval's half-width (NaN: not adjusted)."""
        if not math.isfinite(self.plain_half) or not self.half_width > 0:
            return float("nan")
        return self.plain_half / self.half_width

    @property
    def imbalanced(self) -> bool:
        """The covariate differs between the sides (p < 0.05): the adjustment then rests on
        the slope's extrapolation, and the figure says so."""
        return math.isfinite(self.balance_p) and self.balance_p < ALPHA

    def flipped(self) -> Comparison:
        """The same comparison seen from the other side (cost = baseline - contender)."""
        return Comparison(
            -self.delta,
            -self.ci_high,
            -self.ci_low,
            self.pvalue,
            self.mde,
            self.n_baseline,
            self.n_contender,
            self.method,
            self.plain_half,
            self.balance_p,
        )


def _inferred(delta: float, se: float, df: float, n_a: int, n_b: int, method: str) -> Comparison:
    t_crit = float(stats.t.ppf(1 - ALPHA / 2, df))
    p = float(2 * stats.t.sf(abs(delta) / se, df))
    mde = (t_crit + float(stats.t.ppf(POWER, df))) * se
    return Comparison(delta, delta - t_crit * se, delta + t_crit * se, p, mde, n_a, n_b, method)


def welch(
    baseline: Sequence[float], contender: Sequence[float], df_scale: float = 1.0
) -> Comparison:
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(contender, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's test needs at least two values on each side")
    delta = float(b.mean() - a.mean())
    va, vb = float(a.var(ddof=1)), float(b.var(ddof=1))
    se = math.sqrt(va / len(a) + vb / len(b))
    if se == 0.0:  # every run alike on both sides: nothing says how wide the interval is
        return no_variation(delta, len(a), len(b))
    denom = (va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1)
    df = (va / len(a) + vb / len(b)) ** 2 / denom if denom > 0 else 0.0
    if not math.isfinite(df) or df <= 0:  # variances so small their squares underflow
        df = float(len(a) + len(b) - 2)
    df *= df_scale
    t_crit = float(stats.t.ppf(1 - ALPHA / 2, df))
    p = float(2 * stats.t.sf(abs(delta) / se, df))
    mde = (t_crit + float(stats.t.ppf(POWER, df))) * se
    return Comparison(
        delta, delta - t_crit * se, delta + t_crit * se, p, mde, len(a), len(b), "welch"
    )


def no_inference(delta: float, n_baseline: int, n_contender: int) -> Comparison:
    nan = float("nan")
    method = f"no inference ({n_baseline} vs {n_contender} runs)"
    return Comparison(delta, nan, nan, nan, nan, n_baseline, n_contender, method)


def no_variation(delta: float, n_baseline: int, n_contender: int) -> Comparison:
    """Runs that did not vary at all (a counter of coarse resolution, a window too short to
    move): a zero-width interval and p = 0 would claim certainty the runs cannot give."""
    nan = float("nan")
    method = f"{NO_VARIATION}, {n_baseline} vs {n_contender})"
    return Comparison(delta, nan, nan, nan, nan, n_baseline, n_contender, method)


def paired(
    baseline: Sequence[float], contender: Sequence[float], df_scale: float = 1.0
) -> Comparison:
    """A t-test on the differences of runs matched by block (same length, same order)."""
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(contender, dtype=float)
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("a paired test needs two or more matched pairs")
    d = b - a
    delta = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(len(d))
    if se == 0.0:
        return no_variation(delta, len(a), len(b))
    df = (len(d) - 1) * df_scale
    t_crit = float(stats.t.ppf(1 - ALPHA / 2, df))
    p = float(2 * stats.t.sf(abs(delta) / se, df))
    mde = (t_crit + float(stats.t.ppf(POWER, df))) * se
    return Comparison(
        delta, delta - t_crit * se, delta + t_crit * se, p, mde, len(a), len(b), "paired"
    )


def _ols(design: np.ndarray, y: np.ndarray, coef: int) -> tuple[float, float, int] | None:
    """Ordinary least squares: (estimate, standard error, residual df) of one coefficient;
    None when the design is singular or leaves no residual degree of freedom."""
    n, k = design.shape
    df = n - k
    if df < 1 or np.linalg.matrix_rank(design) < k:
        return None
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ beta
    s2 = float(resid @ resid) / df
    cov = s2 * np.linalg.inv(design.T @ design)
    return float(beta[coef]), math.sqrt(max(0.0, float(cov[coef, coef]))), df


def _balance(xa: np.ndarray, xb: np.ndarray) -> float:
    if len(xa) < 2 or len(xb) < 2 or (xa.var() == 0 and xb.var() == 0):
        return float("nan")
    return welch(xa.tolist(), xb.tolist()).pvalue


def _adjusted(
    plain: Comparison,
    fit: tuple[float, float, int] | None,
    xa: np.ndarray,
    xb: np.ndarray,
    method: str,
) -> Comparison:
    """A least-squares fit's difference as a comparison beside the unadjusted one (``plain``,
    also the answer when there is no fit)."""
    if fit is None:
        return plain
    delta, se, df = fit
    n_a, n_b = plain.n_baseline, plain.n_contender
    if se == 0.0:
        return no_variation(delta, n_a, n_b)
    got = _inferred(delta, se, df, n_a, n_b, method)
    half = plain.half_width if plain.inferred else float("nan")
    return replace(got, plain_half=half, balance_p=_balance(xa, xb))


def ancova(
    baseline: Sequence[float],
    contender: Sequence[float],
    baseline_x: Sequence[float],
    contender_x: Sequence[float],
) -> Comparison:
    """Welch's question with each run adjusted by its covariate (a figure measured before the
    agent started, so the agent cannot move it): least squares of the run means on (1,
    contender, covariate); the difference's interval has n - 3 degrees of freedom, the
    slope's included. Without a covariate that varies, the plain Welch test."""
    a, b = np.asarray(baseline, dtype=float), np.asarray(contender, dtype=float)
    xa, xb = np.asarray(baseline_x, dtype=float), np.asarray(contender_x, dtype=float)
    if len(xa) != len(a) or len(xb) != len(b):
        raise ValueError("one covariate value per run")
    plain = welch(list(baseline), list(contender))
    y = np.concatenate([a, b])
    x = np.concatenate([xa, xb])
    g = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    fit = _ols(np.column_stack([np.ones(len(y)), g, x]), y, 1)
    return _adjusted(plain, fit, xa, xb, "ancova")


def paired_ancova(
    baseline: Sequence[float],
    contender: Sequence[float],
    baseline_x: Sequence[float],
    contender_x: Sequence[float],
) -> Comparison:
    """The paired test with each block's difference adjusted by its covariate difference:
    least squares of the differences on (1, covariate difference), n - 2 degrees of freedom."""
    a, b = np.asarray(baseline, dtype=float), np.asarray(contender, dtype=float)
    xa, xb = np.asarray(baseline_x, dtype=float), np.asarray(contender_x, dtype=float)
    if not len(a) == len(b) == len(xa) == len(xb):
        raise ValueError("one covariate value per run, runs matched one to one")
    plain = paired(list(baseline), list(contender))
    d, dx = b - a, xb - xa
    fit = _ols(np.column_stack([np.ones(len(d)), dx]), d, 0)
    return _adjusted(plain, fit, xa, xb, "paired ancova")


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Adjusted p-values (q): significant at FDR q when q < the level. NaN stays NaN (a test
    that was not made) and does not count among the tests."""
    idx = [i for i, p in enumerate(pvalues) if math.isfinite(p)]
    out = [float("nan")] * len(pvalues)
    m = len(idx)
    running = 1.0
    for rank, i in reversed(list(enumerate(sorted(idx, key=lambda k: pvalues[k]), 1))):
        running = min(running, pvalues[i] * m / rank)
        out[i] = running
    return out


def compare(
    baseline_runs: Sequence[Sequence[float]], contender_runs: Sequence[Sequence[float]]
) -> Comparison:
    """Runs on each side, each a list of per-second values of its steady window: Welch on the
    run means with two or more runs a side, else the difference alone (no inference)."""
    a = [float(np.mean(r)) for r in baseline_runs if len(r)]
    b = [float(np.mean(r)) for r in contender_runs if len(r)]
    if not a or not b:
        raise ValueError("no values on one side")
    if len(a) >= 2 and len(b) >= 2:
        return welch(a, b)
    return no_inference(float(np.mean(b) - np.mean(a)), len(a), len(b))


def compare_paired(
    baseline_runs: Sequence[Sequence[float]], contender_runs: Sequence[Sequence[float]]
) -> Comparison:
    """Runs matched by block (the i-th baseline run with the i-th contender run)."""
    a = [float(np.mean(r)) for r in baseline_runs]
    b = [float(np.mean(r)) for r in contender_runs]
    if len(a) != len(b) or not a:
        raise ValueError("paired runs must match one to one")
    if len(a) >= 2:
        return paired(a, b)
    return no_inference(b[0] - a[0], 1, 1)


@dataclass(frozen=True, slots=True)
class Slope:
    """How a KPI's run mean follows the run's probe, pooled within cells (each cell centred on
    its own means) over the runs that share one relation: a rate's baseline and its contenders,
    or a calibration's groups. One slope for many comparisons costs them one degree of freedom
    between them all, where a slope per comparison costs each one (3 against 3 runs: 3 left
    instead of 4)."""

    value: float
    center: float  # the mean probe of the runs it came from
    df: int  # residual degrees of freedom after it: runs - cells - 1

    @property
    def df_scale(self) -> float:
        """The share of the comparisons' degrees of freedom the slope leaves them."""
        return self.df / (self.df + 1)


def pooled_slope(cells: Sequence[tuple[Sequence[float], Sequence[float]]]) -> Slope | None:
    """The within-cell least-squares slope of run means on probes; ``cells``: (run means,
    probes) per cell. None without two runs in some cell, a probe that varies within cells, or
    a residual degree of freedom left."""
    sxx = sxy = 0.0
    runs = cells_used = 0
    xs: list[float] = []
    for y, x in cells:
        if len(y) != len(x):
            raise ValueError("one probe per run")
        xs += list(x)
        if len(y) < 2:
            continue
        ya, xa = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
        dx = xa - xa.mean()
        sxx += float(dx @ dx)
        sxy += float(dx @ (ya - ya.mean()))
        runs += len(y)
        cells_used += 1
    df = runs - cells_used - 1
    if df < 1 or sxx <= 0:
        return None
    return Slope(sxy / sxx, float(np.mean(xs)), df)


def compare_adjusted(
    baseline_runs: Sequence[Sequence[float]],
    contender_runs: Sequence[Sequence[float]],
    baseline_x: Sequence[float],
    contender_x: Sequence[float],
    slope: Slope,
    matched: bool = False,
) -> Comparison:
    """``compare`` (or ``compare_paired`` when ``matched``) on run means adjusted by their
    probes: y - slope x (x - center) (ANCOVA with a slope pooled over the group, CUPED's
    form); the test's degrees of freedom scaled by what the slope leaves. Records the
    unadjusted interval's half-width and whether the probes differed between the sides."""
    ya = [float(np.mean(r)) for r in baseline_runs]
    yb = [float(np.mean(r)) for r in contender_runs]
    if len(ya) != len(baseline_x) or len(yb) != len(contender_x):
        raise ValueError("one probe per run")
    plain = (
        compare_paired(baseline_runs, contender_runs)
        if matched
        else compare(baseline_runs, contender_runs)
    )
    if not plain.inferred:
        return plain
    a = [y - slope.value * (x - slope.center) for y, x in zip(ya, baseline_x, strict=True)]
    b = [y - slope.value * (x - slope.center) for y, x in zip(yb, contender_x, strict=True)]
    got = paired(a, b, slope.df_scale) if matched else welch(a, b, slope.df_scale)
    if not got.inferred:
        return got
    xa, xb = np.asarray(baseline_x, dtype=float), np.asarray(contender_x, dtype=float)
    method = ("paired" if matched else "welch") + " + covariate"
    return replace(got, method=method, plain_half=plain.half_width, balance_p=_balance(xa, xb))
