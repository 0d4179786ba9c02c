"""``tare nightly``: the verb; the night is in ``tare.nightly``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from tare.cli_alert import NOTIFY
from tare.cli_common import emit
from tare.stack.settings import resolve


@click.command("nightly")
@click.argument("configs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when a new regression is found.")
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the night as JUnit XML (one test case per cell x judged KPI).",
)
@click.option("--notify", type=NOTIFY, default="auto", show_default=True)
@click.option("--slack-secrets", type=click.Path(path_type=Path))
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the night as JSON.")
@click.pass_context
def nightly_cmd(
    ctx: click.Context,
    configs: tuple[Path, ...],
    fail_on_regression: bool,
    junit_file: Path | None,
    notify: str,
    slack_secrets: Path | None,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Stack check, run (tonight's interrupted campaign resumed), analyze, alert, report.

    Several CONFIGS run at once, each its own night (on distinct hosts: see [hosts]); the exit
    code is the highest of theirs."""
    from alerting import summary
    from pipeline import junit, tables
    from tare.config import load_campaign
    from tare.nightly import run_night

    if len(configs) > 1:
        common = ["--notify", notify]
        common += ["--fail-on-regression"] if fail_on_regression else []
        common += ["--slack-secrets", str(slack_secrets)] if slack_secrets else []
        common += ["--state-dir", str(resolve(state_dir=state_dir).state_dir)]
        ctx.exit(run_several([load_campaign(c) for c in configs], common, junit_file, as_json))
    config = configs[0]
    campaign = load_campaign(config)
    settings = resolve(state_dir=state_dir)
    night = run_night(campaign, settings, notify, slack_secrets)
    code = night.exit_code(fail_on_regression)
    if junit_file is not None:
        write_junit(junit_file, night, campaign.spec.campaign.platform, junit, summary)
    data = night_json(night, code, junit_file)
    if as_json:
        emit(data)
    else:
        if night.analysis is not None:
            for line in tables.table(night.analysis):
                click.echo(line)
        if night.alerts is not None:
            for line in summary.outcome_lines(night.alerts, False):
                click.echo(line)
        for s in night.stages:
            click.echo(f"  {s.name:8} {'ok' if s.code == 0 else f'exit {s.code}'}: {s.message}")
        click.echo(one_line(data))
    ctx.exit(code)


def run_several(
    campaigns: list[Any], common: list[str], junit_file: Path | None, as_json: bool
) -> int:
    from harness.parallel import exit_code
    from tare import nightly_many

    nightly_many.check_apart(campaigns)
    names = ", ".join(c.name for c in campaigns)
    click.echo(f"nightly: {len(campaigns)} campaigns at once: {names}", err=True)
    nights = nightly_many.run(campaigns, common, junit_file)
    code = exit_code(nights)
    if as_json:
        emit({"nights": nights, "exit": code})
    else:
        for n in nights:
            if "error" in n:
                click.echo(f"nightly {n['campaign']}: exit {n['exit']}: {n['error'].strip()}")
            else:
                click.echo(one_line(n))
    return code


def night_json(night: Any, code: int, junit_file: Path | None) -> dict[str, Any]:
    alerts = night.alerts
    return {
        "campaign": night.campaign,
        "campaign_id": night.campaign_id,
        "resumed": night.resumed,
        "runs": night.runs,
        "cells": night.cells,
        "not_valid": night.not_valid,
        "too_noisy": [
            s.to_json() for s in (night.analysis.too_noisy() if night.analysis is not None else [])
        ],
        "alerts_new": len(alerts.new) if alerts else None,
        "alerts_known": len(alerts.known) if alerts else None,
        "pending": len(alerts.evaluation.pending) if alerts else None,
        "regressions": night.regressions,
        "report": str(night.report) if night.report else None,
        "junit": str(junit_file) if junit_file else None,
        "stages": [{"name": s.name, "code": s.code, "message": s.message} for s in night.stages],
        "duration_s": round(time.time() - night.started, 1),
        "exit": code,
    }


