"""Verb ``calibrate``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from contracts.errors import RunInvalid, UsageError
from tare.cli_common import emit
from tare.stack.settings import resolve

F = TypeVar("F", bound=Callable[..., Any])


# The noise-reduction techniques (``contracts.calibration.Techniques``), each on by default.
SWITCHES = (
    ("exact-cpu", "Wall minus idle per core and the cgroup (off: /proc/stat busy ticks)."),
    ("pinning", "Generator and workload on separate cores."),
    ("rps", "Packet processing steered to each side's cores."),
    ("short-runs", "Many short interleaved runs (off: one long run per side)."),
    ("trimming", "Leave warm-up and cool-down out."),
    ("covariate", "Adjust with the load core's busy time (when it is balanced)."),
    ("sequential", "Stop once every CI is narrow enough (off: spend the budget)."),
)


def technique_switches(func: F) -> F:
    for name, help_text in reversed(SWITCHES):
        func = click.option(
            f"--{name}/--no-{name}", default=True, show_default=True, help=help_text
        )(func)
    return func


@click.command("calibrate")
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
    help="The ballast's anonymous resident memory.",
)
@click.option("--rate", type=int, default=5000, show_default=True, help="New connections/s.")
@click.option(
    "--budget-s",
    type=int,
    default=600,
    show_default=True,
    help="Seconds of load per pair (ballast/baseline, and A/A).",
)
@click.option("--run-s", type=int, default=30, show_default=True, help="Length of one run.")
@click.option(
    "--max-cpu-ci",
    type=float,
    default=2.0,
    show_default=True,
    help="Widest acceptable CPU CI, +- points of one core.",
)
@click.option(
    "--max-mem-ci",
    type=float,
    default=5.0,
    show_default=True,
    help="Widest acceptable memory CI, +- MB.",
)
@click.option(
    "--mem-resolution",
    type=float,
    default=1.0,
    show_default=True,
    help="MB the cgroup's memory accounting may add (kernel memory, per-CPU charge batches).",
)
@technique_switches
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def calibrate_cmd(
    cpu_percent: float,
    memory_mb: float,
    rate: int,
    budget_s: int,
    run_s: int,
    max_cpu_ci: float,
    max_mem_ci: float,
    mem_resolution: float,
    state_dir: Path | None,
    as_json: bool,
    **techniques: bool,
) -> None:
    """A/A test and a known ballast against baseline: the noise floor, and whether the lab
    recovers what was injected. Exit 5 naming the KPI when it does not."""
    from contracts.calibration import Ballast, Techniques
    from harness.calibration import Design
    from pipeline.calibration import Criteria, table, to_json
    from tare.calibrate import calibrate

    settings = resolve(state_dir=state_dir)
    try:
        ballast = Ballast(cpu_percent, memory_mb)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    tech = Techniques(**techniques)
    design = Design(ballast=ballast, rate=rate, budget_s=budget_s, run_s=run_s, techniques=tech)
    criteria = Criteria(ballast, tech, max_cpu_ci, max_mem_ci, mem_resolution)
    result = calibrate(design, criteria, settings, sys.stderr)
    if as_json:
        emit(to_json(result))
    else:
        for line in table(result):
            click.echo(line)
    if result.problems:
        raise RunInvalid(result.problems[0], details=result.problems)
