"""What every tare dashboard shares: the campaign's shape it is built for, template variables on
the Graphite path scheme (``contracts.paths``), annotations on tare's Graphite events, and the
panels' look. Paths are built from the scheme's own constants, so a change of the scheme changes
the dashboards (and the committed JSON test notices)."""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from contracts.events import AGENT_TAG, ALERT_TAG, RUN_TAG, TARE_TAG
from contracts.paths import DEFAULT_PREFIX, NIGHTLY, RATE_LEVEL, RUNS
from dashboards.graphite import DATASOURCE, Events, Query

SCHEMA_TAGS = ["tare"]
NIGHTLY_ROOT = f"$prefix.{NIGHTLY}.$platform.$campaign"
RUN_ROOT = f"$prefix.{RUNS}.$run_id.$host"


@dataclass(frozen=True, slots=True)
class Threshold:
    kpi: str
    limit: float
    relative: bool
    mode: str | None
    rate: int | None


@dataclass(frozen=True, slots=True)
class Shape:
    """What the dashboards need of a campaign: its rates (one CI band each), its factors (one
    template variable each, in the campaign's path order) and its alert thresholds. The default
    is ``examples/nightly.toml``'s (a test holds them equal)."""

    rates: tuple[int, ...] = (1000, 5000, 10000, 15000)
    factors: tuple[str, ...] = ("profile", "policy_size", "policy_updates_per_min")
    thresholds: tuple[Threshold, ...] = (Threshold("cpu_cgroup", 3.0, False, "enforced", 10000),)


def factor_path(shape: Shape) -> str:
    """The factor levels of a nightly path, as template variables."""
    return "".join(f".{f}_${f}" for f in shape.factors)


def cell_root(shape: Shape, mode: str = "$mode", rate: str = "$rate") -> str:
    return f"{NIGHTLY_ROOT}.{mode}.{RATE_LEVEL}{rate}{factor_path(shape)}"


def _query_var(
    name: str, query: str, label: str, *, multi: bool = False, regex: str | None = None
) -> dash.QueryVariable:
    v = (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.NATURAL_ASC)
    )
    if multi:
        v = v.multi(True).include_all(True)
    return v.regex(regex) if regex else v


def prefix_var() -> dash.ConstantVariable:
    return dash.ConstantVariable("prefix").value(DEFAULT_PREFIX)


Variables = list[cogbuilder.Builder[model.VariableModel]]


def nightly_vars(shape: Shape, *, multi_cells: bool = True) -> Variables:
    """platform, campaign, mode, rate and one per factor, each a Graphite find on the level
    before it: the values are whatever the nightly series hold."""
    out: Variables = [
        prefix_var(),
        _query_var("platform", f"$prefix.{NIGHTLY}.*", "platform"),
        _query_var("campaign", f"$prefix.{NIGHTLY}.$platform.*", "campaign"),
        _query_var("mode", f"{NIGHTLY_ROOT}.*", "mode", multi=multi_cells),
        _query_var(
            "rate",
            f"{NIGHTLY_ROOT}.$mode.*",
            "new connections/s",
            multi=multi_cells,
            regex=f"/^{RATE_LEVEL}(.*)$/",
        ),
    ]
    path = f"{NIGHTLY_ROOT}.$mode.{RATE_LEVEL}$rate"
    for f in shape.factors:
        out.append(_query_var(f, f"{path}.*", f, regex=f"/^{f}_(.*)$/"))
        path += f".{f}_${f}"
    return out


def event_annotations(
    *, campaign_var: bool = True
) -> list[cogbuilder.Builder[model.AnnotationQuery]]:
    """tare's Graphite events: every run, every new alert or alert state change, every agent
    version change (``contracts.events``)."""
    scope = ["$campaign"] if campaign_var else []

    def query(name: str, color: str, tags: list[str], enable: bool) -> dash.AnnotationQuery:
        return (
            dash.AnnotationQuery()
            .name(name)
            .datasource(DATASOURCE)
            .enable(enable)
            .icon_color(color)
            .target(Events([TARE_TAG, *tags, *scope]))
        )

    return [
        query("alerts", "red", [ALERT_TAG], True),
        query("agent versions", "purple", [AGENT_TAG], True),
        query("runs", "#8AB8FF", [RUN_TAG], False),
    ]


def base(uid: str, title: str, description: str, time_from: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(SCHEMA_TAGS)
        .readonly()
        .timezone("utc")
        .time(time_from, "now")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
    )


def series_panel(title: str, unit: str, targets: list[tuple[str, str]]) -> timeseries.Panel:
    """A time series panel of Graphite targets ((refId, expression)); nulls not joined, points
    shown (a nightly series has one point a night)."""
    p = (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(8)
        .span(12)
        .line_width(2)
        .show_points(common.VisibilityMode.AUTO)
        .span_nulls(False)
        .legend(
            dash_legend()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
    )
    for ref, expr in targets:
        p = p.with_target(Query(expr, ref))
    return p


def dash_legend() -> common_builders.VizLegendOptions:
    return common_builders.VizLegendOptions().show_legend(True)


def nightly_board(
    uid: str, title: str, description: str, time_from: str, shape: Shape
) -> dash.Dashboard:
    """A dashboard over the nightly series: its variables and tare's event annotations."""
    d = base(uid, title, description, time_from)
    for v in nightly_vars(shape):
        d = d.with_variable(v)
    for a in event_annotations():
        d = d.annotation(a)
    return d
