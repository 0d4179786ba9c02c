"""Change points and outliers in one nightly series (pure, deterministic: values in, findings out).

The method, in the order it runs:

1. Missing nights are dropped, never filled; findings carry the original row index.
2. The noise is an AR(1) process (``alerting.noise``): its scale and lag-1 correlation from the
   residuals around a segmentation (``estimate_noise``; the newest nights held out), so that
   nights which remember yesterday are not mistaken for steps; the correlation is at least
   ``rho_floor``, what the nightly's other series of the metric measured (``floors``).
3. A night is an *outlier* when it departs, in the same direction, from the median of the
   ``window`` nights before it and from the median of the ``window`` nights after it by more
   than ``outlier_z`` noise units. A step does not qualify (its first night agrees with the
   nights after it); a one- or two-night spike does. Outliers are reported and left out of
   change detection, but they count, capped, in the noise's scale (``alerting.noise.with_spikes``):
   a series with spikes strays further than its other nights say.
4. Change points are the exact optimal partition of what remains into segments of constant
   mean (least squares, penalty ``penalty_per_log_n * log(n)`` times the noise's long-run
   variance per change), with at least ``confirm_nights + 1`` nights in every segment, so a
   change is only called once ``confirm_nights`` later nights agree with it. Each kept change
   passes a test between its neighbouring segments at ``max_pvalue``: the difference of means
   against the AR(1) variance of those means (and Mann-Whitney's rank test where its smallest
   p-value can reach ``max_pvalue``; where it cannot, every night of the shorter side must lie
   ``TOGETHER`` noise units beyond the other side's mean, all on one side). A change that a
   creep (level, line, level) explains better than a step is part of a drift, not a change.
   With fewer than ``YOUNG_NIGHTS`` nights of history the limit is ``YOUNG_SHARE`` of it.
5. A step on the newest ``confirm_nights + 1`` or ``+ 2`` nights, which the penalty keeps the
   search from placing when the noise remembers yesterday, is tested on its own
   (``_newest_cut``: generalised least squares under the AR(1) noise, and the rank test).
6. A departure seen only on the newest 1..``confirm_nights + 2`` nights is *pending*: reported,
   not yet a change, dated at its first departing night; it becomes a change (or an outlier)
   as later nights arrive.
7. A *drift*: the newest ``drift_nights`` nights creep (level, line, level) by at least
   ``drift_sd`` noise units, the slope significant at ``max_pvalue`` and no single step explaining
   them as well (``alerting.trend``); changes inside the creep are pieces of it, not changes,
   when it explains the window better than all of them together.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from scipy import special
from scipy import stats as sps

from alerting import noise as nz
from alerting import trend

FloatArray = NDArray[np.float64]
# where the rank test cannot speak (too few nights on a side), every night of the shorter side
# must lie at least this many noise units beyond the other side's mean, all on one side: one
# extreme night cannot carry a change alone
TOGETHER = 1.0
HELD_MIN = 12  # nights before the held-out newest ones for the noise to be estimated without them
EXTREME_NIGHTS = 3  # pending: this many newest nights beyond every night of the level ...
EXTREME_Z = 2.0  # ... need their mean only this many standard errors away (else pending_z)
# A change on the newest confirm_nights + 1 or + 2 nights is tested on its own (the penalised
# search cannot place it yet: with lag-1 0.5 a 3 sd step needs 6 nights to pay its penalty), by
# generalised least squares, at NEWEST_SHARE of max_pvalue (it is tested every night), against
# a level of NEWEST_LEVEL nights or more. (On the 3x replay with lag-1 0.5: a quarter found
# 64 of 72 steps of >= 3 sd in 3 nights, a half 68, the whole 69 at 1.35 false alerts per
# 1,000 quiet nights against 0.94.)
NEWEST_SHARE = 0.5
NEWEST_LEVEL = 12
# A history shorter than YOUNG_NIGHTS measures its noise poorly (its correlation above all):
# there a change must pass at YOUNG_SHARE of max_pvalue. Measured on the replay (lag-1 0.5):
# the first 40 nights, a quarter of the quiet nights, raised 12 of the 19 false alerts.
YOUNG_NIGHTS = 40
YOUNG_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class Settings:
    confirm_nights: int = 2
    window: int = 3
    outlier_z: float = 4.5
    penalty_per_log_n: float = 3.0
    max_pvalue: float = 0.001
    pending_z: float = 3.0
    drift_nights: int = 30
    drift_sd: float = 2.0
    # the lag-1 correlation the series' nightly shares (``alerting.noise.pooled``; set by
    # ``alerting.evaluate`` from the other series of the metric): the series' own is at least it
    rho_floor: float = 0.0

    def __post_init__(self) -> None:
        if self.confirm_nights < 1:
            raise ValueError("confirm_nights must be >= 1")
        if self.window < 1:
            raise ValueError("window must be >= 1")
        if self.drift_nights < 8:
            raise ValueError("drift_nights must be >= 8")
        for name in ("outlier_z", "penalty_per_log_n", "pending_z", "drift_sd"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if not 0 < self.max_pvalue < 1:
            raise ValueError("max_pvalue must be in (0, 1)")
        if not 0 <= self.rho_floor <= nz.MAX_RHO:
            raise ValueError(f"rho_floor must be in [0, {nz.MAX_RHO}]")


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
class Drift:
    index: int  # row of the creep's first night
    before: float  # the creep's level on that night
    after: float  # and on the newest night
    pvalue: float
    nights: int

    @property
    def change_pct(self) -> float | None:
        if self.before == 0:
            return None
        return (self.after - self.before) / abs(self.before) * 100.0


@dataclass(frozen=True, slots=True)
class Findings:
    changes: tuple[Change, ...] = ()
    pending: tuple[Change, ...] = ()
    outliers: tuple[Outlier, ...] = ()
    missing: tuple[int, ...] = field(default=())
    noise: float = math.nan  # the marginal standard deviation of one night
    rho: float = 0.0  # the noise's lag-1 correlation
    drifts: tuple[Drift, ...] = ()


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


def _meantest(a: FloatArray, b: FloatArray, noise: nz.Noise) -> float:
    """Difference of the means against their variance under the AR(1) noise model."""
    se = math.sqrt(noise.var_mean(len(a)) + noise.var_mean(len(b)))
    diff = abs(float(b.mean()) - float(a.mean()))
    if se == 0.0:
        return 0.0 if diff else 1.0
    return float(2.0 * special.stdtr(max(noise.df, 1.0), -diff / se))


def _rank_floor(na: int, nb: int) -> float:
    """The smallest two-sided p-value the exact rank test can give (in logs: C(n, k) outgrows
    a float on long histories)."""
    k, n = min(na, nb), na + nb
    log_comb = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return math.exp(math.log(2.0) - log_comb)


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


def _pvalue(
    a: FloatArray, b: FloatArray, noise: nz.Noise, floor: float, gls: bool = False
) -> float:
    """The mean test, and Mann-Whitney's rank test (so one extreme night cannot carry a change
    alone) where it can reach ``floor``; the larger p-value kept. Where the rank test cannot,
    the caller asks ``_consistent`` instead."""
    if len(a) + len(b) < 3 or min(len(a), len(b)) < 1:
        return 1.0
    p = _glstest(a, b, noise) if gls else _meantest(a, b, noise)
    if _rank_usable(len(a), len(b), floor):
        p = max(p, _ranktest(a, b))
    return 1.0 if math.isnan(p) else p


def _judged(
    a: FloatArray, b: FloatArray, noise: nz.Noise, floor: float, gls: bool = False
) -> float:
    """``_pvalue``, or 1 where the rank test cannot speak and the shorter side's nights do not
    all lie beyond the other side's mean together (``_consistent``)."""
    if not _rank_usable(len(a), len(b), floor) and not _consistent(a, b, noise.sd, TOGETHER):
        return 1.0
    return _pvalue(a, b, noise, floor, gls)


