"""One self-contained HTML page per campaign, one a team lead can forward: the night's verdict
first (per mode and rate, every judged KPI with its CI; alerts; runs left out; the noise floor),
then the overhead of every judged KPI against connection rate, its nightly trend with the CI as
a band, and every run's series with its steady window shaded. Plots are PNG (matplotlib's Agg
backend) embedded in the page, each with the numbers it shows in a table beside it; a cell's
exact value rides in ``data-value`` while the text is rounded to its uncertainty.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

from contracts.load import Profile
from contracts.manifest import BASELINE
from contracts.states import Verdict
from pipeline import report_text as fmt
from pipeline.analysis import Overhead

MODE_ORDER = (BASELINE, "idle", "visibility", "enforced")
DPI = 96


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


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: the text shown, the exact value behind it, a CSS class."""

    text: str
    value: float | int | str | None = None
    css: str = ""


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _img(b64: str, alt: str, plot_id: str) -> str:
    return (
        f'<img id="{html.escape(plot_id)}" alt="{html.escape(alt)}" '
        f'src="data:image/png;base64,{b64}">'
    )


def _td(c: Cell | str | float | int) -> str:
    if not isinstance(c, Cell):
        c = Cell(str(c), c)
    attrs = f' class="{c.css}"' if c.css else ""
    if c.value is not None and not (isinstance(c.value, float) and math.isnan(c.value)):
        attrs += f' data-value="{html.escape(str(c.value))}"'
    return f"<td{attrs}>{html.escape(c.text)}</td>"


