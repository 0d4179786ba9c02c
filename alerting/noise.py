"""The noise of one nightly series, allowing for nights that remember yesterday (pure).

Real nightly series are not independent night to night: a kernel update, a warm page cache or a
neighbour on the host shifts several nights at once. The model is AR(1): a marginal standard
deviation ``sd`` and a lag-1 correlation ``rho``. With ``rho`` > 0 the night-to-night
differences understate the noise (their variance is 2 sd^2 (1 - rho)) and a mean of m nights
varies more than sd^2 / m: both matter to how strong a step must be before it is one.

Estimation, robust to the steps and outliers the series holds:
- the night-to-night differences give a first scale, ``sd * sqrt(2 (1 - rho))`` (their
  squares, top 5 % trimmed, so steps and spikes do not count; a median-based floor keeps a
  few huge differences from hiding the rest), for the first segmentation;
- ``sd`` and ``rho`` come from the residuals around a segmentation (means of segments cut where
  a step is), ``rho`` corrected for the bias of short segments, limited to [0, ``MAX_RHO``]
  (the estimate's own noise must not read as a negative correlation that would make steps
  look stronger than they are) and, on short histories, drawn towards a prior;
- the nights left out as spikes still count in that scale, their departures capped
  (``with_spikes``): a series with spikes strays further than its other nights say;
- ``df`` says how many independent nights that estimate rests on, so that a test against a
  scale measured on ten nights is as wary as it should be.

One series measures its correlation poorly (on 40 nights of lag-1 0.5 it reads 0.2-0.4, and
steps look stronger than they are). The series of one metric in one nightly share the host and
the nights, so they share that memory: ``pooled`` weighs what each of them measured
(``Evidence``), and a series is taken to remember yesterday at least as much as the others do
(``around``'s ``floor``). The floor only raises the correlation, and with it the variance each
test allows: a series that truly remembers less than its nightly loses some power.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
MAX_RHO = 0.8
# Until a series has told its own correlation, it is taken to be like nightly series are: some
# memory of yesterday (PRIOR_RHO), worth PRIOR_NIGHTS nights of evidence against the measured
# one; a long independent series ends near its own, 0.
PRIOR_RHO = 0.3
PRIOR_NIGHTS = 30
# a pool speaks once it holds this many other series and residual pairs (its standard error is
# then about 0.05): twelve series of lag-1 0.5 pool 0.46 on 40 nights each, 0.50 on 60. With
# 100 pairs (12 series of 12 nights pool 0.38) the 3x replay at lag-1 0.5 gave fewer false
# alerts still (0.34 and 0.54 per 1,000 on seeds 7 and 8, against 0.67 and 0.74) but found
# 64/72 and 55/65 steps (67 and 57): a floor read too early costs power.
POOL_SERIES = 2
POOL_PAIRS = 300
# A night left out as an outlier (a spike) still tells how far the nights stray: the scale the
# tests use counts each one, its departure from its neighbours capped at SPIKE_CAP sd (so one
# broken measurement cannot blind the series). Left out altogether, on 365 nights of
# Student-t(3) noise the scale read 0.80 of the true one (0.84 counting them), and three of its
# larger ordinary nights passed for a step (3x replay, seed 8: 14 false alerts in 14,873 quiet
# nights; 7 counting the spikes, capped at 3 sd or at 4; at 4, two steps of 139 on seed 7 came
# late on young histories, at 3 one).
SPIKE_CAP = 3.0
GAUSS_MAD = 0.6744897501960817
TRIMMED_GAUSS = 0.7593  # E[d^2 | |d| < 1.96 sd_d] / sd_d^2 for Gaussian d


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one series' residuals say of its lag-1 correlation: the bias-corrected estimate,
    not limited to [0, MAX_RHO] (a pool of independent series must average near 0, not above
    it), and the residual pairs it rests on."""

    rho: float
    pairs: int


@dataclass(frozen=True, slots=True)
class Noise:
    sd: float  # marginal standard deviation of one night
    rho: float = 0.0  # lag-1 correlation
    df: float = math.inf  # independent nights' worth of residuals ``sd`` was estimated from
    evidence: Evidence | None = None  # what the series measured of ``rho`` by itself

    @property
    def long_run_var(self) -> float:
        """n x the variance of a mean of n nights, as n grows."""
        return self.sd * self.sd * (1.0 + self.rho) / (1.0 - self.rho)

    def var_mean(self, m: int) -> float:
        """Variance of the mean of ``m`` consecutive nights (exact for AR(1))."""
        if m <= 0:
            return math.inf
        k = np.arange(1, m, dtype=np.float64)
        s = m + 2.0 * float(np.sum((m - k) * self.rho**k))
        return self.sd * self.sd * s / (m * m)