def _rank_usable(na: int, nb: int, floor: float) -> bool:
    return min(na, nb) >= 3 and _rank_floor(na, nb) <= floor / 4.0


def _consistent(a: FloatArray, b: FloatArray, scale: float, z: float) -> bool:
    """Every night of the shorter side lies beyond ``z`` noise units of the longer side's mean,
    on the same side."""
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    dev = (short - float(np.mean(long_))) / scale
    return bool(np.all(dev > z) or np.all(dev < -z))


def _significant_cuts(
    z: FloatArray, cuts: list[int], noise: nz.Noise, s: Settings
) -> list[tuple[int, float]]:
    """Drop the weakest change until every remaining one passes; p-values against the
    neighbouring segments as they finally are. A change a line explains as well is dropped."""
    cuts = list(cuts)
    while True:
        bounds = [0, *cuts, len(z)]
        ps = []
        for i in range(len(cuts)):
            a, b = z[bounds[i] : bounds[i + 1]], z[bounds[i + 1] : bounds[i + 2]]
            p = _judged(a, b, noise, s.max_pvalue)
            if trend.is_ramp(z, bounds[i], bounds[i + 1], bounds[i + 2], noise):
                p = 1.0
            ps.append(p)
        if not ps or max(ps) <= _limit(len(z), s):
            return list(zip(cuts, ps, strict=True))
        del cuts[int(np.argmax(ps))]