def one_line(d: dict[str, Any]) -> str:
    alerts = (
        f"alerts {d['alerts_new']} new / {d['pending']} pending"
        if d["alerts_new"] is not None
        else "alerts not checked"
    )
    return (
        f"nightly {d['campaign_id'] or d['campaign']}: {d['cells']} cells, "
        f"{len(d['not_valid'])} invalid runs, "
        + (f"{len(d['too_noisy'])} too noisy tonight, " if d["too_noisy"] else "")
        + f"{alerts}, "
        f"report {d['report'] or 'not written'}; exit {d['exit']}"
    )


def write_junit(path: Path, night: Any, platform: str, junit: Any, summary: Any) -> None:
    failing: dict[tuple[str, str], str] = {}
    if night.alerts is not None:  # tonight's open regressions and breaches, new or known
        for aid, a in [*night.alerts.new, *night.alerts.known]:
            if a.kind.gating and a.campaign == night.campaign:
                for item in a.items:
                    why = f"{aid} {a.kind}: {summary.item_line(item)}"
                    failing[(item.cell or a.cell, item.kpi)] = why
    a = night.analysis
    overheads = a.overheads if a is not None else []
    noisy = {(s.cell, s.kpi) for s in a.too_noisy()} if a is not None else set()
    cases = junit.cases(platform, night.campaign, overheads, failing, noisy)
    cases += [
        junit.Case(f"{platform}.{night.campaign}.stages", s.name, junit.Result.ERROR, s.message)
        for s in night.stages
        if s.code != 0
    ]
    cases += [
        junit.Case(
            f"{platform}.{night.campaign}.runs",
            run_id,
            junit.Result.ERROR,
            night.why_not_valid.get(run_id, "not valid"),
        )
        for run_id in night.not_valid
    ]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(night.started))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit.render(f"tare nightly {night.campaign}", cases, stamp))


@click.command("schedule")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--fail-on-regression", is_flag=True, help="Passed to each `tare nightly`.")
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Passed to each `tare nightly` (the latest night's JUnit file).",
)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
def schedule_cmd(
    config: Path, fail_on_regression: bool, junit_file: Path | None, state_dir: Path | None
) -> None:
    """Run `tare nightly CONFIG` at the times of its [schedule] table, forever: one job at a
    time, a night missed while down run once, SIGTERM stops the running night cleanly."""
    from harness.scheduler import Scheduler, Spec, parse_days
    from tare.config import load_campaign

    campaign = load_campaign(config)
    settings = resolve(state_dir=state_dir)
    s = campaign.spec.schedule
    argv = [sys.executable, "-m", "tare", "nightly", str(config.resolve())]
    argv += ["--state-dir", str(settings.state_dir)]
    argv += ["--fail-on-regression"] if fail_on_regression else []
    argv += ["--junit", str(junit_file.resolve())] if junit_file else []
    spec = Spec(tuple(s.times), s.timezone, parse_days(s.days))
    state_file = settings.state_dir / "schedule" / f"{campaign.name}.json"
    scheduler = Scheduler(spec, lambda: run_child(argv), state_file, tell=click.echo)
    nxt = scheduler.next_run()
    click.echo(
        f"schedule {campaign.name}: {', '.join(s.times)} {s.timezone} on {', '.join(spec.days)}"
        + (f"; next {nxt.isoformat(timespec='minutes')}" if nxt else "")
    )
    scheduler.loop(lambda: False)


def run_child(argv: list[str], grace_s: float = 300.0) -> int:
    """``tare nightly`` as a child; an interrupt here is passed on as SIGTERM (the night tears
    its lab down and stays resumable), waited for, then raised again."""
    proc = subprocess.Popen(argv)
    try:
        return proc.wait()
    except BaseException:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
