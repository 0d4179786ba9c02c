"""From nightly series to alerts (pure: a frame and rules in, alert candidates out).

* Change points are searched on each configuration's **overhead** series (agent minus baseline;
  ``overhead``, or ``overhead_pct`` for KPIs reported in % only). Overheads are oriented so that a
  positive value is a cost: a rise is a ``regression``, a fall an ``improvement``.
* The **baseline** series (the workload without agent) is searched too: a change there is an
  ``environment`` change (kernel, host, load tool), reported once per campaign and night and
  never a regression; the overheads of that night already cancel it.
* **Thresholds** are checked on each series' newest night; a breach is one alert from the night
  it began until it ends.
* Alerts of one configuration, kind and night are grouped: several KPIs, one alert. Only changes
  in the newest ``recent_nights`` nights are alerted (older ones are history); changes seen only
  on the newest nights are listed as pending, not alerted.
* A **drift** (a slow trend with no step, on an overhead series) is its own kind, not gating:
  a creeping overhead is seen before it crosses a threshold.
* The series of one KPI and stat in one campaign share the host and the nights, and so their
  memory of yesterday: each is judged with at least the lag-1 correlation the others measured
  (``changepoints.floors``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from alerting import changepoints
from contracts.frames import key_of
from contracts.kpis import BY_NAME
from contracts.paths import NightlyKey, NightlyStat
from contracts.states import AlertKind

Kind = AlertKind
GATING: frozenset[AlertKind] = frozenset(k for k in AlertKind if k.gating)
OVERHEAD = NightlyStat.OVERHEAD.value
OVERHEAD_PCT = NightlyStat.OVERHEAD_PCT.value
Detector = Callable[[list[float | None], changepoints.Settings], changepoints.Findings]


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    kpi: str
    limit: float
    relative: bool = False  # False: the overhead in the KPI's unit; True: overhead in % of baseline
    upper: bool = True  # True: alert above the limit; False: below
    mode: str | None = None
    rate: str | None = None
    factors: tuple[str, ...] = ()  # "<factor>_<level>" that must all be in the cell

    @property
    def stat(self) -> str:
        return OVERHEAD_PCT if self.relative else OVERHEAD

    def describe(self) -> str:
        unit = " %" if self.relative else ""
        return f"{self.kpi} overhead {'>' if self.upper else '<'} {self.limit:g}{unit}"

    def matches(self, key: NightlyKey) -> bool:
        return (
            key.kpi == self.kpi
            and (self.mode is None or key.mode == self.mode)
            and (self.rate is None or key.rate == self.rate)
            and all(f in key.factors for f in self.factors)
        )

    def breached(self, value: float) -> bool:
        return value > self.limit if self.upper else value < self.limit


@dataclass(frozen=True, slots=True)
class Settings:
    detector: changepoints.Settings = field(default_factory=changepoints.Settings)
    recent_nights: int = 14

    def __post_init__(self) -> None:
        if self.recent_nights < 1:
            raise ValueError("recent_nights must be >= 1")


@dataclass(frozen=True, slots=True)
class Item:
    """One KPI of an alert."""

    series: str
    kpi: str
    stat: str
    before: float | None
    after: float
    change_pct: float | None
    pvalue: float | None
    ci: tuple[float, float] | None  # of the newest night's overhead
    rule: str | None = None
    cell: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    kind: Kind
    platform: str
    campaign: str
    cell: str  # "mode.rate_R[.factor_level...]"; for environment: "rate_R..." or "*"
    night: str  # the first night at the new level (or of the breach)
    items: tuple[Item, ...]

    @property
    def key(self) -> str:
        """Stable identity: the same change found again is the same alert."""
        rules = sorted({i.rule for i in self.items if i.rule})
        extra = f"|{';'.join(rules)}" if rules else ""
        return f"{self.kind}|{self.platform}|{self.campaign}|{self.cell}|{self.night}{extra}"


@dataclass(frozen=True, slots=True)
class Observation:
    """A pending change or an outlier: listed, not alerted."""

    series: str
    stat: str
    night: str
    value: float
    level: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    alerts: tuple[Alert, ...]
    pending: tuple[Observation, ...]
    outliers: tuple[Observation, ...]
    series: int
    latest_night: str | None
    nights: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # per campaign


def _nights(frame: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """The nights each campaign ran: a series without a value on one of them misses it."""
    out: dict[tuple[str, str], list[str]] = {}
    for (platform, campaign), g in frame.groupby(["platform", "campaign"]):
        out[(str(platform), str(campaign))] = sorted(g["night"].unique())
    return out


def _aligned(g: pd.DataFrame, nights: list[str]) -> list[float | None]:
    by_night = dict(zip(g["night"], g["value"], strict=True))
    return [by_night.get(n) for n in nights]


def _value(
    frame_by: dict[tuple[str, str, str], float], series: str, stat: str, night: str
) -> float | None:
    v = frame_by.get((series, stat, night))
    return None if v is None or not math.isfinite(v) else v


CI_STATS = {
    OVERHEAD: (NightlyStat.CI_LOW.value, NightlyStat.CI_HIGH.value),
    OVERHEAD_PCT: (NightlyStat.CI_LOW_PCT.value, NightlyStat.CI_HIGH_PCT.value),
}


def _ci(
    lookup: dict[tuple[str, str, str], float], series: str, stat: str, night: str
) -> tuple[float, float] | None:
    """The 95 % CI ``tare analyze`` wrote for that night's overhead (absolute or in %)."""
    names = CI_STATS.get(stat)
    if names is None:
        return None
    lo, hi = (_value(lookup, series, n, night) for n in names)
    return (lo, hi) if lo is not None and hi is not None else None