def estimate_noise(z: FloatArray, s: Settings) -> nz.Noise:
    """The AR(1) noise of the (outlier-free) series: its scale and lag-1 correlation from the
    residuals around a segmentation made with the robust difference scale, then once more
    around one made with the noise so estimated. The newest ``confirm_nights + 2`` nights are
    held out (once there are ``HELD_MIN`` nights before them): a step there, not yet
    confirmable, would otherwise inflate the very noise it is judged against."""
    min_size = s.confirm_nights + 1
    held = s.confirm_nights + 2
    fit = z[:-held] if len(z) - held >= HELD_MIN else z
    log_n = math.log(max(len(fit), 3))
    current = nz.estimate(fit, max(nz.PRIOR_RHO, s.rho_floor))
    for _ in range(2):  # the difference scale's segmentation, then the residuals' own
        penalty = s.penalty_per_log_n * log_n * current.long_run_var
        found = nz.around(fit, optimal_partition(fit, penalty, min_size), s.rho_floor)
        if found.sd > 0:
            current = found
    return nz.Noise(_floor(current.sd, z), current.rho, current.df, current.evidence)


def _outliers(y: FloatArray, s: Settings) -> list[int]:
    return find_outliers(y, _floor(nz.diff_scale(y), y), s)


def _present(values: list[float | None] | FloatArray) -> tuple[FloatArray, NDArray[np.int64]]:
    """The series as floats (NaN = missing night), and the rows with a value."""
    raw = np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    return raw, np.flatnonzero(np.isfinite(raw))


def evidence(values: list[float | None], settings: Settings | None = None) -> nz.Evidence | None:
    """What the series says of its own lag-1 correlation (outliers and missing nights left
    out, as ``detect`` leaves them; no floor), for ``alerting.noise.pooled``."""
    s = settings or Settings()
    raw, present = _present(values)
    y = raw[present]
    if len(y) < 3:
        return None
    y = y - float(np.median(y))
    z = np.delete(y, _outliers(y, s))
    return estimate_noise(z, replace(s, rho_floor=0.0)).evidence


def floors(series: Sequence[list[float | None]], settings: Settings | None = None) -> list[float]:
    """Each series' ``rho_floor`` when ``series`` are one metric of one nightly, sharing the host
    and the nights: the lag-1 correlation the others measured, pooled (``nz.pooled``). Identical
    series (a baseline repeated in several paths) count once, and never in their own pool."""
    s = settings or Settings()
    keys = [tuple(v if v is not None and math.isfinite(v) else None for v in x) for x in series]
    distinct = list(dict.fromkeys(keys))
    if len(distinct) <= nz.POOL_SERIES:
        return [0.0] * len(series)
    measured = {k: evidence(list(k), s) for k in distinct}
    floor_of = {
        k: nz.pooled(e for other, e in measured.items() if other != k and e is not None)
        for k in distinct
    }
    return [floor_of[k] for k in keys]


