"""A run's load results as Graphite points: the per-second connection starts and the summary
(target, achieved, errors, latency percentiles), on the run's ``load`` series (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from contracts.manifest import LoadSummary
from contracts.paths import CapacityMetric, CapacitySeries, LoadMetric, RunSeries, Source

Point = tuple[str, float, int]


def load_points(
    prefix: str,
    run_id: str,
    host: str,
    target_rate: float,
    valid: bool,
    per_second: Mapping[int, int],
    summary: LoadSummary | None,
    at: int,
) -> list[Point]:
    """``at``: the timestamp of the summary points (the steady window's end)."""

    def path(metric: LoadMetric) -> str:
        return RunSeries.of(prefix, run_id, host, Source.LOAD, metric.value).format()

    starts = path(LoadMetric.CONN_STARTED_PER_S)
    points: list[Point] = [(starts, float(n), sec) for sec, n in sorted(per_second.items())]
    values: dict[LoadMetric, float | None] = {
        LoadMetric.TARGET_RATE: float(target_rate),
        LoadMetric.VALID: 1.0 if valid else 0.0,
    }
    if summary is not None:
        values.update(
            {
                LoadMetric.ACHIEVED_RATE: summary.achieved_rate,
                LoadMetric.ERRORS: float(summary.errors),
                LoadMetric.P50_MS: summary.p50_ms,
                LoadMetric.P90_MS: summary.p90_ms,
                LoadMetric.P99_MS: summary.p99_ms,
                LoadMetric.SERVER_ACCEPT_RATE: summary.server_accept_rate,
            }
        )
    points += [(path(k), float(v), at) for k, v in values.items() if v is not None]
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
