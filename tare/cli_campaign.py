"""Campaign verbs: ``plan``, ``run``, ``capacity``, ``runs list``, ``lab down``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tare.cli_common import emit, fmt_s, log_to_file, state_path
from tare.errors import UsageError
from tare.stack.settings import StackSettings, resolve

if TYPE_CHECKING:
    from harness.ledger import Ledger


@click.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(config: Path, as_json: bool) -> None:
    """The matrix, the order of runs and the total wall time; runs nothing."""
    from tare import run as tr
    from tare.config import load_campaign

    campaign = load_campaign(config)
    p = tr.make_plan(campaign)
    if as_json:
        emit(tr.plan_json(campaign, p))
        return
    spec = campaign.spec
    order = "interleaved" if spec.design.interleave else "in blocks"
    click.echo(
        f"campaign {campaign.name}: {spec.design.kind}, {p.cells} cells, {len(p.runs)} runs "
        f"({spec.design.repeats} repeat(s), {order}), {spec.load.duration_s} s of load each"
    )
    names = list(campaign.factor_levels())
    click.echo("  seq  " + "  ".join(f"{n:>12}" for n in names) + "  repeat")
    for r in p.runs:
        levels = dict(r.cell.levels)
        click.echo(
            f"  {r.seq:3d}  " + "  ".join(f"{levels[n]!s:>12}" for n in names) + f"  {r.repeat:6d}"
        )
    click.echo(f"estimated wall time: {fmt_s(p.wall_time_s)}")


@click.command("run")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="Continue the interrupted campaign of this file.")
@click.option(
    "--lab",
    "lab_kind",
    type=click.Choice(["auto", "namespaces", "loopback"]),
    default="auto",
    show_default=True,
    help="auto: namespaces as root, loopback otherwise.",
)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_cmd(
    config: Path, resume: bool, lab_kind: str, state_dir: Path | None, as_json: bool
) -> None:
    """Run a campaign: every run's KPIs and load results into Graphite, recorded in the ledger."""
    from tare import run as tr
    from tare.config import load_campaign
    from tare.errors import RunInvalid

    campaign = load_campaign(config)
    settings = resolve(state_dir=state_dir)
    log_to_file(settings.state_dir)
    summary = tr.run(campaign, settings.state_dir, resume, lab_kind=lab_kind)
    bad = summary.bad
    if as_json:
        emit(
            {
                "campaign_id": summary.campaign_id,
                "ran": summary.ran,
                "skipped": summary.skipped,
                "aborted": summary.aborted,
                "runs": {
                    k: {
                        "status": v.status,
                        "reason": v.reason,
                        "achieved_rate": v.load.achieved_rate if v.load else None,
                    }
                    for k, v in summary.outcomes.items()
                },
            }
        )
    else:
        click.echo(
            f"campaign {summary.campaign_id}: {summary.ran} run(s) now, "
            f"{summary.skipped} done before, {len(bad)} not valid"
        )
    if summary.aborted:
        raise RunInvalid(f"campaign {summary.campaign_id} aborted: {summary.aborted}")
    if bad:
        lines = [f"run {k}: {v.status}: {v.reason}" for k, v in bad.items()]
        raise RunInvalid(lines[0], details=lines)