def _overhead_stat(stats: set[str]) -> str | None:
    return OVERHEAD if OVERHEAD in stats else OVERHEAD_PCT if OVERHEAD_PCT in stats else None


def evaluate(
    frame: pd.DataFrame,
    rules: Sequence[ThresholdRule] = (),
    settings: Settings | None = None,
    detect: Detector = changepoints.detect,
) -> Evaluation:
    """``detect`` is tare's detector; the replay benchmark passes others through the same path."""
    s = settings or Settings()
    if frame.empty:
        return Evaluation((), (), (), 0, None)
    nights_of = _nights(frame)
    lookup = {
        (str(se), str(st), str(ni)): float(v)
        for se, st, ni, v in zip(
            frame["series"], frame["stat"], frame["night"], frame["value"], strict=True
        )
    }
    items: list[tuple[Kind, NightlyKey, str, Item]] = []
    pending: list[Observation] = []
    outliers: list[Observation] = []
    jobs: list[_Job] = []
    for series, g in frame.groupby("series", sort=True):
        first = g.iloc[0]
        key = key_of(first.to_dict())
        if key.kpi in BY_NAME and not BY_NAME[key.kpi].judged:
            continue  # a context KPI: charted, never alerted
        nights = nights_of[(key.platform, key.campaign)]
        stats = set(g["stat"])
        wanted = [(_overhead_stat(stats), False)]
        if NightlyStat.BASELINE in stats:
            wanted.append((NightlyStat.BASELINE.value, True))
        for stat, environment in wanted:
            if stat is not None:
                values = _aligned(g[g["stat"] == stat], nights)
                jobs.append(_Job(str(series), key, stat, environment, nights, values))
        items += _thresholds(str(series), key, g, nights, rules, lookup)
    floors = _floors(jobs, s.detector)
    for i, job in enumerate(jobs):
        key, series, stat, nights = job.key, job.series, job.stat, job.nights
        recent = set(nights[-s.recent_nights :])
        found = detect(job.values, replace(s.detector, rho_floor=floors[i]))
        for c in found.changes:
            night = nights[c.index]
            if night not in recent:
                continue
            kind: Kind = (
                AlertKind.ENVIRONMENT
                if job.environment
                else AlertKind.REGRESSION
                if c.after > c.before
                else AlertKind.IMPROVEMENT
            )
            ci = None if job.environment else _ci(lookup, series, stat, nights[-1])
            items.append(
                (
                    kind,
                    key,
                    night,
                    Item(
                        series,
                        key.kpi,
                        stat,
                        c.before,
                        c.after,
                        c.change_pct,
                        c.pvalue,
                        ci,
                        cell=key.cell,
                    ),
                )
            )
        if not job.environment:
            items += [_drift_item(key, series, stat, nights, d, lookup) for d in found.drifts]
        for c in found.pending:
            pending.append(Observation(series, stat, nights[c.index], c.after, c.before))
        for o in found.outliers:
            if nights[o.index] in recent:
                outliers.append(Observation(series, stat, nights[o.index], o.value, o.level))
    latest = max(max(n) for n in nights_of.values())
    return Evaluation(
        tuple(_group(items)),
        tuple(pending),
        tuple(outliers),
        len(jobs),
        latest,
        {k: tuple(v) for k, v in nights_of.items()},
    )


