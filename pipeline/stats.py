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
from dataclasses import dataclass

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
    method: str  # "welch" | "paired" | "no inference (n vs m runs)"

    @property
    def inferred(self) -> bool:
        """An interval and a p-value exist (between-run evidence on both sides)."""
        return math.isfinite(self.pvalue)

    @property
    def significant(self) -> bool:
        return self.inferred and self.pvalue < ALPHA

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
        )


def welch(baseline: Sequence[float], contender: Sequence[float]) -> Comparison:
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


def paired(baseline: Sequence[float], contender: Sequence[float]) -> Comparison:
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
    df = len(d) - 1
    t_crit = float(stats.t.ppf(1 - ALPHA / 2, df))
    p = float(2 * stats.t.sf(abs(delta) / se, df))
    mde = (t_crit + float(stats.t.ppf(POWER, df))) * se
    return Comparison(
        delta, delta - t_crit * se, delta + t_crit * se, p, mde, len(a), len(b), "paired"
    )


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
