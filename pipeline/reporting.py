"""The report: the analysis, each run's series and the nightly trends, as one HTML page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from contracts.kpis import BY_NAME
from contracts.paths import NightlyStat
from pipeline import report as rp
from pipeline.campaign import Analysis, prefix_of, run_ref
from pipeline.fetch import fetch_run
from pipeline.graphite import GraphiteClient
from pipeline.nightly import series_for

RUN_KPI = "cpu_workload_core"
OVERHEAD_KPIS = ("cpu_cgroup", "cpu_workload_core", "mem_cgroup", "mem_available")
TREND_DAYS = 90


def _trend(client: GraphiteClient, a: Analysis, prefix: str) -> list[rp.TrendPoint]:
    now = int(time.time())
    points: list[rp.TrendPoint] = []
    for o in a.overheads:
        if o.kpi not in OVERHEAD_KPIS or o.absolute is None:
            continue
        stats = (NightlyStat.OVERHEAD, NightlyStat.CI_LOW, NightlyStat.CI_HIGH)
        paths = {series_for(prefix, a.campaign, o, st): st.value for st in stats}
        series = {
            paths[s.target]: dict(s.values())
            for s in client.render(list(paths), now - TREND_DAYS * 86400, now + 86400)
            if s.target in paths
        }
        cell = " ".join(str(v) if k == "mode" else f"{k}={v}" for k, v in o.cell)
        for t, v in sorted(series.get("overhead", {}).items()):
            points.append(
                rp.TrendPoint(
                    cell,
                    o.kpi,
                    t,
                    v,
                    series.get("ci_low", {}).get(t),
                    series.get("ci_high", {}).get(t),
                )
            )
    return points


def build(a: Analysis, client: GraphiteClient, root: Path) -> Path:
    """Write ``root/report.html``; returns its path."""
    done = a.done
    manifest = done[0].manifest if done else None
    prefix = prefix_of(a.runs)
    sections: list[tuple[str, str]] = []
    for kpi in OVERHEAD_KPIS:
        if any(o.kpi == kpi and o.absolute is not None for o in a.overheads):
            sections.append(
                (
                    f"{kpi}: overhead against connection rate, 95% CI",
                    rp.overhead_section(a.overheads, kpi, f"overhead-{kpi}"),
                )
            )
    trend = _trend(client, a, prefix)
    for kpi in OVERHEAD_KPIS:
        if any(p.kpi == kpi for p in trend):
            sections.append((f"{kpi}: nightly trend", rp.trend_section(trend, kpi, f"trend-{kpi}")))
    run_kpi = BY_NAME[RUN_KPI]
    for row in done:
        if row.started is None or row.ended is None or row.steady is None:
            continue
        frame = fetch_run(client, run_ref(row, whole=True), [run_kpi], required=False)
        if not len(frame):
            continue
        levels = " ".join(f"{k}={v}" for k, v in row.levels)
        plot = rp.RunPlot(row.run_id, f"{row.run_id} ({levels})", frame, row.steady)
        sections.append(
            (
                f"run {row.run_id}",
                rp.run_section(plot, f"{run_kpi.name} ({run_kpi.unit})", f"run-{row.run_id}"),
            )
        )
    c = a.campaign
    host = manifest.campaign.host if manifest else None
    intro: dict[str, Any] = {
        "campaign": c.campaign_id,
        "night": c.night,
        "platform": c.platform,
        "runs": len(a.runs),
        "valid runs": len(done),
        "not valid": len(a.invalid),
        "host": host.host if host else None,
        "kernel": host.kernel if host else None,
    }
    for r in a.invalid:
        intro[f"not used: {r.run_id}"] = f"{r.status}: {r.reason}"
    if a.target_ci:
        noisy = a.too_noisy()
        intro["adaptive"] = (
            f"{len(noisy)} judged overhead(s) too noisy tonight"
            if noisy
            else ("every judged overhead within its target CI")
        )
        for i, s in enumerate(noisy, 1):
            intro[f"too noisy tonight ({i})"] = s.describe()
    root.mkdir(parents=True, exist_ok=True)
    path = root / "report.html"
    path.write_text(rp.page(f"tare report: {c.name}", intro, sections))
    return path
