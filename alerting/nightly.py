"""The nightly series ``tare analyze`` writes, as typed keys and one tidy frame (pure).

Path (docs/metrics.md):
``<prefix>.nightly.<platform>.<campaign>.<mode>.rate_<rate>[.<factor>_<level>...].<kpi>.<stat>``,
one point per night, timestamped at the night's 00:00 UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

COLUMNS = [
    "series",
    "platform",
    "campaign",
    "mode",
    "rate",
    "factors",
    "kpi",
    "stat",
    "night",
    "value",
]


@dataclass(frozen=True, slots=True)
class SeriesKey:
    platform: str
    campaign: str
    mode: str
    rate: str
    factors: tuple[str, ...]  # "<factor>_<level>" path levels, as written
    kpi: str

    @property
    def cell(self) -> str:
        """The configuration, as the nightly path spells it (without platform and campaign)."""
        return ".".join((self.mode, f"rate_{self.rate}", *self.factors))

    @property
    def name(self) -> str:
        return ".".join((self.platform, self.campaign, self.cell, self.kpi))


def parse_path(prefix: str, path: str) -> tuple[SeriesKey, str] | None:
    """(key, stat) of a nightly path under ``prefix``; None for anything else."""
    head = f"{prefix}.nightly."
    if not path.startswith(head):
        return None
    parts = path[len(head) :].split(".")
    if len(parts) < 6 or not parts[3].startswith("rate_"):
        return None
    platform, campaign, mode, rate = parts[0], parts[1], parts[2], parts[3][len("rate_") :]
    return SeriesKey(platform, campaign, mode, rate, tuple(parts[4:-2]), parts[-2]), parts[-1]


def night_of(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")


def to_frame(prefix: str, points: Iterable[tuple[str, int, float]]) -> pd.DataFrame:
    """(path, epoch seconds, value) -> one row per series, stat and night. Paths that are not
    nightly series are ignored; nothing is filled."""
    rows = []
    for path, ts, value in points:
        parsed = parse_path(prefix, path)
        if parsed is None:
            continue
        key, stat = parsed
        rows.append(
            (
                key.name,
                key.platform,
                key.campaign,
                key.mode,
                key.rate,
                ".".join(key.factors),
                key.kpi,
                stat,
                night_of(ts),
                float(value),
            )
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    # One value per series, stat and night: the latest analysis of a night wins.
    return frame.drop_duplicates(["series", "stat", "night"], keep="last").reset_index(drop=True)


def key_of(row: pd.Series) -> SeriesKey:
    factors = tuple(str(row["factors"]).split(".")) if row["factors"] else ()
    return SeriesKey(
        str(row["platform"]),
        str(row["campaign"]),
        str(row["mode"]),
        str(row["rate"]),
        factors,
        str(row["kpi"]),
    )
