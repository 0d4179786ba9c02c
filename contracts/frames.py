"""The tidy frame of nightly series the pipeline hands to alerting: its columns, and the key of
a row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.paths import NightlyKey

NIGHTLY_COLUMNS = [
    "series",  # NightlyKey.name
    "platform",
    "campaign",
    "mode",
    "rate",
    "factors",  # the "<factor>_<level>" path levels joined by "."; "" when none
    "kpi",
    "stat",  # a NightlyStat value
    "night",  # YYYY-MM-DD
    "value",
]


def key_of(row: Mapping[Any, Any]) -> NightlyKey:
    factors = tuple(str(row["factors"]).split(".")) if row["factors"] else ()
    return NightlyKey(
        str(row["platform"]),
        str(row["campaign"]),
        str(row["mode"]),
        str(row["rate"]),
        factors,
        str(row["kpi"]),
    )
