"""(d) Lab health: can the lab be trusted tonight? The A/A noise floor (MDE) and between-run sd
of every judged KPI from each ``tare calibrate``, the ballast's recovery error, and per campaign
night the runs left out (invalid, disturbed, failed, re-run) and the achieved/target load."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from contracts.paths import CALIBRATION, HEALTH, LAB, NIGHTLY, CalibrationStat, HealthMetric
from dashboards.common import base, event_annotations, prefix_var, series_panel
from dashboards.graphite import DATASOURCE

UID = "tare-lab-health"
CALIB = f"$prefix.{LAB}.{CALIBRATION}.*.*.$kpi"  # host, rate_R, kpi
NIGHT = f"$prefix.{LAB}.{HEALTH}.$platform.$campaign"
LEFT_OUT = (
    HealthMetric.INVALID,
    HealthMetric.DISTURBED,
    HealthMetric.FAILED,
    HealthMetric.SKIPPED,
    HealthMetric.RERUN,
)


def _glob(*names: str) -> str:
    return "{" + ",".join(names) + "}"


def build() -> dash.Dashboard:
    d = base(
        UID,
        "tare: lab health",
        "Is the lab fit to measure? The noise floor from tare calibrate over time, and per night "
        "the runs left out and how close the load came to its target.",
        "now-90d",
    )
    d = d.with_variable(prefix_var())
    for name, query in (
        ("platform", f"$prefix.{NIGHTLY}.*"),
        ("campaign", f"$prefix.{NIGHTLY}.$platform.*"),
        ("kpi", f"$prefix.{LAB}.{CALIBRATION}.*.*.*"),
    ):
        v = dash.QueryVariable(name).label(name).datasource(DATASOURCE).query(query)
        d = d.with_variable(v.multi(True).include_all(True) if name == "kpi" else v)
    for a in event_annotations():
        d = d.annotation(a)
    calib = (
        (CalibrationStat.AA_MDE, "A/A noise floor: MDE per KPI and rate (the KPI's unit)"),
        (CalibrationStat.SD_BETWEEN, "between-run sd of the baseline runs (the KPI's unit)"),
        (CalibrationStat.BALLAST_ERROR, "ballast recovered minus injected (the KPI's unit)"),
    )
    d = d.with_row(dash.Row("calibration (tare calibrate)"))
    for stat, title in calib:
        d = d.with_panel(series_panel(title, "none", [("A", f"aliasByNode({CALIB}.{stat}, 4, 5)")]))
    d = d.with_row(dash.Row("nights"))
    d = d.with_panel(
        series_panel(
            "runs per night: all, and those left out",
            "none",
            [
                ("A", f"aliasByNode({NIGHT}.{HealthMetric.RUNS}, -1)"),
                ("B", f"aliasByNode({NIGHT}.{_glob(*LEFT_OUT)}, -1)"),
            ],
        )
    )
    ratio = _glob(HealthMetric.ACHIEVED_MIN, HealthMetric.ACHIEVED_MEAN)
    d = d.with_panel(
        series_panel(
            "achieved / target connection rate (a run below 0.98 is invalid)",
            "percentunit",
            [("A", f"aliasByNode({NIGHT}.{ratio}, -1)")],
        )
    )
    return d