def detect(values: list[float | None] | FloatArray, settings: Settings | None = None) -> Findings:
    """Change points, pending changes, drifts and outliers of one series (``None``/NaN =
    missing night)."""
    s = settings or Settings()
    raw, present = _present(values)
    missing = tuple(int(i) for i in np.flatnonzero(~np.isfinite(raw)))
    if len(present) < 2:
        return Findings(missing=missing)
    # centred on its median: the least-squares sums then stay near the noise's size whatever
    # the level (1e12 bytes with a 1e3 noise would otherwise lose every digit that matters)
    offset = float(np.median(raw[present]))
    y = raw[present] - offset
    outlier_pos = _outliers(y, s)
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
    departures = [o.value - o.level for o in outliers]
    noise = nz.with_spikes(estimate_noise(z, s), departures, len(y))
    min_size = s.confirm_nights + 1
    penalty = s.penalty_per_log_n * math.log(max(len(z), 3)) * noise.long_run_var
    kept = _significant_cuts(z, optimal_partition(z, penalty, min_size), noise, s)
    newest = _newest_cut(z, kept, noise, s)
    if newest is not None:
        kept = [*kept, newest]
    creep, kept = _drift(z, kept, noise, s)
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
    drifts: tuple[Drift, ...] = ()
    if creep is not None:
        drifts = (
            Drift(
                int(zpos[creep.start]),
                creep.first + offset,
                creep.last + offset,
                creep.pvalue,
                creep.nights,
            ),
        )
    pending = () if drifts else _pending(z, zpos, bounds[-2], noise, s, offset)
    return Findings(changes, pending, tuple(outliers), missing, noise.sd, noise.rho, drifts)


def _glstest(a: FloatArray, b: FloatArray, noise: nz.Noise) -> float:
    """A step between ``a`` and the ``b`` that follows it, by generalised least squares under
    the AR(1) noise (Prais-Winsten), against the noise's own scale and degrees of freedom. It
    weighs the nights next to the step as the correlation says: with lag-1 0.5 a 4-night step
    is 15 % more standard errors away than by the difference of means."""
    x = np.concatenate((np.zeros(len(a)), np.ones(len(b))))
    rho = noise.rho
    first = math.sqrt(1.0 - rho * rho)

    def whiten(v: FloatArray) -> FloatArray:
        return np.concatenate(([first * v[0]], v[1:] - rho * v[:-1]))

    design = np.column_stack((whiten(np.ones(len(x))), whiten(x)))
    inverse = np.linalg.inv(design.T @ design)
    step = float((inverse @ design.T @ whiten(np.concatenate((a, b))))[1])
    var = noise.sd**2 * (1.0 - rho * rho) * float(inverse[1, 1])
    if not var > 0:
        return 1.0
    return float(2.0 * special.stdtr(max(noise.df, 1.0), -abs(step) / math.sqrt(var)))


def _limit(n: int, s: Settings) -> float:
    """The p-value a change must reach with ``n`` nights of history."""
    return s.max_pvalue * (YOUNG_SHARE if n < YOUNG_NIGHTS else 1.0)