@dataclass(frozen=True, slots=True)
class _Job:
    """One series the detector judges: an overhead, or a baseline (``environment``)."""

    series: str
    key: NightlyKey
    stat: str
    environment: bool
    nights: list[str]
    values: list[float | None]

    @property
    def metric(self) -> tuple[str, str, str, str]:
        return (self.key.platform, self.key.campaign, self.key.kpi, self.stat)


def _floors(jobs: Sequence[_Job], detector: changepoints.Settings) -> list[float]:
    """Each series' correlation floor, pooled over the series of its metric (one KPI and stat
    of one campaign: ``changepoints.floors``)."""
    by_metric: dict[tuple[str, str, str, str], list[int]] = {}
    for i, job in enumerate(jobs):
        by_metric.setdefault(job.metric, []).append(i)
    out = [0.0] * len(jobs)
    for members in by_metric.values():
        found = changepoints.floors([jobs[i].values for i in members], detector)
        for i, floor in zip(members, found, strict=True):
            out[i] = floor
    return out


def _drift_item(
    key: NightlyKey,
    series: str,
    stat: str,
    nights: list[str],
    d: changepoints.Drift,
    lookup: dict[tuple[str, str, str], float],
) -> tuple[Kind, NightlyKey, str, Item]:
    """A drift always reaches the newest night: it is news whenever it is found (the store
    keeps it to one alert a month)."""
    ci = _ci(lookup, series, stat, nights[-1])
    item = Item(series, key.kpi, stat, d.before, d.after, d.change_pct, d.pvalue, ci, cell=key.cell)
    return (AlertKind.DRIFT, key, nights[d.index], item)


def _thresholds(
    series: str,
    key: NightlyKey,
    g: pd.DataFrame,
    nights: list[str],
    rules: Sequence[ThresholdRule],
    lookup: dict[tuple[str, str, str], float],
) -> list[tuple[Kind, NightlyKey, str, Item]]:
    out: list[tuple[Kind, NightlyKey, str, Item]] = []
    for rule in rules:
        if not rule.matches(key):
            continue
        sg = g[g["stat"] == rule.stat]
        values = _aligned(sg, nights)
        if values[-1] is None or not rule.breached(values[-1]):
            continue  # judged on the campaign's newest night only
        observed = [(n, v) for n, v in zip(nights, values, strict=True) if v is not None]
        start = len(observed) - 1
        while start > 0 and rule.breached(observed[start - 1][1]):
            start -= 1
        before = observed[start - 1][1] if start > 0 else None
        after = observed[-1][1]
        pct = (after - before) / abs(before) * 100 if before else None
        ci = _ci(lookup, series, rule.stat, nights[-1])
        item = Item(
            series, key.kpi, rule.stat, before, after, pct, None, ci, rule.describe(), key.cell
        )
        out.append((AlertKind.THRESHOLD, key, observed[start][0], item))
    return out


def _group(items: Iterable[tuple[Kind, NightlyKey, str, Item]]) -> list[Alert]:
    groups: dict[tuple[Kind, str, str, str, str], list[Item]] = {}
    for kind, key, night, item in items:
        cell = key.cell
        if kind is AlertKind.ENVIRONMENT:
            # The baseline is the same series in every contender's path: one alert per night.
            cell = "*"
        groups.setdefault((kind, key.platform, key.campaign, cell, night), []).append(item)
    alerts = []
    for (kind, platform, campaign, cell, night), group in sorted(groups.items()):
        kept = _dedupe_baseline(group) if kind is AlertKind.ENVIRONMENT else group
        alerts.append(Alert(kind, platform, campaign, cell, night, tuple(kept)))
    return alerts


def _dedupe_baseline(items: list[Item]) -> list[Item]:
    """Baseline values repeat across modes: keep one item per baseline configuration and KPI."""
    seen: dict[tuple[str, str], Item] = {}
    for it in items:
        parts = it.cell.split(".")
        base_cell = ".".join(parts[1:])  # drop the mode
        seen.setdefault(
            (base_cell, it.kpi),
            Item(
                it.series,
                it.kpi,
                it.stat,
                it.before,
                it.after,
                it.change_pct,
                it.pvalue,
                None,
                cell=f"baseline.{base_cell}",
            ),
        )
    return list(seen.values())


def gating(alerts: Iterable[Alert]) -> list[Alert]:
    return [a for a in alerts if a.kind in GATING]
