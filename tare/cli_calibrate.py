"""Verb ``calibrate``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from contracts.errors import RunInvalid, UsageError
from tare.cli_common import emit
from tare.stack.settings import resolve

if TYPE_CHECKING:
    from harness.calibration import Design
    from pipeline.calibration import Result

F = TypeVar("F", bound=Callable[..., Any])


# The noise-reduction techniques (``contracts.calibration.Techniques``), each on by default.
SWITCHES = (
    ("exact-cpu", "Wall minus idle per core and the cgroup (off: /proc/stat busy ticks)."),
    ("pinning", "Generator and workload on separate cores."),
    ("rps", "Packet processing steered to each side's cores."),
    ("short-runs", "Many short interleaved runs (off: one long run per side)."),
    ("trimming", "Leave warm-up and cool-down out."),
    ("sequential", "Stop once every CI is narrow enough (off: spend the budget)."),
    (
        "covariate",
        "Probe each run's load on the bare workload before the agent, and adjust the CPU KPIs "
        "by it (off: no probe, plain run means).",
    ),
)


def technique_switches(func: F) -> F:
    for name, help_text in reversed(SWITCHES):
        func = click.option(
            f"--{name}/--no-{name}", default=True, show_default=True, help=help_text
        )(func)
    return func


@click.command("calibrate")
@click.argument("config", required=False, type=click.Path(path_type=Path))
@click.option(
    "--cpu-percent",
    type=float,
    default=5.0,
    show_default=True,
    help="The ballast's CPU, in % of one core.",
)
@click.option(
    "--memory-mb",
    type=float,
    default=64.0,
    show_default=True,
    help="The ballast's resident memory.",
)
@click.option("--rate", type=int, help="New connections/s [CONFIG's reference rate; 5000].")
@click.option(
    "--budget-s",
    type=int,
    default=600,
    show_default=True,
    help="Seconds of load per pair (ballast/baseline, and A/A).",
)
@click.option("--run-s", type=int, help="Length of one run [CONFIG's load.duration_s; 30].")
@click.option(
    "--probe-s",
    type=click.IntRange(2, 60),
    help="Seconds of each run's probe before the agent [CONFIG's design.probe_s; 4].",
)
@click.option(
    "--cpu-margin",
    type=float,
    default=1.0,
    show_default=True,
    help="Recovered CPU must lie within injected +- max(this, 20 %), in points of one core.",
)
@click.option(
    "--mem-margin",
    type=float,
    default=2.0,
    show_default=True,
    help="Recovered memory must lie within injected +- max(this, 10 %), in MB.",
)
@click.option(
    "--max-disturbance",
    type=float,
    help="CPU that anything outside the lab may take during a run (processes and steal), in "
    "points of one core; above it the run is left out and run again [CONFIG's "
    "load.max_disturbance_pct; 5].",
)
@technique_switches
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def calibrate_cmd(
    config: Path | None,
    cpu_percent: float,
    memory_mb: float,
    rate: int | None,
    budget_s: int,
    run_s: int | None,
    probe_s: int | None,
    cpu_margin: float,
    mem_margin: float,
    max_disturbance: float | None,
    state_dir: Path | None,
    as_json: bool,
    **techniques: bool,
) -> None:
    """A/A test and a known ballast against baseline, with the estimator `tare analyze` uses:
    the noise floor, and whether the lab recovers what was injected. Given CONFIG, its runs
    have that campaign's length, warm-up and cool-down, so the A/A MDE is its precision.
    Exit 5 naming the KPI when a judged KPI is not recovered, or not measured at all."""
    from contracts.calibration import Ballast, Techniques
    from harness.calibration import Design
    from pipeline.calibration import Criteria, table, to_json
    from pipeline.precision import CPU_MARGIN, MEMORY_MARGIN, Margin
    from tare.calibrate import calibrate, write_health

    settings = resolve(state_dir=state_dir)
    try:
        ballast = Ballast(cpu_percent, memory_mb)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    tech = Techniques(**techniques)
    design = Design(ballast, rate or 5000, budget_s, run_s or 30, techniques=tech)
    if max_disturbance is not None:
        design = replace(design, max_disturbance_pct=max_disturbance)
    if probe_s is not None:
        design = replace(design, probe_s=probe_s)
    if config is not None:
        from harness.matrix import default_reference
        from tare.config import load_campaign

        campaign = load_campaign(config)
        load = campaign.spec.load
        ref = {**default_reference(campaign.factor_levels()), **campaign.spec.design.reference}
        design = replace(
            design,
            rate=rate or int(ref["rate"]),
            run_s=run_s or load.duration_s,
            warmup_s=load.warmup_s,
            cooldown_s=load.cooldown_s,
            probe_s=probe_s or campaign.spec.design.probe_s,
            # the calibration always leaves a disturbed run out: its limit stays when the
            # campaign's is off
            max_disturbance_pct=(
                max_disturbance or load.max_disturbance_pct or design.max_disturbance_pct
            ),
        )
    criteria = Criteria(
        ballast,
        tech,
        Margin(cpu_margin, CPU_MARGIN.relative),
        Margin(mem_margin, MEMORY_MARGIN.relative),
    )
    result = calibrate(design, criteria, settings, sys.stderr)
    kept = keep_noise(settings.state_dir, design, result)
    print(f"tare: {write_health(settings, result)}", file=sys.stderr)
    if kept is not None:
        print(f"tare: the noise between runs kept in {kept} (for tare plan)", file=sys.stderr)
    if as_json:
        emit(to_json(result))
    else:
        for line in table(result):
            click.echo(line)
    if result.problems:
        raise RunInvalid(result.problems[0], details=result.problems)


def keep_noise(state_dir: Path, design: Design, result: Result) -> Path | None:
    """The A/A baselines' between-run sd, for ``tare plan``'s adaptive estimate."""
    from contracts import noise
    from pipeline.calibration import noise_of

    trim = design.warmup_s + design.cooldown_s if design.techniques.trimming else 0
    record = noise_of(result, design.run_length_s, design.run_length_s - trim)
    return noise.save(state_dir, record) if record is not None else None
