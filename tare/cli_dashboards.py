"""Verb ``dashboards build``: the Grafana dashboards as code (``dashboards/``) into JSON files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from contracts.errors import BadInput

if TYPE_CHECKING:
    from dashboards.common import Shape

DEFAULT_OUT = Path("grafana/dashboards")


@click.group("dashboards")
def dashboards_group() -> None:
    """Grafana dashboards built in Python (grafana-foundation-sdk)."""


@dashboards_group.command("build")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Where the JSON goes (Grafana's file provider reads it).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A campaign file whose rates, factors and alert thresholds the dashboards draw "
    "[examples/nightly.toml's].",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 3 naming what differs.")
def build_cmd(out_dir: Path, config: Path | None, check: bool) -> None:
    """Write grafana/dashboards/*.json: overhead trends, one night, run drill-down, lab health."""
    from dashboards.build import GRAFANA_VERSION, stale, write
    from dashboards.common import Shape

    shape = Shape() if config is None else shape_of(config)
    if check:
        differ = stale(out_dir, shape)
        if differ:
            raise BadInput(
                f"{', '.join(differ)}: not what `tare dashboards build` writes; run it and commit"
            )
        click.echo(f"dashboards: {out_dir} is what the code builds")
        return
    for path in write(out_dir, shape):
        click.echo(f"dashboards: {path} (Grafana {GRAFANA_VERSION})")


def shape_of(config: Path) -> Shape:
    """The rates, factors (in path order) and alert thresholds of a campaign file."""
    from dashboards.common import Shape, Threshold
    from tare.config import load_campaign

    campaign = load_campaign(config)
    spec = campaign.spec
    factors = tuple(k for k in campaign.factor_levels() if k not in ("mode", "rate"))
    rules = tuple(
        Threshold(t.kpi, float(t.limit), t.relative, t.mode, t.rate) for t in spec.alerts.thresholds
    )
    return Shape(tuple(spec.load.rates), factors, rules)