def table(plot_id: str, header: Sequence[str], rows: Sequence[Sequence[Cell | str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_td(v) for v in row) + "</tr>" for row in rows)
    return (
        f'<table class="data" data-plot="{html.escape(plot_id)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _mode_key(mode: str) -> int:
    return MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER)


def _estimate(o: Overhead) -> tuple[float | None, float | None, float | None, str]:
    """(overhead, CI low, CI high, unit): absolute where the KPI has one, else in %."""
    if o.absolute is not None:
        return o.absolute.delta, o.absolute.ci_low, o.absolute.ci_high, o.unit
    lo, hi = o.relative_ci if o.relative_ci is not None else (None, None)
    return o.relative_pct, lo, hi, "%"


VERDICT_CSS = {
    Verdict.COST: "cost",
    Verdict.GAIN: "gain",
    Verdict.NO_CHANGE: "same",
    Verdict.NO_INFERENCE: "none",
}
VERDICT_TEXT = {
    Verdict.COST: "cost",
    Verdict.GAIN: "cheaper: check",
    Verdict.NO_CHANGE: "no change",
    Verdict.NO_INFERENCE: "no interval",
}


def _cell_name(o: Overhead) -> str:
    levels = dict(o.cell)
    others = " ".join(f"{k}={v}" for k, v in o.cell if k not in ("mode", "rate"))
    return f"{levels['mode']} {fmt.rate(levels['rate'])}" + (f" {others}" if others else "")


def summary_section(items: Sequence[Overhead]) -> str:
    """The night's verdict: a row per cell, a column per judged KPI (overhead and 95 % CI,
    coloured by verdict), and the MDE a change had to exceed."""
    judged = [o for o in items if o.judged]
    kpis = list(dict.fromkeys(o.kpi for o in judged))
    cells = sorted(
        {o.cell for o in judged},
        key=lambda c: (_mode_key(str(dict(c)["mode"])), float(dict(c)["rate"]), str(c)),
    )
    by = {(o.cell, o.kpi): o for o in judged}
    rows: list[list[Cell | str]] = []
    for cell in cells:
        first = next(o for o in judged if o.cell == cell)
        row: list[Cell | str] = [Cell(_cell_name(first), css="l")]
        for k in kpis:
            o = by.get((cell, k))
            if o is None:
                row.append(Cell("-"))
                continue
            v, lo, hi, unit = _estimate(o)
            half = (hi - lo) / 2 if lo is not None and hi is not None else None
            text = fmt.with_ci(v, lo, hi, unit)
            mde = f"; MDE {fmt.number(o.mde, half)}" if math.isfinite(o.mde) else ""
            unlike = "" if o.like_for_like else "; ≠ not like-for-like: requests failed"
            row.append(
                Cell(
                    f"{text} ({VERDICT_TEXT[o.verdict]}{mde}{unlike})",
                    v,
                    VERDICT_CSS[o.verdict],
                )
            )
        rows.append(row)
    legend = (
        '<p class="legend"><span class="cost">cost</span>: significant after '
        'Benjamini-Hochberg; <span class="gain">cheaper: check</span>: an agent that makes the '
        "server cheaper is a bug until proven otherwise; no change: not significant after "
        "Benjamini-Hochberg over the night's judged tests (its own CI may still exclude zero); "
        "the MDE is the smallest overhead these runs could tell from zero.</p>"
    )
    tables = ""
    for family, names in _families(kpis):  # a few KPIs a table: the page fits a laptop
        cols = [1 + kpis.index(k) for k in names]
        part = [[row[0], *(row[i] for i in cols)] for row in rows]
        tables += f"<h3>{family}</h3>" + table(f"summary-{family}", ["cell", *names], part)
    return tables + legend


def _families(kpis: Sequence[str]) -> list[tuple[str, list[str]]]:
    """The judged KPIs by family (CPU, memory, network and load), in their order."""
    groups: dict[str, list[str]] = {"cpu": [], "memory": [], "network and load": []}
    for k in kpis:
        if k.startswith(("cpu_", "softirq")):
            groups["cpu"].append(k)
        elif k.startswith("mem_"):
            groups["memory"].append(k)
        else:
            groups["network and load"].append(k)
    return [(name, names) for name, names in groups.items() if names]


def facts_section(facts: Mapping[str, Any], lists: Mapping[str, Sequence[str]]) -> str:
    dl = "".join(
        f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts.items()
    )
    out = f'<dl class="facts">{dl}</dl>'
    for title, lines in lists.items():
        items = "".join(f"<li>{html.escape(x)}</li>" for x in lines) or "<li>none</li>"
        out += f"<h3>{html.escape(title)}</h3><ul>{items}</ul>"
    return out


def against_rate(items: Sequence[Overhead]) -> list[Overhead]:
    """The overheads a plot against connection rate shows: the connections profile's."""
    return [o for o in items if Profile.of(dict(o.cell)) is Profile.CONNECTIONS]


def overhead_section(items: Sequence[Overhead], kpi: str, plot_id: str) -> str:
    """Overhead against connection rate per mode, CI as error bars, rates on a linear axis
    ticked at the campaign's rates (the connections profile's cells: the other profiles'
    are in the summary)."""
    chosen = [o for o in against_rate(items) if o.kpi == kpi and _estimate(o)[0] is not None]
    fig, ax = plt.subplots(figsize=(7, 3))
    rows: list[list[Cell | str]] = []
    modes = sorted({str(dict(o.cell)["mode"]) for o in chosen}, key=_mode_key)
    rates = sorted({float(dict(o.cell)["rate"]) for o in chosen})
    span = (max(rates) - min(rates)) if len(rates) > 1 else max(rates, default=1.0)
    unit = _estimate(chosen[0])[3] if chosen else ""
    for i, mode in enumerate(modes):
        pts = sorted(
            (o for o in chosen if dict(o.cell)["mode"] == mode),
            key=lambda o: float(dict(o.cell)["rate"]),
        )
        est = [_estimate(o) for o in pts]
        xs = [float(dict(o.cell)["rate"]) + span * 0.015 * (i - 1) for o in pts]
        ys = [e[0] if e[0] is not None else math.nan for e in est]
        lo = [(e[0] - e[1]) if e[1] is not None and e[0] is not None else 0.0 for e in est]
        hi = [(e[2] - e[0]) if e[2] is not None and e[0] is not None else 0.0 for e in est]
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=mode)
        for o, (v, low, high, _) in zip(pts, est, strict=True):
            half = (high - low) / 2 if low is not None and high is not None else None
            rows.append(
                [
                    Cell(mode, css="l"),
                    Cell(fmt.rate(dict(o.cell)["rate"]), dict(o.cell)["rate"]),
                    Cell(fmt.number(v, half, signed=True), v),
                    Cell(fmt.number(low, half, signed=True), low),
                    Cell(fmt.number(high, half, signed=True), high),
                    Cell(fmt.pvalue(o.pvalue), o.pvalue),
                    Cell(fmt.number(o.mde, half), o.mde),
                ]
            )
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(rates, [fmt.rate(r) for r in rates])
    if rates:
        pad = span * 0.1
        ax.set_xlim(min(rates) - pad, max(rates) + pad)
    ax.set_xlabel("new connections per second")
    ax.set_ylabel(f"{kpi} overhead ({unit})")
    if modes:
        ax.legend(fontsize=8)
    header = ["mode", "rate", f"overhead ({unit})", "CI low", "CI high", "p", "MDE"]
    return _img(_png(fig), f"{kpi} overhead against rate per mode", plot_id) + table(
        plot_id, header, rows
    )


