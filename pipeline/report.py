"""One self-contained HTML page per campaign: plots embedded as PNG, with the numbers each plot
shows in a table beside it (so the page can be checked, and read without the pictures).

Plots: every run's KPI series with its steady window shaded; overhead against connection rate
per mode with CI bars; the nightly trend of each overhead. Rendering is matplotlib's Agg
backend, no display needed.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from contracts.manifest import BASELINE
from pipeline.analysis import Overhead

MODE_ORDER = (BASELINE, "idle", "visibility", "enforced")


@dataclass(frozen=True, slots=True)
class RunPlot:
    run_id: str
    title: str
    frame: pd.DataFrame  # time, value for one KPI over the whole run
    steady: tuple[float, float]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    cell: str
    kpi: str
    time: int
    overhead: float
    ci_low: float | None
    ci_high: float | None


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _img(b64: str, alt: str, plot_id: str) -> str:
    return (
        f'<img id="{html.escape(plot_id)}" alt="{html.escape(alt)}" '
        f'src="data:image/png;base64,{b64}">'
    )


def _table(plot_id: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f'<table class="data" data-plot="{html.escape(plot_id)}"><tr>{head}</tr>{body}</table>'


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def run_section(plot: RunPlot, kpi_label: str, plot_id: str) -> str:
    fig, ax = plt.subplots(figsize=(7, 2.2))
    f = plot.frame.dropna(subset=["value"])
    ax.plot(f["time"] - plot.steady[0], f["value"], lw=1)
    ax.axvspan(
        0, plot.steady[1] - plot.steady[0], color="tab:green", alpha=0.15, label="steady window"
    )
    ax.set_xlabel("seconds from the steady window's start")
    ax.set_ylabel(kpi_label)
    ax.set_title(plot.title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    steady = f[(f["time"] >= plot.steady[0]) & (f["time"] < plot.steady[1])]["value"]
    rows = [[plot.run_id, len(f), float(steady.mean()) if len(steady) else float("nan")]]
    return _img(_png(fig), f"{plot.title}: {kpi_label}", plot_id) + _table(
        plot_id, ["run", "points", "steady mean"], rows
    )


def overhead_section(items: Sequence[Overhead], kpi: str, plot_id: str) -> str:
    chosen = [o for o in items if o.kpi == kpi and o.absolute is not None]
    fig, ax = plt.subplots(figsize=(7, 3))
    rows = []
    modes = sorted(
        {str(dict(o.cell)["mode"]) for o in chosen},
        key=lambda m: MODE_ORDER.index(m) if m in MODE_ORDER else 99,
    )
    for i, mode in enumerate(modes):
        pts = sorted(
            (o for o in chosen if dict(o.cell)["mode"] == mode),
            key=lambda o: float(dict(o.cell)["rate"]),
        )
        xs = [float(dict(o.cell)["rate"]) * (1 + 0.02 * (i - 1)) for o in pts]
        ys = [o.absolute.delta for o in pts if o.absolute]
        lo = [o.absolute.delta - o.absolute.ci_low for o in pts if o.absolute]
        hi = [o.absolute.ci_high - o.absolute.delta for o in pts if o.absolute]
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=mode)
        for o in pts:
            assert o.absolute is not None
            rows.append(
                [
                    mode,
                    dict(o.cell)["rate"],
                    o.absolute.delta,
                    o.absolute.ci_low,
                    o.absolute.ci_high,
                    o.pvalue,
                ]
            )
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("new connections per second")
    ax.set_ylabel(f"{kpi} overhead ({chosen[0].unit if chosen else ''})")
    ax.legend(fontsize=8)
    return _img(_png(fig), f"{kpi} overhead against rate per mode", plot_id) + _table(
        plot_id, ["mode", "rate", "overhead", "ci low", "ci high", "p"], rows
    )


def trend_section(points: Sequence[TrendPoint], kpi: str, plot_id: str) -> str:
    chosen = [p for p in points if p.kpi == kpi]
    fig, ax = plt.subplots(figsize=(7, 3))
    rows = []
    for cell in sorted({p.cell for p in chosen}):
        pts = sorted((p for p in chosen if p.cell == cell), key=lambda p: p.time)
        days = pd.to_datetime([p.time for p in pts], unit="s")
        ax.plot(days, [p.overhead for p in pts], marker="o", label=cell)
        lows = [p.ci_low for p in pts]
        highs = [p.ci_high for p in pts]
        if all(v is not None for v in lows + highs):
            ax.fill_between(days, lows, highs, alpha=0.15)  # type: ignore[arg-type]
        rows += [[cell, p.time, p.overhead, p.ci_low, p.ci_high] for p in pts]
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel(f"{kpi} overhead")
    ax.set_xlabel("night")
    if chosen:
        ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return _img(_png(fig), f"nightly trend of {kpi} overhead", plot_id) + _table(
        plot_id, ["cell", "night", "overhead", "ci low", "ci high"], rows
    )


def page(title: str, intro: Mapping[str, Any], sections: Sequence[tuple[str, str]]) -> str:
    facts = "".join(
        f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in intro.items()
    )
    body = "".join(f"<h2>{html.escape(h)}</h2>{content}" for h, content in sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:auto}}
table.data{{border-collapse:collapse;font-size:12px;margin:4px 0 18px}}
table.data td,table.data th{{border:1px solid #ccc;padding:2px 6px}}</style></head>
<body><h1>{html.escape(title)}</h1><dl>{facts}</dl>{body}</body></html>
"""
