"""Verb ``calibrate``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tare.cli_common import emit, log_to_file
from tare.errors import RunInvalid
from tare.stack.settings import resolve

F = TypeVar("F", bound=Callable[..., Any])


# The noise-reduction techniques (``tare.calibrate.Techniques``), each on by default.
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
    from tare import calibrate as tc

    settings = resolve(state_dir=state_dir)
    log_to_file(settings.state_dir)
    opts = tc.Options(
        cpu_percent=cpu_percent,
        memory_mb=memory_mb,
        rate=rate,
        budget_s=budget_s,
        run_s=run_s,
        max_cpu_half_width=max_cpu_ci,
        max_mem_half_width=max_mem_ci,
        mem_resolution_mb=mem_resolution,
        techniques=tc.Techniques(**techniques),
    )
    result = tc.calibrate(opts, settings, sys.stderr)
    if as_json:
        emit(tc.to_json(result))
    else:
        _print(result)
    if result.problems:
        raise RunInvalid(result.problems[0], details=result.problems)


def _print(r: object) -> None:
    from tare.calibrate import Result

    assert isinstance(r, Result)
    o = r.options
    click.echo(
        f"calibrate: {o.rate} conn/s, ballast {o.cpu_percent:g} % of one core and "
        f"{o.memory_mb:g} MB; {r.rounds} round(s) of {o.run_s} s runs ({r.stopped})"
    )
    click.echo("A/A, baseline against baseline (the noise floor):")
    click.echo(f"  {'KPI':<26}{'difference [95 % CI]':>28}{'p':>8}{'MDE':>8}{'sd/run':>8}")
    for v in r.aa:
        c = v.recovered
        sd = r.sd_between_runs.get(v.kpi)
        click.echo(
            f"  {v.kpi:<26}{f'{c.delta:+.2f} [{c.ci_low:+.2f}, {c.ci_high:+.2f}]':>28}"
            f"{c.pvalue:>8.2g}{c.mde:>8.2f}{'-' if sd is None else f'{sd:.2f}':>8}"
            + ("  SIGNIFICANT" if v.problems else "")
        )
    click.echo("Ballast against baseline:")
    click.echo(f"  {'KPI':<26}{'injected':>9}{'recovered [95 % CI]':>28}{'MDE':>8}  verdict")
    for t, v in r.ballast:
        c = v.recovered
        verdict = "ok" if v.ok else "; ".join(v.problems)
        if v.ok and v.inside is False:
            verdict = f"ok (outside the CI by less than the {v.resolution:g} resolution)"
        if not t.judged:
            verdict = "(reported)"
        click.echo(
            f"  {v.kpi:<26}{v.injected:>9g}"
            f"{f'{c.delta:+.2f} [{c.ci_low:+.2f}, {c.ci_high:+.2f}]':>28}{c.mde:>8.2f}  {verdict}"
        )
    click.echo("  (CPU in points of one core; memory in MB)")