@click.command("capacity")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--mode", "modes", multiple=True, help="Modes to sweep [baseline and every mode].")
@click.option(
    "--clients",
    default="1,2,4,8,16,32,64,128",
    show_default=True,
    help="Concurrent clients of each closed-loop step.",
)
@click.option("--step-s", type=click.FloatRange(min=0.5), default=3.0, show_default=True)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def capacity_cmd(
    config: Path,
    modes: tuple[str, ...],
    clients: str,
    step_s: float,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Closed-loop maximum new-connection rate (the knee) per mode, and its cost vs baseline."""
    from tare import run as tr
    from tare.config import load_campaign
    from tare.errors import RunInvalid

    campaign = load_campaign(config)
    known = [str(m) for m in campaign.factor_levels()["mode"]]
    for m in modes:
        if m not in known:
            raise UsageError(f"--mode {m}: not one of {', '.join(known)}")
    try:
        steps = [int(c) for c in clients.split(",") if c.strip()]
    except ValueError:
        raise UsageError(f"--clients {clients!r}: expected numbers like 1,2,4") from None
    if not steps or min(steps) < 1:
        raise UsageError("--clients: give positive numbers")
    settings = resolve(state_dir=state_dir)
    log_to_file(settings.state_dir)
    results = tr.capacity(campaign, settings.state_dir, list(modes) or known, steps, step_s)
    base = next((r.max_rate for r in results if r.mode == "baseline"), None)
    rows = []
    for r in results:
        k = r.knee()
        cost = (
            None
            if (base is None or r.max_rate is None or r.mode == "baseline")
            else ((r.max_rate - base) / base * 100)
        )
        rows.append(
            {
                "mode": r.mode,
                "max_conn_per_s": r.max_rate,
                "knee_clients": k.clients if k else None,
                "change_vs_baseline_pct": cost,
                "error": r.error,
                "steps": [vars_of(s) for s in r.steps],
            }
        )
    if as_json:
        emit({"campaign": campaign.name, "modes": rows})
    else:
        click.echo(f"{'mode':12} {'capacity conn/s':>16} {'knee clients':>13} {'vs baseline':>12}")
        for row in rows:
            cap = f"{row['max_conn_per_s']:.0f}" if row["max_conn_per_s"] else "-"
            cost = (
                f"{row['change_vs_baseline_pct']:+.1f}%"
                if row["change_vs_baseline_pct"] is not None
                else ""
            )
            click.echo(
                f"{row['mode']:12} {cap:>16} {row['knee_clients'] or '-'!s:>13} {cost:>12}"
                + (f"  {row['error']}" if row["error"] else "")
            )
    errors = [f"capacity of {r['mode']}: {r['error']}" for r in rows if r["error"]]
    if errors:
        raise RunInvalid(errors[0], details=errors)


def vars_of(step: Any) -> dict[str, Any]:
    return {k: getattr(step, k) for k in step.__slots__}


@click.group()
def runs() -> None:
    """The run ledger."""


@runs.command("list")
@click.option("--campaign", "campaign_id", help="One campaign id (default: all).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def runs_list(campaign_id: str | None, state_dir: Path | None, as_json: bool) -> None:
    """Every run recorded, with its status, achieved load and reason."""
    from harness.ledger import Ledger

    settings = resolve(state_dir=state_dir)
    db = settings.state_dir / "ledger.db"
    if not db.exists():
        if as_json:
            emit({"campaigns": [], "runs": []})
        else:
            click.echo(f"no ledger in {settings.state_dir}")
        return
    ledger = Ledger(db)
    try:
        rows = ledger.runs(campaign_id)
        if as_json:
            emit(
                {
                    "campaigns": ledger.campaigns(),
                    "runs": [{k: getattr(r, k) for k in r.__slots__} for r in rows],
                }
            )
            return
        for r in rows:
            rate = f"{r.achieved_rate:.0f}/s" if r.achieved_rate is not None else "-"
            click.echo(
                f"{r.run_id}  {r.status:11}  {r.mode:10}  {r.rate:>6}/s  {rate:>8}"
                + (f"  {r.reason}" if r.reason else "")
            )
    finally:
        ledger.close()


@click.group()
def lab() -> None:
    """The namespaces lab."""


@lab.command("down")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
def lab_down(state_dir: Path | None) -> None:
    """Remove every namespace, process and cgroup a lab left behind (after a crash)."""
    from harness.lab import teardown_all

    settings = resolve(state_dir=state_dir)
    done = teardown_all(settings.state_dir / "lab" / "records")
    click.echo("lab: removed " + ", ".join(done) if done else "lab: nothing to remove")


def _open_ledger(settings: StackSettings) -> Ledger:
    from harness.ledger import Ledger

    return Ledger(
        state_path(settings.state_dir, "ledger.db", "no ledger in {dir}; run a campaign first")
    )


@click.command("analyze")
@click.option("--campaign", "campaign_id", help="A campaign id from 'tare runs list'.")
@click.option("--latest", is_flag=True, help="The latest campaign with a finished run (default).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write overhead.csv and summary.csv [the campaign's output_dir].",
)
@click.option("--no-write-back", is_flag=True, help="Do not write the nightly series to Graphite.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def analyze_cmd(
    campaign_id: str | None,
    latest: bool,
    out_dir: Path | None,
    no_write_back: bool,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Overhead of every contender cell against its baseline, with 95% CIs."""
    from tare import analyze as ta

    if campaign_id and latest:
        raise UsageError("give --campaign ID or --latest, not both")
    settings = resolve(state_dir=state_dir)
    ledger = _open_ledger(settings)
    try:
        result = ta.analyze(ledger, campaign_id, settings, None)
        rows = ledger.runs(result.campaign["id"])
        first = next((r for r in rows if r.status == "done"), None)
    finally:
        ledger.close()
    manifest = first.manifest if first else {}
    root = out_dir or Path(manifest.get("output_dir") or "var/campaigns")
    result.output_dir = ta.write_tables(result, root)
    if not no_write_back and result.overheads:
        graphite = manifest.get("graphite") or {}
        carbon = graphite.get("carbon", settings.carbon)
        host, _, port = carbon.rpartition(":")
        result.written_points = ta.write_back(
            result,
            (host, int(port)),
            graphite.get("prefix", "tare"),
            settings.state_dir / "spool" / "analyze",
        )
    if as_json:
        emit(ta.to_json(result))
    else:
        for line in ta.table(result):
            click.echo(line)
        click.echo(
            f"tables in {result.output_dir}; {result.written_points} nightly points "
            "written to Graphite"
        )


@click.command("report")
@click.option("--campaign", "campaign_id", help="A campaign id (default: the latest).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for report.html [the campaign's output_dir/<id>].",
)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
def report_cmd(campaign_id: str | None, out_dir: Path | None, state_dir: Path | None) -> None:
    """One self-contained HTML page: overhead plots with CIs, trends, every run's series."""
    from tare import report as tr

    settings = resolve(state_dir=state_dir)
    ledger = _open_ledger(settings)
    try:
        path, _ = tr.build(ledger, campaign_id, settings, out_dir)
    finally:
        ledger.close()
    click.echo(f"report: {path}")
