"""(b) One night: per judged KPI, the overhead of every cell (mode x rate) on the latest night in
the time range, as bars, and a table of the overhead, its CI and the MDE per cell (what a
change has to exceed to be seen at all)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, table
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from contracts.paths import NightlyStat
from dashboards.common import Shape, cell_root, nightly_board
from dashboards.graphite import DATASOURCE, Query
from dashboards.kpis import DRAWN, Drawn

UID = "tare-one-night"
LAST = model.DataTransformerConfig(
    id_val="reduce", options={"reducers": ["lastNotNull"], "mode": "seriesToRows"}
)


def cells(shape: Shape, d: Drawn, stats: str) -> str:
    """``stats`` (one, or a ``{a,b}`` glob) of every selected cell, named ``mode.rate_R.stat``."""
    return f"aliasByNode({cell_root(shape)}.{d.kpi.name}.{stats}, 4, 5, -1)"


def bars(shape: Shape, d: Drawn) -> barchart.Panel:
    over = d.stats[0]
    unit = "% of baseline" if d.relative else d.kpi.unit
    return (
        barchart.Panel()
        .title(f"{d.title}: overhead per mode and rate")
        .description(f"The night's overhead of {d.kpi.name} ({unit}) per cell; CI in the table.")
        .datasource(DATASOURCE)
        .unit(d.unit)
        .height(8)
        .span(12)
        .with_target(Query(cells(shape, d, over), "A"))
        .with_transformation(LAST)
        .x_field("Field")
    )


def figures(shape: Shape, d: Drawn) -> table.Panel:
    over, low, high = d.stats
    stats = "{" + ",".join((over, low, high, NightlyStat.MDE.value)) + "}"
    return (
        table.Panel()
        .title(f"{d.title}: overhead, 95 % CI and MDE per cell")
        .description(
            "Per cell (mode.rate_R) and figure: the latest night's value in the time range. The "
            "MDE is the smallest overhead this night's runs could have told from zero."
        )
        .datasource(DATASOURCE)
        .unit(d.unit)
        .height(8)
        .span(12)
        .with_target(Query(cells(shape, d, stats), "A"))
        .with_transformation(LAST)
    )


def build(shape: Shape) -> dash.Dashboard:
    d = nightly_board(
        UID,
        "tare: one night",
        "One night of a campaign: the overhead of every mode at every rate with its CI, and the "
        "MDE per cell. Set the time range to the night.",
        "now-2d",
        shape,
    )
    for drawn in DRAWN:
        d = d.with_row(dash.Row(drawn.title)).with_panel(bars(shape, drawn))
        d = d.with_panel(figures(shape, drawn))
    return d
