"""(a) Overhead trends: every judged KPI's nightly overhead per mode (a panel each, repeated over
the selected modes) and rate (a line each), its between-run CI drawn as a band around the line,
the campaign's alert thresholds drawn, runs, alerts and agent version changes as annotations."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from contracts.paths import RATE_LEVEL
from dashboards.common import Shape, Threshold, cell_root, nightly_board, series_panel
from dashboards.kpis import DRAWN, Drawn

UID = "tare-overhead-trends"


def target(shape: Shape, d: Drawn, stat: str) -> str:
    """One stat of one KPI for every selected rate, named ``rate_<R>.<stat>``."""
    return f"aliasByNode({cell_root(shape)}.{d.kpi.name}.{stat}, 5, -1)"


def _band(p: timeseries.Panel, shape: Shape, d: Drawn) -> timeseries.Panel:
    """Each rate's CI: the high bound filled down to the low one, neither in the legend."""
    _, low, high = d.stats
    hidden = model.DynamicConfigValue(
        "custom.hideFrom", {"legend": True, "tooltip": False, "viz": False}
    )
    quiet = [model.DynamicConfigValue("custom.lineWidth", 0), hidden]
    p = p.override_by_regexp(f".*\\.({low}|{high})$", quiet)
    for rate in shape.rates:
        name = f"{RATE_LEVEL}{rate}"
        p = p.override_by_name(
            f"{name}.{high}",
            [
                model.DynamicConfigValue("custom.fillBelowTo", f"{name}.{low}"),
                model.DynamicConfigValue("custom.fillOpacity", 20),
            ],
        )
    return p


def _thresholds(p: timeseries.Panel, rules: list[Threshold]) -> timeseries.Panel:
    steps = [model.Threshold(None, "transparent")]
    steps += [model.Threshold(t.limit, "red") for t in sorted(rules, key=lambda t: t.limit)]
    return p.thresholds(
        dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps)
    ).thresholds_style(
        common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
    )


def _where(t: Threshold) -> str:
    mode = t.mode or "every mode"
    rate = f"{t.rate}/s" if t.rate else "every rate"
    return f"alert above {t.limit:g} ({mode}, {rate})"


def panel(shape: Shape, d: Drawn) -> timeseries.Panel:
    over, low, high = d.stats
    targets = [("A", target(shape, d, over)), ("B", target(shape, d, low))]
    targets.append(("C", target(shape, d, high)))
    unit = "% of baseline" if d.relative else d.kpi.unit
    rules = [t for t in shape.thresholds if t.kpi == d.kpi.name and t.relative == d.relative]
    text = (
        f"Nightly overhead of {d.kpi.name} against baseline ({unit}), one line per rate, the "
        "band its 95 % between-run CI."
    )
    if rules:
        text += " Dashed: " + "; ".join(_where(t) for t in rules) + "."
    p = series_panel(f"{d.title}: $mode", d.unit, targets).description(text)
    p = _band(p, shape, d).repeat("mode").repeat_direction("h").max_per_row(3)
    return _thresholds(p, rules) if rules else p


def build(shape: Shape) -> dash.Dashboard:
    d = nightly_board(
        UID,
        "tare: overhead trends",
        "What the agent costs the server, night by night: the overhead against baseline of every "
        "judged KPI per mode and rate, with its between-run CI; alerts, agent versions and runs "
        "as annotations.",
        "now-90d",
        shape,
    )
    for drawn in DRAWN:
        d = d.with_row(dash.Row(drawn.title)).with_panel(panel(shape, drawn))
    return d
