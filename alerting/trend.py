"""Slow drifts: a trend with no step in it (pure).

A level that creeps (a cache that grows, a policy that lengthens a little every night) never
makes a step the change-point search can call, yet adds up: 3 sd over a month crosses a
threshold before any single night looks wrong. A *creep* is level, straight line, level (the
line possibly still running on the newest night). Two questions, both on least squares:

- ``is_ramp``: around a candidate change, does a creep explain the nights better than the step
  does (by ``RAMP_MARGIN``)? Then the "step" is a piece of a drift, not a change.
- ``drift``: do the newest ``drift_nights`` nights creep, by at least ``drift_sd`` noise units,
  better than any single step explains them (by ``DRIFT_MARGIN``), with a slope significant
  against its variance under the AR(1) noise?
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from alerting.noise import Noise

FloatArray = NDArray[np.float64]
RAMP_WINDOW = 20  # nights each side of a change looked at by ``is_ramp``
RAMP_MIN = 12  # nights: a shorter "creep" is a step seen through noise
# A creep has one more free parameter than a step, and the best of some hundred (start, end)
# pairs fits a noisy step well: it must fit better by this many noise units squared. To drop a
# change the search found, RAMP_MARGIN (a 12-night creep beat true 3 sd steps by 4-6 here);
# for a drift report, DRIFT_MARGIN with a creep of DRIFT_MIN nights or more.
RAMP_MARGIN = 8.0
DRIFT_MARGIN = 4.0
DRIFT_MIN = 16  # nights: a drift report's creep is at least this long (a step is not one)


@dataclass(frozen=True, slots=True)
class Line:
    slope: float
    intercept: float  # at the window's first night
    rss: float


def line(y: FloatArray) -> Line:
    t = np.arange(len(y), dtype=np.float64)
    tc = t - t.mean()
    sxx = float(np.sum(tc * tc))
    slope = float(np.sum(tc * (y - y.mean()))) / sxx if sxx > 0 else 0.0
    intercept = float(y.mean()) - slope * float(t.mean())
    rss = float(np.sum((y - intercept - slope * t) ** 2))
    return Line(slope, intercept, rss)


def step_rss(y: FloatArray, cut: int) -> float:
    return steps_rss(y, [cut])


def steps_rss(y: FloatArray, cuts: list[int]) -> float:
    """The least squares of a level per segment, the segments starting at ``cuts``."""
    bounds = [0, *sorted(cuts), len(y)]
    parts = [y[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    return float(sum(np.sum((p - p.mean()) ** 2) for p in parts))


def best_step_rss(y: FloatArray, min_size: int, min_after: int | None = None) -> float:
    """The least squares of the best single step with ``min_size`` nights before it and
    ``min_after`` (default ``min_size``) from it on."""
    n = len(y)
    after = min_size if min_after is None else min_after
    if n < min_size + after:
        return math.inf
    c1 = np.cumsum(y)
    c2 = np.cumsum(y * y)
    k = np.arange(min_size, n - after + 1)
    left = c2[k - 1] - c1[k - 1] ** 2 / k
    right = (c2[-1] - c2[k - 1]) - (c1[-1] - c1[k - 1]) ** 2 / (n - k)
    return float(np.min(left + right))


@dataclass(frozen=True, slots=True)
class Ramp:
    start: int  # first night off the old level
    end: int  # first night at the new level (may be past the window: still creeping)
    before: float
    after: float
    rss: float


def best_ramp(y: FloatArray, min_nights: int = RAMP_MIN) -> Ramp | None:
    """The best level - straight line - level fit, the line at least ``min_nights`` long (it
    may start at the first night or run past the last: a creep still going on)."""
    n = len(y)
    if n < min_nights + 2:
        return None
    t = np.arange(n, dtype=np.float64)
    pairs = [(a, b) for a in range(0, n - 1) for b in range(a + min_nights, n + 1)]
    if not pairs:
        return None
    k1 = np.array([p[0] for p in pairs], dtype=np.float64)[:, None]
    k2 = np.array([p[1] for p in pairs], dtype=np.float64)[:, None]
    x = np.clip((t[None, :] - k1 + 1.0) / (k2 - k1 + 1.0), 0.0, 1.0)  # 0 before, 1 after
    xc = x - x.mean(axis=1, keepdims=True)
    sxx = np.sum(xc * xc, axis=1)
    yc = y - y.mean()
    beta = np.where(sxx > 0, (xc @ yc) / np.where(sxx > 0, sxx, 1.0), 0.0)
    rss = float(np.sum(yc * yc)) - beta * beta * sxx
    i = int(np.argmin(rss))
    alpha = float(y.mean()) - float(beta[i]) * float(x[i].mean())
    return Ramp(pairs[i][0], pairs[i][1], alpha, alpha + float(beta[i]), float(rss[i]))


def is_ramp(z: FloatArray, lo: int, cut: int, hi: int, noise: Noise) -> bool:
    """Between segment bounds ``lo`` and ``hi``, is the change at ``cut`` better seen as a
    creep (level, line of ``RAMP_MIN`` nights or more, level) than as a step? Looked at
    ``RAMP_WINDOW`` nights each side at most."""
    a, b = max(lo, cut - RAMP_WINDOW), min(hi, cut + RAMP_WINDOW)
    w = z[a:b]
    if cut - a < 3 or b - cut < 3:
        return False  # too few nights on a side to tell a creep from a step
    ramp = best_ramp(w)
    return ramp is not None and ramp.rss + RAMP_MARGIN * noise.sd**2 < step_rss(w, cut - a)


def slope_pvalue(y: FloatArray, fit: Line, noise: Noise) -> float:
    """Two-sided p-value of the slope, its variance from the AR(1) noise model."""
    n = len(y)
    t = np.arange(n, dtype=np.float64)
    w = (t - t.mean()) / float(np.sum((t - t.mean()) ** 2))
    lags = np.abs(np.subtract.outer(t, t))
    var = noise.sd**2 * float(w @ (noise.rho**lags) @ w)
    if var <= 0:
        return 1.0
    return float(2.0 * special.stdtr(max(1.0, noise.df), -abs(fit.slope) / math.sqrt(var)))


@dataclass(frozen=True, slots=True)
class Trend:
    start: int  # position (in the series searched) of the creep's first night
    first: float  # the fitted level there
    last: float  # the fitted level on the newest night
    pvalue: float
    nights: int
    window: int  # position of the window's first night
    rss: float  # of the creep over the window

    def explains(self, z: FloatArray, cuts: list[int], noise: Noise) -> bool:
        """Are the changes at positions ``cuts`` inside the window pieces of this creep (the
        creep fits the window better than those steps together do, by ``DRIFT_MARGIN``)?"""
        w = z[self.window :]
        ks = [c - self.window for c in cuts]
        if any(k < 1 or k >= len(w) for k in ks):
            return False
        return self.rss + DRIFT_MARGIN * noise.sd**2 < steps_rss(w, ks)


def drift(
    z: FloatArray,
    noise: Noise,
    nights: int,
    min_sd: float,
    max_pvalue: float,
    min_size: int,
) -> Trend | None:
    """The newest ``nights`` nights, if they creep. A change the search kept inside the window
    is the caller's to weigh (``Trend.explains``)."""
    start = max(0, len(z) - nights)
    w = z[start:]
    if len(w) < max(8, 2 * nights // 3):
        return None
    ramp = best_ramp(w, DRIFT_MIN)
    if ramp is None or abs(ramp.after - ramp.before) < min_sd * noise.sd:
        return None
    if ramp.rss + DRIFT_MARGIN * noise.sd**2 >= best_step_rss(w, min_size, 1):
        return None  # a step (maybe on the newest night alone) explains it as well
    p = slope_pvalue(w, line(w), noise)
    if p > max_pvalue:
        return None
    return Trend(
        start + ramp.start, ramp.before, ramp.after, p, len(w) - ramp.start, start, ramp.rss
    )