def _newest_cut(
    z: FloatArray, kept: list[tuple[int, float]], noise: nz.Noise, s: Settings
) -> tuple[int, float] | None:
    """A step on the newest ``confirm_nights + 1`` or ``+ 2`` nights that the search left out:
    (position, p-value) of the one that splits best, if one passes the GLS test and the rank
    test (or, where that cannot speak, every night beyond a noise unit) at ``NEWEST_SHARE`` of
    the limit, and is no piece of a creep, nor split better by a newer step."""
    last = kept[-1][0] if kept else 0
    rest = z[last:]
    limit = _limit(len(z), s) * NEWEST_SHARE
    best: tuple[float, int, float] | None = None
    for j in (s.confirm_nights + 1, s.confirm_nights + 2):
        level, tail = rest[:-j], rest[-j:]
        if len(level) < NEWEST_LEVEL:
            continue
        p = _judged(level, tail, noise, limit, gls=True)
        if p > limit or trend.is_ramp(z, last, len(z) - j, len(z), noise):
            continue
        rss = trend.step_rss(rest, len(rest) - j)
        if best is None or rss < best[0]:
            best = (rss, j, p)
    if best is None:
        return None
    # a step only one or two nights old splits the tail better still: too young to confirm,
    # and a longer split would date it early (pending reports it, dated right)
    younger = (trend.step_rss(rest, len(rest) - j) for j in range(1, s.confirm_nights + 1))
    if len(rest) > s.confirm_nights and min(younger) < best[0]:
        return None
    return len(z) - best[1], best[2]


def _drift(
    z: FloatArray,
    kept: list[tuple[int, float]],
    noise: nz.Noise,
    s: Settings,
) -> tuple[trend.Trend | None, list[tuple[int, float]]]:
    """The newest nights' creep, if any, and the changes left: a kept change inside the creep's
    window is a piece of it when the creep explains the window better than that step; if one
    is not, the window holds a step, and there is no drift."""
    found = trend.drift(z, noise, s.drift_nights, s.drift_sd, s.max_pvalue, s.confirm_nights + 1)
    if found is None:
        return None, kept
    inside = [c for c, _ in kept if c >= found.window]
    if inside and not found.explains(z, inside, noise):
        return None, kept
    return found, [(c, p) for c, p in kept if c < found.window]


def _pending(
    z: FloatArray,
    zpos: NDArray[np.int64],
    last_start: int,
    noise: nz.Noise,
    s: Settings,
    offset: float,
) -> tuple[Change, ...]:
    """The newest 1..confirm_nights + 2 nights departing together from the current level: their
    mean beyond ``pending_z`` (against the AR(1) variance of the two means; ``EXTREME_Z`` when
    ``EXTREME_NIGHTS`` or more of them lie beyond every night of the level) and every one of
    them beyond one noise unit on the same side. Of the runs that qualify, the one that splits
    best (least squares) dates the report, so it names the first departing night. The scale
    is the level's own, so the departing nights cannot inflate it."""
    rest = z[last_start:]
    longest = min(s.confirm_nights + 2, len(rest) - 3)
    best: tuple[float, int] | None = None
    for j in range(longest, 0, -1):
        level, tail = rest[:-j], rest[-j:]
        if len(tail) >= len(level):
            continue
        model = noise if len(level) < 5 else nz.around(level, [], s.rho_floor)
        model = nz.Noise(_floor(model.sd, level), model.rho, model.df)
        gap = float(tail.mean() - level.mean())
        se = math.sqrt(model.var_mean(len(level)) + model.var_mean(len(tail)))
        if not _consistent(level, tail, model.sd, TOGETHER):
            continue
        # a short level measures its own scale poorly: three or more nights beyond every night
        # of it say as much (1 in C(n, 3) by chance) with a smaller gap
        beyond = j >= EXTREME_NIGHTS and bool(
            np.all(tail > level.max()) or np.all(tail < level.min())
        )
        if abs(gap) < (EXTREME_Z if beyond else s.pending_z) * se:
            continue
        rss = trend.step_rss(rest, len(rest) - j)
        if best is None or rss < best[0]:
            best = (rss, j)
    if best is None:
        return ()
    j = best[1]
    level, tail = rest[:-j], rest[-j:]
    return (
        Change(
            index=int(zpos[len(z) - j]),
            before=float(np.mean(level)) + offset,
            after=float(np.mean(tail)) + offset,
            pvalue=_pvalue(level, tail, noise, s.max_pvalue),
            nights_after=j,
            pending=True,
        ),
    )
