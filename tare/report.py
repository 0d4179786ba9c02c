"""``tare report``: the analysis, each run's series and the nightly trends, as one HTML page."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from harness.ledger import Ledger
from pipeline import report as rp
from pipeline.fetch import RunRef, fetch_run
from pipeline.graphite import GraphiteClient
from pipeline.kpis import BY_NAME
from tare.analyze import Analysis, analyze, nightly_base, run_ref
from tare.stack.settings import StackSettings

RUN_KPI = "cpu_workload_core"
OVERHEAD_KPIS = ("cpu_cgroup", "cpu_workload_core", "mem_cgroup", "mem_available")
TREND_DAYS = 90


def _trend(client: GraphiteClient, a: Analysis, prefix: str) -> list[rp.TrendPoint]:
    now = int(time.time())
    points: list[rp.TrendPoint] = []
    for o in a.overheads:
        if o.kpi not in OVERHEAD_KPIS or o.absolute is None:
            continue
        base = nightly_base(prefix, a.campaign, o)
        series = {
            s.target.rsplit(".", 1)[1]: dict(s.values())
            for s in client.render(
                [f"{base}.overhead", f"{base}.ci_low", f"{base}.ci_high"],
                now - TREND_DAYS * 86400,
                now + 86400,
            )
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


def build(
    ledger: Ledger, campaign_id: str | None, stack: StackSettings, out: Path | None
) -> tuple[Path, Analysis]:
    a = analyze(ledger, campaign_id, stack, None)
    rows = ledger.runs(a.campaign["id"])
    done = [r for r in rows if r.status == "done" and r.steady_start is not None]
    manifest = done[0].manifest if done else {}
    graphite = manifest.get("graphite") or {}
    prefix = graphite.get("prefix", "tare")
    client = GraphiteClient(graphite.get("render_url", stack.render_url), timeout_s=30)
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
        ref = run_ref(row, prefix)
        assert row.started is not None and row.ended is not None
        whole = RunRef(
            ref.run_id, ref.host, ref.prefix, int(row.started), math.ceil(row.ended), ref.core
        )
        frame = fetch_run(client, whole, [run_kpi], required=False)
        if not len(frame):
            continue
        levels = " ".join(f"{k}={v}" for k, v in row.levels.items())
        plot = rp.RunPlot(
            row.run_id,
            f"{row.run_id} ({levels})",
            frame,
            (float(row.steady_start or 0), float(row.steady_end or 0)),
        )
        sections.append(
            (
                f"run {row.run_id}",
                rp.run_section(plot, f"{run_kpi.name} ({run_kpi.unit})", f"run-{row.run_id}"),
            )
        )
    intro: dict[str, Any] = {
        "campaign": a.campaign["id"],
        "night": a.campaign["night"],
        "platform": a.campaign["platform"],
        "runs": len(rows),
        "valid runs": len(done),
        "not valid": len(a.invalid),
        "host": (manifest.get("host") or {}).get("host"),
        "kernel": (manifest.get("host") or {}).get("kernel"),
    }
    for r in a.invalid:
        intro[f"not used: {r.run_id}"] = f"{r.status}: {r.reason}"
    root = out or Path(manifest.get("output_dir") or "var/campaigns") / a.campaign["id"]
    root.mkdir(parents=True, exist_ok=True)
    path = root / "report.html"
    path.write_text(rp.page(f"tare report: {a.campaign['name']}", intro, sections))
    return path, a
