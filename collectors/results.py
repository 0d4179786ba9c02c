"""A run's load results as Graphite points: the per-second load in the profile's unit
(connections or requests started, Mbit/s received) and the summary (target, achieved, errors,
latency percentiles, the server's own count, retransmits), on the run's ``load`` series
(pure)."""

from __future__ import annotations

from collections.abc import Mapping

from contracts.load import Profile
from contracts.manifest import LoadSummary
from contracts.paths import CapacityMetric, CapacitySeries, LoadMetric, RunSeries, Source

Point = tuple[str, float, int]


def load_points(
    prefix: str,
    run_id: str,
    host: str,
    target_rate: float,
    valid: bool,
    per_second: Mapping[int, float],
    summary: LoadSummary | None,
    at: int,
    inside: int | None = None,
) -> list[Point]:
    """``at``: the timestamp of the summary points (the steady window's end). The run's KPIs
    of one point per run (its error rate and its steady window's latency percentiles) go at
    ``inside``, a second inside the steady window the analysis reads."""

    def path(metric: LoadMetric) -> str:
        return RunSeries.of(prefix, run_id, host, Source.LOAD, metric.value).format()

    profile = Profile(summary.profile) if summary is not None else Profile.CONNECTIONS
    each = {
        Profile.CONNECTIONS: LoadMetric.CONN_STARTED_PER_S,
        Profile.REQUESTS: LoadMetric.REQ_STARTED_PER_S,
        Profile.THROUGHPUT: LoadMetric.MBIT_PER_S,
    }[profile]
    starts = path(each)
    points: list[Point] = [(starts, float(n), sec) for sec, n in sorted(per_second.items())]
    values: dict[LoadMetric, float | None] = {
        LoadMetric.TARGET_RATE: float(target_rate),
        LoadMetric.VALID: 1.0 if valid else 0.0,
    }
    per_run: dict[LoadMetric, float | None] = {}
    if summary is not None:
        values.update(
            {
                LoadMetric.ACHIEVED_RATE: summary.achieved_rate,
                LoadMetric.ERRORS: float(summary.errors),
                LoadMetric.SERVER_ACCEPT_RATE: summary.server_accept_rate,
                LoadMetric.SERVER_RATE: summary.server_rate,
                LoadMetric.RETRANSMITS: (
                    float(summary.retransmits) if summary.retransmits is not None else None
                ),
            }
        )
        per_run = {
            LoadMetric.ERROR_PCT: summary.error_pct,
            LoadMetric.P50_MS: summary.p50_ms,
            LoadMetric.P90_MS: summary.p90_ms,
            LoadMetric.P99_MS: summary.p99_ms,
        }
    points += [(path(k), float(v), at) for k, v in values.items() if v is not None]
    if inside is not None:
        points += [(path(k), float(v), inside) for k, v in per_run.items() if v is not None]
    return points


def capacity_points(
    prefix: str,
    campaign: str,
    host: str,
    mode: str,
    values: Mapping[CapacityMetric, float],
    at: int,
) -> list[Point]:
    return [
        (CapacitySeries.of(prefix, campaign, host, mode, k.value).format(), float(v), at)
        for k, v in values.items()
    ]
