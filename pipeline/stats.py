"""Comparing a contender with its baseline: difference, confidence interval, p-value, and the
smallest difference the data could have detected (pure: numbers in, numbers out).

Noise in this lab is mostly *between* runs, so the unit of comparison is the run: each run's
mean over its steady window, compared across repeats with Welch's t-test. With a single run on
a side there is no between-run variance to estimate; then the per-second values are compared
with a moving-block bootstrap (blocks keep the autocorrelation of neighbouring seconds), which
covers within-run noise only, and the method says so.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.80
BLOCK_S = 5
BOOTSTRAP = 2000
SEED = 20261127  # deterministic: the same data gives the same interval


@dataclass(frozen=True, slots=True)
class Comparison:
    delta: float  # contender - baseline
    ci_low: float
    ci_high: float
    pvalue: float
    mde: float  # minimal detectable |delta| at 80 % power, alpha 0.05
    n_baseline: int
    n_contender: int
    method: str  # "welch" | "block-bootstrap"

    @property
    def significant(self) -> bool:
        return self.pvalue < ALPHA

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
    if se == 0.0:
        p = 1.0 if delta == 0.0 else 0.0
        return Comparison(delta, delta, delta, p, 0.0, len(a), len(b), "welch")
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


def _block_means(values: np.ndarray, rng: np.random.Generator, block: int) -> np.ndarray:
    n = len(values)
    block = max(1, min(block, n))
    starts = rng.integers(0, n - block + 1, size=(BOOTSTRAP, math.ceil(n / block)))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(BOOTSTRAP, -1)[:, :n]
    means: np.ndarray = values[idx].mean(axis=1)
    return means


def _rng(values: np.ndarray) -> np.random.Generator:
    """A generator seeded by the sample itself: the same data always resamples the same way,
    whichever side it is on, so swapping the sides exactly flips the result."""
    return np.random.default_rng([SEED, zlib.crc32(values.tobytes())])


def block_bootstrap(
    baseline: Sequence[float], contender: Sequence[float], block: int = BLOCK_S
) -> Comparison:
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(contender, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the bootstrap needs at least two values on each side")
    diffs = _block_means(b, _rng(b), block) - _block_means(a, _rng(a), block)
    delta = float(b.mean() - a.mean())
    se = float(diffs.std(ddof=1))
    p = (1.0 if delta == 0.0 else 0.0) if se == 0.0 else float(2 * stats.norm.sf(abs(delta) / se))
    z = float(stats.norm.ppf(1 - ALPHA / 2))
    mde = (z + float(stats.norm.ppf(POWER))) * se
    # the bootstrap estimates the standard error; the interval and the p-value both use it,
    # so that "significant" and "the interval excludes zero" always agree
    return Comparison(
        delta, delta - z * se, delta + z * se, p, mde, len(a), len(b), "block-bootstrap"
    )


def compare(
    baseline_runs: Sequence[Sequence[float]], contender_runs: Sequence[Sequence[float]]
) -> Comparison:
    """Runs on each side, each a list of per-second values of its steady window."""
    a = [r for r in baseline_runs if len(r)]
    b = [r for r in contender_runs if len(r)]
    if not a or not b:
        raise ValueError("no values on one side")
    if len(a) >= 2 and len(b) >= 2:
        return welch([float(np.mean(r)) for r in a], [float(np.mean(r)) for r in b])
    return block_bootstrap([v for r in a for v in r], [v for r in b for v in r])
