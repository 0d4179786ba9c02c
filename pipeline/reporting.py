"""The report: the analysis, its verdict, the nightly trends and each run's series, as one HTML
page (``pipeline.report`` draws it)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts.kpis import BY_NAME
from contracts.manifest import LabFacts
from contracts.paths import NightlyStat
from contracts.states import RunState
from pipeline import report as rp
from pipeline import report_text as fmt
from pipeline.analysis import (
    Overhead,
    cell_label,
    conntrack_words,
    covariate_effect,
    unlike_words,
)
from pipeline.campaign import Analysis, prefix_of, run_ref
from pipeline.fetch import fetch_run
from pipeline.graphite import GraphiteClient
from pipeline.nightly import series_for
from pipeline.tables import no_result_words

RUN_KPI = "cpu_workload_core"
TREND_DAYS = 90


def _stats(o: Overhead) -> tuple[NightlyStat, NightlyStat, NightlyStat]:
    if o.absolute is not None:
        return NightlyStat.OVERHEAD, NightlyStat.CI_LOW, NightlyStat.CI_HIGH
    return NightlyStat.OVERHEAD_PCT, NightlyStat.CI_LOW_PCT, NightlyStat.CI_HIGH_PCT


def _cell(o: Overhead) -> str:
    return cell_label(o.cell)


def _trend(client: GraphiteClient, a: Analysis, prefix: str) -> list[rp.TrendPoint]:
    """Every judged overhead's nightly series (TREND_DAYS back), read from Graphite."""
    now = int(time.time())
    points: list[rp.TrendPoint] = []
    for o in a.overheads:
        if not o.judged:
            continue
        stats = _stats(o)
        paths = {series_for(prefix, a.campaign, o, st): i for i, st in enumerate(stats)}
        series = {
            paths[s.target]: dict(s.values())
            for s in client.render(list(paths), now - TREND_DAYS * 86400, now + 86400)
            if s.target in paths
        }
        for t, v in sorted(series.get(0, {}).items()):
            lo, hi = series.get(1, {}).get(t), series.get(2, {}).get(t)
            points.append(rp.TrendPoint(_cell(o), o.kpi, t, v, lo, hi))
    return points


def _unit(a: Analysis, kpi: str) -> str:
    o = next(x for x in a.overheads if x.kpi == kpi)
    return o.unit if o.absolute is not None else "%"


def host_settings(lab: LabFacts | None) -> list[str]:
    """What each host read back of its sysctls in the night's first valid run, saying which the
    lab wrote (the campaign's [lab.sysctls], the load host's tuning) and which are the host's
    own: the settings the agent's costs were measured under."""
    if lab is None:
        return []
    mine = set(lab.set_by_lab)
    lines = [
        f"{role}:cores = {cpus} (pinned by the lab)"
        for role, cpus in (("workload", lab.workload_cpus), ("load", lab.load_cpus))
        if cpus
    ]
    for key, value in lab.sysctls:
        if key.split(":", 1)[-1].startswith(("net.", "vm.", "kernel.")):
            whose = "set by the lab" if key in mine else "the host's own"
            lines.append(f"{key} = {value} ({whose})")
    return lines


def left_out(a: Analysis) -> list[str]:
    lines = [f"{r.run_id}: {r.status}: {r.reason}" for r in a.invalid]
    reran = [
        f"{r.run_id}: {len(r.manifest.disturbed_attempts)} disturbed attempt(s) run again"
        for r in a.runs
        if r.manifest is not None and r.manifest.disturbed_attempts
    ]
    return lines + reran


def noise_floor(a: Analysis) -> list[str]:
    """Per judged KPI, the range of tonight's MDE over the cells."""
    out = []
    for kpi in dict.fromkeys(o.kpi for o in a.overheads if o.judged):
        mdes = [o.mde for o in a.overheads if o.kpi == kpi and math.isfinite(o.mde)]
        if mdes:
            unit = _unit(a, kpi)
            lo, hi = min(mdes), max(mdes)
            span = fmt.number(lo) if lo == hi else f"{fmt.number(lo)} to {fmt.number(hi)}"
            out.append(f"{kpi}: MDE {span} {unit}")
    return out + covariate_effect(a.overheads)


def _sections(a: Analysis, client: GraphiteClient) -> list[tuple[str, str]]:
    kpis = list(dict.fromkeys(o.kpi for o in a.overheads if o.judged))
    sections = [
        (
            f"{kpi}: overhead against connection rate, 95 % CI",
            rp.overhead_section(a.overheads, kpi, f"overhead-{kpi}"),
        )
        for kpi in kpis
        if any(o.kpi == kpi for o in rp.against_rate(a.overheads))
    ]
    trend = _trend(client, a, prefix_of(a.runs))
    sections += [
        (
            f"{kpi}: nightly trend",
            rp.trend_section(trend, kpi, _unit(a, kpi), f"trend-{kpi}"),
        )
        for kpi in kpis
        if any(p.kpi == kpi for p in trend)
    ]
    run_kpi = BY_NAME[RUN_KPI]
    for row in a.done:
        if row.started is None or row.ended is None or row.steady is None:
            continue
        frame = fetch_run(client, run_ref(row, whole=True), [run_kpi], required=False)
        if not len(frame):
            continue
        levels = " ".join(f"{k}={v}" for k, v in row.levels)
        plot = rp.RunPlot(row.run_id, f"{row.run_id} ({levels})", frame, row.steady)
        label = f"{run_kpi.name} ({run_kpi.unit})"
        sections.append((f"run {row.run_id}", rp.run_section(plot, label, f"run-{row.run_id}")))
    return sections


def build(a: Analysis, client: GraphiteClient, root: Path, alerts: Sequence[str] = ()) -> Path:
    """Write ``root/report.html`` (``alerts``: the night's alert lines, from ``tare alert``'s
    store); returns its path."""
    done = a.done
    manifest = done[0].manifest if done else None
    c = a.campaign
    host = manifest.campaign.host if manifest else None
    disturbed = sum(1 for r in a.runs if r.status is RunState.DISTURBED)
    facts: dict[str, Any] = {
        "night": c.night,
        "platform": c.platform,
        "campaign": c.campaign_id,
        "runs": f"{len(a.runs)} ({len(done)} valid, {len(a.invalid)} left out, "
        f"{disturbed} of them disturbed)",
        "host": f"{host.host} ({host.kernel})" if host else "-",
    }
    lists: dict[str, list[str]] = {
        "alerts": list(alerts),
        "cells with no result": no_result_words(a),
        "runs left out or run again": left_out(a),
        "noise floor tonight": noise_floor(a),
        "conntrack table full or dropping": conntrack_words(a.overheads, a.full_s),
        "requests the agent failed (CPU and memory not like-for-like)": unlike_words(a.overheads),
        "host settings (cores, sysctls read back)": host_settings(
            manifest.lab if manifest else None
        ),
    }
    if a.target_ci:
        lists["too noisy tonight"] = [s.describe() for s in a.too_noisy()]
    summary = rp.summary_section(a.overheads) + rp.facts_section(facts, lists)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "report.html"
    subtitle = f"{c.name} on {c.platform}, night {c.night}: what the agent costs the server"
    path.write_text(rp.page(f"tare report: {c.name}", subtitle, summary, _sections(a, client)))
    return path