def independent(n: float, rho: float) -> float:
    """Independent nights' worth of ``n`` nights with lag-1 correlation ``rho``."""
    return n * (1.0 - rho) / (1.0 + rho)


def diff_scale(y: FloatArray) -> float:
    """Robust standard deviation from the night-to-night differences, as if independent."""
    if len(y) < 3:
        return 0.0
    return float(np.median(np.abs(np.diff(y))) / (GAUSS_MAD * math.sqrt(2.0)))


def trimmed_diff_scale(y: FloatArray) -> float:
    """The same from the squared differences, top 5 % trimmed (more efficient than the
    median; the trimming keeps steps and spikes out)."""
    if len(y) < 3:
        return 0.0
    d2 = np.sort(np.diff(y) ** 2)
    keep = d2[: max(1, math.ceil(0.95 * len(d2)))]
    return float(math.sqrt(float(np.mean(keep)) / 2.0 / TRIMMED_GAUSS))


def pooled(evidence: Iterable[Evidence]) -> float:
    """The lag-1 correlation of series that share their nights, each weighed by its pairs,
    limited to [0, MAX_RHO]; 0 (no floor) until ``POOL_SERIES`` series and ``POOL_PAIRS``
    pairs speak."""
    found = [e for e in evidence if e.pairs > 0]
    pairs = sum(e.pairs for e in found)
    if len(found) < POOL_SERIES or pairs < POOL_PAIRS:
        return 0.0
    return min(MAX_RHO, max(0.0, sum(e.rho * e.pairs for e in found) / pairs))


def with_spikes(noise: Noise, departures: Sequence[float], nights: int) -> Noise:
    """``noise`` with the nights left out as spikes counted in its scale: the square of each
    one's departure from its neighbours (capped at ``SPIKE_CAP`` sd) spread over the series'
    ``nights``."""
    if not departures or nights <= 0:
        return noise
    cap = SPIKE_CAP * noise.sd
    extra = sum(min(abs(d), cap) ** 2 for d in departures)
    sd = math.sqrt(noise.sd * noise.sd + extra / nights)
    return Noise(sd, noise.rho, noise.df, noise.evidence)


def around(y: FloatArray, cuts: list[int], floor: float = 0.0) -> Noise:
    """The noise of the residuals around the segments' means: their standard deviation (on
    the degrees of freedom the means leave) and their lag-1 correlation, bias-corrected, at
    least ``floor`` (the correlation the series' nightly shares, ``pooled``)."""
    bounds = [0, *cuts, len(y)]
    num = den = 0.0
    for a, b in itertools.pairwise(bounds):
        r = y[a:b] - float(np.mean(y[a:b]))
        num += float(np.sum(r[1:] * r[:-1]))
        den += float(np.sum(r * r))
    segments = len(bounds) - 1
    n = len(y)
    if n - segments < 2 or den <= 0.0:
        return Noise(0.0, max(PRIOR_RHO, floor), 0.0)
    pairs = n - segments
    # a segment's own mean pulls its residuals' correlation down by about (1 + 3 rho) / m
    raw = num / den
    corrected = (raw + segments / n) / max(0.5, 1.0 - 3.0 * segments / n)
    measured = min(MAX_RHO, max(0.0, corrected))
    # few nights say little about the correlation: lean on the prior until they can
    rho = (pairs * measured + PRIOR_NIGHTS * PRIOR_RHO) / (pairs + PRIOR_NIGHTS)
    rho = min(MAX_RHO, max(rho, floor))
    # and each mean absorbs (1 + rho) / (1 - rho) nights' worth of correlated variance, not one
    absorbed = segments * (1.0 + rho) / (1.0 - rho)
    sd = math.sqrt(den / max(n - absorbed, n / 4.0))
    return Noise(sd, rho, independent(pairs, rho), Evidence(corrected, pairs))


def estimate(y: FloatArray, rho: float) -> Noise:
    """The marginal scale from the differences, given the correlation (they understate it by
    sqrt(1 - rho))."""
    d = max(trimmed_diff_scale(y), diff_scale(y))
    n = max(0, len(y) - 2)
    return Noise(d / math.sqrt(1.0 - rho), rho, independent(n, rho))
