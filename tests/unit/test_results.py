"""A run's load results as Graphite points (collectors.results): the per-run KPIs (errors,
latency percentiles) at a second inside the steady window the analysis reads, the summary at its
end."""

from __future__ import annotations

from collectors.results import load_points
from contracts.kpis import BY_NAME
from contracts.manifest import LoadSummary


def summary() -> LoadSummary:
    return LoadSummary(
        "h2load", 1000.0, 999.5, 3, 0.61, 0.9, 2.4, 1000.0, "connections", 999.0, 4, 0.03
    )


def test_per_run_kpis_sit_inside_the_steady_window_and_the_summary_at_its_end() -> None:
    points = load_points("tare", "r1", "h", 1000, True, {100: 1000.0}, summary(), 110, 105)
    at = {path.rsplit(".", 1)[1]: (value, ts) for path, value, ts in points}
    assert at["conn_started_per_s"] == (1000.0, 100)
    assert at["error_pct"] == (0.03, 105)
    assert at["p50_ms"] == (0.61, 105) and at["p90_ms"] == (0.9, 105) and at["p99_ms"] == (2.4, 105)
    assert at["achieved_rate"] == (999.5, 110) and at["valid"] == (1.0, 110)
    # the latency KPIs read exactly these series
    assert BY_NAME["latency_p50_ms"].metric == "p50_ms"
    assert BY_NAME["latency_p99_ms"].metric == "p99_ms"
    assert BY_NAME["latency_p99_ms"].judged and not BY_NAME["latency_p99_ms"].lower_is_cost


def test_a_run_without_a_steady_window_writes_no_per_run_kpi() -> None:
    points = load_points("tare", "r1", "h", 1000, False, {}, summary(), 110, None)
    names = {path.rsplit(".", 1)[1] for path, _, _ in points}
    assert "valid" in names
    assert not names & {"error_pct", "p50_ms", "p90_ms", "p99_ms"}
