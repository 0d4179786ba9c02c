"""The nightly series: every overhead of a campaign on its stable path, timestamped at the
campaign's night, and the nightly history read back as one tidy frame for alerting.

Path (``contracts.paths.NightlySeries``, docs/metrics.md):
``<prefix>.nightly.<platform>.<campaign>.<mode>.rate_<rate>[.<factor>_<level>...].<kpi>.<stat>``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from contracts.frames import NIGHTLY_COLUMNS
from contracts.manifest import CampaignRecord
from contracts.nights import night_of, night_timestamp
from contracts.paths import NightlyKey, NightlySeries, NightlyStat, nightly_root
from pipeline.analysis import Overhead
from pipeline.graphite import GraphiteClient

RENDER_BATCH = 60
Point = tuple[str, float, int]


def key_for(campaign: CampaignRecord, o: Overhead) -> NightlyKey:
    return NightlyKey.of(campaign.platform, campaign.name, dict(o.cell), o.kpi)


def series_for(prefix: str, campaign: CampaignRecord, o: Overhead, stat: NightlyStat) -> str:
    return NightlySeries(prefix, key_for(campaign, o), stat.value).format()


def points(prefix: str, campaign: CampaignRecord, overheads: Iterable[Overhead]) -> list[Point]:
    """Every figure of every overhead, one point per series at the campaign's night."""
    ts = night_timestamp(campaign.night)
    out: list[Point] = []
    for o in overheads:
        values: dict[NightlyStat, float | None] = {
            NightlyStat.BASELINE: o.baseline_mean,
            NightlyStat.CONTENDER: o.contender_mean,
            NightlyStat.OVERHEAD_PCT: o.relative_pct,
            NightlyStat.PVALUE: o.pvalue,
            NightlyStat.MDE: o.mde,
        }
        if o.absolute is not None:
            values.update(
                {
                    NightlyStat.OVERHEAD: o.absolute.delta,
                    NightlyStat.CI_LOW: o.absolute.ci_low,
                    NightlyStat.CI_HIGH: o.absolute.ci_high,
                }
            )
        elif o.relative_ci is not None:
            values.update(
                {
                    NightlyStat.CI_LOW_PCT: o.relative_ci[0],
                    NightlyStat.CI_HIGH_PCT: o.relative_ci[1],
                }
            )
        key = key_for(campaign, o)
        out += [
            (NightlySeries(prefix, key, stat.value).format(), float(v), ts)
            for stat, v in values.items()
            if v is not None and math.isfinite(v)
        ]
    return out


def to_frame(prefix: str, rows: Iterable[tuple[str, int, float]]) -> pd.DataFrame:
    """(path, epoch seconds, value) -> one row per series, stat and night (NIGHTLY_COLUMNS).
    Paths that are not nightly series are ignored; nothing is filled."""
    out = []
    for path, ts, value in rows:
        parsed = NightlySeries.parse(prefix, path)
        if parsed is None:
            continue
        key = parsed.key
        out.append(
            (
                key.name,
                key.platform,
                key.campaign,
                key.mode,
                key.rate,
                ".".join(key.factors),
                key.kpi,
                parsed.stat,
                night_of(ts),
                float(value),
            )
        )
    frame = pd.DataFrame(out, columns=NIGHTLY_COLUMNS)
    # One value per series, stat and night: the latest analysis of a night wins.
    return frame.drop_duplicates(["series", "stat", "night"], keep="last").reset_index(drop=True)


def fetch(client: GraphiteClient, prefix: str, campaign: str | None, nights: int) -> pd.DataFrame:
    """Every nightly series under ``prefix`` (of one campaign, when given), ``nights`` back."""
    root = nightly_root(prefix) + "."
    paths = []
    for p in client.index():
        if not p.startswith(root):
            continue
        parsed = NightlySeries.parse(prefix, p)
        if parsed is not None and (campaign is None or parsed.key.campaign == campaign):
            paths.append(p)
    rows: list[tuple[str, int, float]] = []
    for i in range(0, len(paths), RENDER_BATCH):
        for series in client.render(paths[i : i + RENDER_BATCH], f"-{nights}d"):
            rows += [(series.target, ts, v) for ts, v in series.values()]
    return to_frame(prefix, rows)
