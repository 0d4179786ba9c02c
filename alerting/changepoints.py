"""Change points and outliers in one nightly series (pure, deterministic: values in, findings out).

The method, in the order it runs:

1. Missing nights are dropped, never filled; findings carry the original row index.
2. The noise scale comes from the night-to-night differences (median absolute difference, so a
   few steps or spikes do not inflate it), and, for the cost below, from a trimmed mean of the
   squared differences (so heavy-tailed noise is not mistaken for signal).
3. A night is an *outlier* when it departs, in the same direction, from the median of the
   ``window`` nights before it and from the median of the ``window`` nights after it by more
   than ``outlier_z`` noise units. A step does not qualify (its first night agrees with the
   nights after it); a one- or two-night spike does. Outliers are reported and left out of
   change detection.
4. Change points are the exact optimal partition of what remains into segments of constant
   mean (least squares, penalty ``penalty_per_log_n * log(n)`` noise units squared per change),
   with at least ``confirm_nights + 1`` nights in every segment, so a change is only called once
   ``confirm_nights`` later nights agree with it. Each kept change passes a two-sample t-test
   between its neighbouring segments at ``max_pvalue``.
5. A departure seen only on the newest 1..``confirm_nights`` nights is *pending*: reported, not
   yet a change; it becomes a change (or an outlier) as later nights arrive.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import special
from scipy import stats as sps

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Settings:
    confirm_nights: int = 2
    window: int = 3
    outlier_z: float = 4.5
    penalty_per_log_n: float = 3.0
    max_pvalue: float = 0.001
    pending_z: float = 3.0

    def __post_init__(self) -> None:
        if self.confirm_nights < 1:
            raise ValueError("confirm_nights must be >= 1")
        if self.window < 1:
            raise ValueError("window must be >= 1")
        for name in ("outlier_z", "penalty_per_log_n", "pending_z"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if not 0 < self.max_pvalue < 1:
            raise ValueError("max_pvalue must be in (0, 1)")


@dataclass(frozen=True, slots=True)
class Change:
    index: int  # row of the first night at the new level
    before: float
    after: float
    pvalue: float
    nights_after: int  # observed nights at the new level, the change night included
    pending: bool = False

    @property
    def change_pct(self) -> float | None:
        if self.before == 0:
            return None
        return (self.after - self.before) / abs(self.before) * 100.0


@dataclass(frozen=True, slots=True)
class Outlier:
    index: int
    value: float
    level: float  # what the neighbouring nights say the value should have been


@dataclass(frozen=True, slots=True)
class Findings:
    changes: tuple[Change, ...] = ()
    pending: tuple[Change, ...] = ()
    outliers: tuple[Outlier, ...] = ()
    missing: tuple[int, ...] = field(default=())
    noise: float = math.nan


def noise_scale(y: FloatArray) -> float:
    """Robust standard deviation of the noise, from the night-to-night differences."""
    if len(y) < 3:
        return 0.0
    d = np.abs(np.diff(y))
    return float(np.median(d) / (0.6744897501960817 * math.sqrt(2.0)))


def cost_scale(y: FloatArray) -> float:
    """Noise scale for the least-squares cost: the squared differences, top 5 % trimmed (steps
    and spikes live there), corrected so that Gaussian noise gives its standard deviation."""
    if len(y) < 3:
        return 0.0
    d2 = np.sort(np.diff(y) ** 2)
    keep = d2[: max(1, math.ceil(0.95 * len(d2)))]
    # E[d^2 | |d| < 1.96 sd_d] / sd_d^2 for Gaussian d
    return float(math.sqrt(float(np.mean(keep)) / 2.0 / 0.7593))


def _floor(scale: float, y: FloatArray) -> float:
    """A zero scale (a constant series) would make every difference infinitely significant."""
    tiny = 1e-9 * max(1.0, float(np.median(np.abs(y)))) if len(y) else 1e-9
    return max(scale, tiny)


def _medians(y: FloatArray, k: int, side: int) -> FloatArray:
    """Median of the k values before (side -1) or after (side +1) each position; NaN where
    there are none. Partial windows at the edges use what there is."""
    pad = np.full(k, np.nan)
    padded = np.concatenate((pad, y)) if side < 0 else np.concatenate((y[1:], pad, [np.nan]))
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)[: len(y)]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmedian(windows, axis=1), dtype=np.float64)


def find_outliers(y: FloatArray, scale: float, s: Settings) -> list[int]:
    """Positions (in ``y``) of nights unlike both their neighbourhoods. The newest night is never
    an outlier: with nothing after it, it is a pending change until the next night says."""
    if len(y) < 2:
        return []
    r = (y - _medians(y, s.window, +1)) / scale
    q = (y - _medians(y, s.window, -1)) / scale
    big_r = np.abs(r) > s.outlier_z
    left_ok = np.isnan(q) | ((np.abs(q) > s.outlier_z) & (np.sign(q) == np.sign(r)))
    hit = big_r & left_ok & ~np.isnan(r)
    return [int(i) for i in np.flatnonzero(hit)]


def optimal_partition(y: FloatArray, penalty: float, min_size: int) -> list[int]:
    """Exact least-squares segmentation (optimal partitioning, Jackson et al. 2005).

    Returns the start positions of every segment but the first. ``penalty`` is in the units of
    the squared values (callers pass penalty x scale^2). O(n^2) arithmetic, O(n) memory; a
    year of nights is a few milliseconds.
    """
    n = len(y)
    if n < 2 * min_size:
        return []
    c1 = np.concatenate(([0.0], np.cumsum(y)))
    c2 = np.concatenate(([0.0], np.cumsum(y * y)))
    starts = np.arange(n + 1, dtype=np.float64)
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    last = np.zeros(n + 1, dtype=np.int64)
    for t in range(min_size, n + 1):
        e = t - min_size + 1  # segments [s, t) with s < e are long enough
        d = c1[t] - c1[:e]
        total = best[:e] + (c2[t] - c2[:e]) - d * d / (t - starts[:e])
        k = int(total.argmin())
        best[t] = total[k] + penalty
        last[t] = k
    cuts: list[int] = []
    t = n
    while t > 0:
        t = int(last[t])
        if t > 0:
            cuts.append(t)
    return sorted(cuts)


def _ttest(a: FloatArray, b: FloatArray) -> float:
    na, nb = len(a), len(b)
    df = na + nb - 2
    pooled = (float(np.sum((a - a.mean()) ** 2)) + float(np.sum((b - b.mean()) ** 2))) / df
    se = math.sqrt(pooled * (1.0 / na + 1.0 / nb))
    if se == 0.0:
        return 0.0 if float(a.mean()) != float(b.mean()) else 1.0
    t = abs(float(b.mean()) - float(a.mean())) / se
    return float(2.0 * special.stdtr(df, -t))


def _ranktest(a: FloatArray, b: FloatArray) -> float:
    """Mann-Whitney U, two-sided. Exact (scipy) when a side has fewer than 8 nights, else the
    normal approximation with the tie correction, computed here (scipy's wrapper costs more
    than the test on these sizes)."""
    na, nb = len(a), len(b)
    if min(na, nb) < 8:
        return float(sps.mannwhitneyu(a, b, alternative="two-sided", method="auto").pvalue)
    ranks = sps.rankdata(np.concatenate((a, b)))
    u = float(np.sum(ranks[na:])) - nb * (nb + 1) / 2.0
    n = na + nb
    _, counts = np.unique(ranks, return_counts=True)
    ties = float(np.sum(counts**3 - counts))
    var = na * nb / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (abs(u - na * nb / 2.0) - 0.5) / math.sqrt(var)
    return float(min(1.0, 2.0 * special.ndtr(-max(z, 0.0))))


def _pvalue(a: FloatArray, b: FloatArray) -> float:
    """Two tests, the larger p-value kept: a t-test with a pooled variance (the noise is one
    process on both sides, so a change backed by a few new nights is judged against the long
    history) and Mann-Whitney's rank test (so one extreme night cannot carry a change alone).
    Below 3 nights a side the rank test cannot reach small p-values; ``_consistent`` stands in."""
    if len(a) + len(b) < 3 or min(len(a), len(b)) < 1:
        return 1.0
    p = _ttest(a, b)
    if min(len(a), len(b)) >= 3:
        p = max(p, _ranktest(a, b))
    return 1.0 if math.isnan(p) else p


def _consistent(a: FloatArray, b: FloatArray, scale: float, z: float) -> bool:
    """Every night of the shorter side lies beyond ``z`` noise units of the longer side's mean,
    on the same side."""
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    dev = (short - float(np.mean(long_))) / scale
    return bool(np.all(dev > z) or np.all(dev < -z))


def _significant_cuts(
    z: FloatArray, cuts: list[int], scale: float, s: Settings
) -> list[tuple[int, float]]:
    """Drop the weakest change until every remaining one passes; p-values against the
    neighbouring segments as they finally are."""
    cuts = list(cuts)
    while True:
        bounds = [0, *cuts, len(z)]
        ps = []
        for i in range(len(cuts)):
            a, b = z[bounds[i] : bounds[i + 1]], z[bounds[i + 1] : bounds[i + 2]]
            p = _pvalue(a, b)
            if min(len(a), len(b)) < 3 and not _consistent(a, b, scale, s.pending_z):
                p = 1.0
            ps.append(p)
        if not ps or max(ps) <= s.max_pvalue:
            return list(zip(cuts, ps, strict=True))
        del cuts[int(np.argmax(ps))]


def detect(values: list[float | None] | FloatArray, settings: Settings | None = None) -> Findings:
    """Change points, pending changes and outliers of one series (``None``/NaN = missing night)."""
    s = settings or Settings()
    raw = np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    present = np.flatnonzero(np.isfinite(raw))
    missing = tuple(int(i) for i in np.flatnonzero(~np.isfinite(raw)))
    if len(present) < 2:
        return Findings(missing=missing)
    # centred on its median: the least-squares sums then stay near the noise's size whatever
    # the level (1e12 bytes with a 1e3 noise would otherwise lose every digit that matters)
    offset = float(np.median(raw[present]))
    y = raw[present] - offset
    robust = _floor(noise_scale(y), y)
    outlier_pos = find_outliers(y, robust, s)
    outliers = []
    for i in outlier_pos:
        nb = np.concatenate((y[max(0, i - s.window) : i], y[i + 1 : i + 1 + s.window]))
        outliers.append(
            Outlier(int(present[i]), float(y[i]) + offset, float(np.median(nb)) + offset)
        )
    keep = np.ones(len(y), dtype=bool)
    keep[outlier_pos] = False
    z = y[keep]
    zpos = present[keep]
    scale = _floor(max(cost_scale(z), robust), z)
    min_size = s.confirm_nights + 1
    penalty = s.penalty_per_log_n * math.log(max(len(z), 3)) * scale * scale
    cuts = optimal_partition(z, penalty, min_size)
    kept = _significant_cuts(z, cuts, scale, s)
    bounds = [0, *(c for c, _ in kept), len(z)]
    changes = tuple(
        Change(
            index=int(zpos[c]),
            before=float(np.mean(z[bounds[i] : c])) + offset,
            after=float(np.mean(z[c : bounds[i + 2]])) + offset,
            pvalue=p,
            nights_after=int(bounds[i + 2] - c),
        )
        for i, (c, p) in enumerate(kept)
    )
    pending = _pending(z, zpos, bounds[-2], scale, s, offset)
    return Findings(changes, pending, tuple(outliers), missing, robust)


def _pending(
    z: FloatArray,
    zpos: NDArray[np.int64],
    last_start: int,
    scale: float,
    s: Settings,
    offset: float,
) -> tuple[Change, ...]:
    """The newest 1..confirm_nights nights all departing the same way from the current level."""
    for j in range(min(s.confirm_nights, len(z) - last_start - 2), 0, -1):
        level = z[last_start : len(z) - j]
        tail = z[len(z) - j :]
        if len(tail) < len(level) and _consistent(level, tail, scale, s.pending_z):
            return (
                Change(
                    index=int(zpos[len(z) - j]),
                    before=float(np.mean(level)) + offset,
                    after=float(np.mean(tail)) + offset,
                    pvalue=_pvalue(level, tail),
                    nights_after=j,
                    pending=True,
                ),
            )
    return ()