def trend_section(points: Sequence[TrendPoint], kpi: str, unit: str, plot_id: str) -> str:
    """The nightly overhead per cell, its CI as a band, on a date axis that fits the nights."""
    chosen = [p for p in points if p.kpi == kpi]
    fig, ax = plt.subplots(figsize=(7, 3))
    rows: list[list[Cell | str]] = []
    for cell in sorted({p.cell for p in chosen}):
        pts = sorted((p for p in chosen if p.cell == cell), key=lambda p: p.time)
        days = pd.to_datetime([p.time for p in pts], unit="s")
        (line,) = ax.plot(days, [p.overhead for p in pts], marker="o", label=cell)
        lows, highs = [p.ci_low for p in pts], [p.ci_high for p in pts]
        if all(v is not None for v in lows + highs):
            if len(pts) > 1:
                ax.fill_between(days, lows, highs, alpha=0.15, color=line.get_color())  # type: ignore[arg-type]
            else:  # one night: the band is its interval
                ax.vlines(days, lows, highs, color=line.get_color(), alpha=0.4, lw=6)  # type: ignore[arg-type]
        for p in pts:
            half = (p.ci_high - p.ci_low) / 2 if p.ci_low is not None and p.ci_high else None
            rows.append(
                [
                    Cell(cell, css="l"),
                    Cell(fmt.night(p.time), p.time),
                    Cell(fmt.number(p.overhead, half, signed=True), p.overhead),
                    Cell(fmt.number(p.ci_low, half, signed=True), p.ci_low),
                    Cell(fmt.number(p.ci_high, half, signed=True), p.ci_high),
                ]
            )
    times = sorted({p.time for p in chosen})
    if times:
        first, last = pd.to_datetime(times[0], unit="s"), pd.to_datetime(times[-1], unit="s")
        pad = max((last - first) * 0.05, pd.Timedelta(days=1))
        ax.set_xlim(first - pad, last + pad)  # type: ignore[arg-type]
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=2, maxticks=8))  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
        ax.legend(fontsize=7)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel(f"{kpi} overhead ({unit})")
    ax.set_xlabel("night")
    fig.autofmt_xdate()
    header = ["cell", "night", f"overhead ({unit})", "CI low", "CI high"]
    return _img(_png(fig), f"nightly trend of {kpi} overhead", plot_id) + table(
        plot_id, header, rows
    )


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
    mean = float(steady.mean()) if len(steady) else float("nan")
    rows: list[list[Cell | str]] = [
        [Cell(plot.run_id, css="l"), Cell(str(len(f)), len(f)), Cell(fmt.number(mean), mean)]
    ]
    return _img(_png(fig), f"{plot.title}: {kpi_label}", plot_id) + table(
        plot_id, ["run", "points", "steady mean"], rows
    )


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d1d1f;
max-width:1080px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;padding-bottom:3px;
border-bottom:1px solid #ddd}h3{font-size:14px;margin:14px 0 4px}
p.sub{color:#555;margin:0 0 12px}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0}
dl.facts dt{color:#555}dl.facts dd{margin:0}
table.data{border-collapse:collapse;font-size:12.5px;margin:6px 0 16px;
font-variant-numeric:tabular-nums}
table.data th,table.data td{border:1px solid #ddd;padding:3px 8px;text-align:right}
table.data th{background:#f5f5f7;font-weight:600}table.data td.l{text-align:left}
.cost{background:#fde4e1}.gain{background:#fff4cc}.none{color:#777}
img{max-width:100%;height:auto;display:block;margin:6px 0}
ul{margin:4px 0 8px;padding-left:20px}p.legend{font-size:12px;color:#555}
@media print{body{max-width:none;margin:0;font-size:11px}h2{break-after:avoid}
img,table{break-inside:avoid}a{color:inherit}}
"""


def page(
    title: str,
    subtitle: str,
    summary: str,
    sections: Sequence[tuple[str, str]],
) -> str:
    body = "".join(f"<h2>{html.escape(h)}</h2>{content}" for h, content in sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body><h1>{html.escape(title)}</h1><p class="sub">{html.escape(subtitle)}</p>
<h2>Summary</h2>{summary}{body}</body></html>
"""
