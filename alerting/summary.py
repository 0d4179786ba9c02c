"""Alert results for people and machines: the JSON of an alert, the lines `tare alert` and
`tare changepoints` print (pure)."""

from __future__ import annotations

import dataclasses
from typing import Any

from alerting.messages import describe_cell, item_line


def alert_json(aid: str, a: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": aid,
        "kind": a.kind,
        "platform": a.platform,
        "campaign": a.campaign,
        "cell": a.cell,
        "night": a.night,
        "items": [dataclasses.asdict(i) for i in a.items],
        **extra,
    }


def outcome_lines(outcome: Any, dry_run: bool) -> list[str]:
    ev = outcome.evaluation
    if ev.latest_night is None:
        return ["alert: no nightly series found (run `tare analyze` after a campaign)"]
    verb = "would alert" if dry_run else "new"
    lines = [
        f"alert: {ev.series} series checked through night {ev.latest_night}: "
        f"{len(outcome.new)} {verb}, {len(outcome.known)} already known, "
        f"{len(ev.pending)} pending, {len(ev.outliers)} outlier night(s)"
    ]
    for aid, a in outcome.new:
        lines.append(f"  {aid}  {a.kind:<11} {describe_cell(a)}, night {a.night}")
        lines += [f"      {item_line(item)}" for item in a.items]
    for o in ev.pending:
        lines.append(
            f"  pending      {o.series}.{o.stat}: {o.value:.3g} on {o.night} vs {o.level:.3g}"
        )
    if outcome.delivery is not None and outcome.delivery.sent:
        lines.append(f"alert: {outcome.delivery.sent} message(s) delivered")
    return lines


def changepoint_lines(out: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for s in out:
        noise = s["noise"]
        lines.append(
            f"{s['name']}: {len(s['change_points'])} change point(s), "
            f"{len(s['outliers'])} outlier(s), {len(s['pending'])} pending, "
            f"{len(s['drifts'])} drift(s); noise sd {noise['sd']:.3g}, lag-1 {noise['lag1']:.2f}"
        )
        for c in s["change_points"]:
            pct = "" if c["change_pct"] is None else f" ({c['change_pct']:+.1f} %)"
            lines.append(
                f"  change   row {c['index']:>4}  {c['time']}  {c['before']:.4g} -> "
                f"{c['after']:.4g}{pct}  p={c['pvalue']:.2g}"
            )
        for c in s["pending"]:
            lines.append(
                f"  pending  row {c['index']:>4}  {c['time']}  {c['before']:.4g} -> "
                f"{c['after']:.4g} ({c['nights_after']} night(s), not yet confirmed)"
            )
        for d in s["drifts"]:
            pct = "" if d["change_pct"] is None else f" ({d['change_pct']:+.1f} %)"
            lines.append(
                f"  drift    row {d['index']:>4}  {d['time']}  {d['before']:.4g} -> "
                f"{d['after']:.4g}{pct} over {d['nights']} night(s), a creep, no step"
            )
        for o in s["outliers"]:
            lines.append(f"  outlier  row {o['index']:>4}  {o['time']}  {o['value']:.4g}")
    return lines


def series_json(name: str, times: tuple[str, ...], found: Any) -> dict[str, Any]:
    def change(c: Any) -> dict[str, Any]:
        return {
            "index": c.index,
            "time": times[c.index],
            "before": c.before,
            "after": c.after,
            "change_pct": c.change_pct,
            "pvalue": c.pvalue,
            "nights_after": c.nights_after,
        }

    return {
        "name": name,
        "change_points": [change(c) for c in found.changes],
        "outliers": [
            {"index": o.index, "time": times[o.index], "value": o.value} for o in found.outliers
        ],
        "pending": [change(c) for c in found.pending],
        "drifts": [
            {
                "index": d.index,
                "time": times[d.index],
                "before": d.before,
                "after": d.after,
                "change_pct": d.change_pct,
                "pvalue": d.pvalue,
                "nights": d.nights,
            }
            for d in found.drifts
        ],
        "missing": len(found.missing),
        "noise": {"sd": found.noise, "lag1": found.rho},
    }
