"""Campaign verbs: ``plan``, ``run``, ``capacity``, ``runs list``, ``lab down``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from contracts.addresses import CarbonAddress
from contracts.durations import fmt_duration
from contracts.errors import RunInvalid, ServiceUnavailable, UsageError
from contracts.load import PROFILE_FACTOR
from contracts.paths import DEFAULT_PREFIX
from tare.cli_common import emit, state_path
from tare.stack.settings import StackSettings, resolve


@click.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(config: Path, state_dir: Path | None, as_json: bool) -> None:
    """The matrix, the order of runs and the total wall time, fixed and adaptive (from the
    noise `tare calibrate` measured); runs nothing."""
    from tare import run as tr
    from tare.config import load_campaign

    campaign = load_campaign(config)
    p = tr.make_plan(campaign)
    fixed = tr.fixed_wall_time_s(campaign)
    est = tr.adaptive_estimate(campaign, resolve(state_dir=state_dir).state_dir)
    if as_json:
        emit(
            {
                **tr.plan_json(campaign, p),
                "fixed_wall_time_s": round(fixed),
                "adaptive_wall_time_s": {
                    "least": round(est.least_s),
                    "expected": round(est.expected_s),
                    "most": round(est.most_s),
                },
            }
        )
        return
    spec = campaign.spec
    d = spec.design
    order = "interleaved, counterbalanced: even repeats run backwards"
    if d.adaptive:
        order = (
            f"adaptive: the first {d.min_repeats} rounds below, then two at a time per block "
            f"until its CIs are within target, at most {d.max_repeats}; {order}"
        )
    elif not d.interleave:
        order = "in blocks"
    repeats = d.min_repeats if d.adaptive else d.repeats
    click.echo(
        f"campaign {campaign.name}: {d.kind}, {p.cells} cells, {len(p.runs)} runs "
        f"({repeats} repeat(s), {order}), {spec.load.duration_s} s of load each"
    )
    names = list(campaign.factor_levels())
    offered = tr.profiles(campaign)
    varied = PROFILE_FACTOR in names  # then the load in its unit, beside the levels
    click.echo(
        "  seq  " + "  ".join(f"{n:>12}" for n in names) + "  repeat" + ("  load" if varied else "")
    )
    for r in p.runs:
        levels = dict(r.cell.levels)
        load = f"  {offered.describe(levels)}" if varied else ""
        click.echo(
            f"  {r.seq:3d}  "
            + "  ".join(f"{levels[n]!s:>12}" for n in names)
            + f"  {r.repeat:6d}"
            + load
        )
    c = spec.collect
    compare = f", and {c.compare_prefix!r} compared beside it" if c.compare_prefix else ""
    click.echo(f"collector: {c.collector}{compare}")
    now = "" if d.adaptive else "  <- this campaign"
    click.echo(f"fixed design, {d.repeats} repeats: estimated wall time {fmt_duration(fixed)}{now}")
    click.echo(
        f"adaptive, {d.min_repeats} to {d.max_repeats} rounds: at least "
        f"{fmt_duration(est.least_s)}, expected {fmt_duration(est.expected_s)}, at most "
        f"{fmt_duration(est.most_s)}" + ("  <- this campaign" if d.adaptive else "")
    )
    for line in est.lines:
        click.echo(line)


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

    campaign = load_campaign(config)
    settings = resolve(state_dir=state_dir)
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
@click.option(
    "--repeats",
    type=click.IntRange(min=1, max=100),
    default=3,
    show_default=True,
    help="Sweeps per mode, interleaved; an interval needs >= 2 a side.",
)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def capacity_cmd(
    config: Path,
    modes: tuple[str, ...],
    clients: str,
    step_s: float,
    repeats: int,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Closed-loop maximum new-connection rate (the knee) per mode, and its change vs baseline
    with a between-sweep 95 % CI."""
    from pipeline.capacity import capacity_changes, capacity_table
    from tare import run as tr
    from tare.config import load_campaign

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
    chosen = list(modes) or known
    results, delivery = tr.capacity(campaign, settings.state_dir, chosen, steps, step_s, repeats)
    maxima: dict[str, list[float]] = {m: [] for m in chosen}
    for r in results:
        if r.error is None and r.max_rate is not None:
            maxima[r.mode].append(r.max_rate)
    changes = capacity_changes(maxima)
    if as_json:
        emit(
            {
                "campaign": campaign.name,
                "modes": [
                    {
                        "mode": c.mode,
                        "sweeps": c.sweeps,
                        "max_conn_per_s": c.max_rate,
                        "change_vs_baseline_pct": c.change_pct,
                        "ci_pct": list(c.ci_pct) if c.ci_pct else None,
                        "pvalue": c.pvalue,
                        "method": c.method,
                    }
                    for c in changes
                ],
                "sweeps": [
                    {
                        "mode": r.mode,
                        "max_conn_per_s": r.max_rate,
                        "knee_clients": k.clients if (k := r.knee()) else None,
                        "error": r.error,
                        "steps": [vars_of(s) for s in r.steps],
                    }
                    for r in results
                ],
                "written_points": delivery.points if delivery.sent else 0,
                "spooled_points": delivery.spooled,
            }
        )
    else:
        for line in capacity_table(changes):
            click.echo(line)
        click.echo(delivery.describe("capacity points", campaign.graphite.carbon))
    errors = [f"capacity of {r.mode}: {r.error}" for r in results if r.error]
    if errors:
        raise RunInvalid(errors[0], details=errors)
    if not delivery.sent:
        raise ServiceUnavailable(delivery.describe("capacity points", campaign.graphite.carbon))


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
                    "campaigns": [c.to_json() for c in ledger.campaigns()],
                    "runs": [r.to_json() for r in rows],
                }
            )
            return
        for r in rows:
            rate = f"{r.achieved_rate:.0f}/s" if r.achieved_rate is not None else "-"
            click.echo(
                f"{r.run_id}  {r.status.value:11}  {r.mode:10}  {r.rate:>6}/s  {rate:>8}"
                + (f"  {r.reason}" if r.reason else "")
            )
    finally:
        ledger.close()


@click.group()
def lab() -> None:
    """The namespaces lab."""


@lab.command("down")
@click.option("--force", is_flag=True, help="Tear down even while a live tare holds the lab lock.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
def lab_down(force: bool, state_dir: Path | None) -> None:
    """Remove every namespace, process and cgroup a lab left behind (after a crash)."""
    from harness.lab import teardown_all
    from harness.lock import LabBusy, LabLock

    settings = resolve(state_dir=state_dir)
    records = settings.state_dir / "lab" / "records"
    if force:
        done = teardown_all(records)
    else:
        try:
            with LabLock("lab down", "-", settings.state_dir):
                done, busy = _down_hosts_labs(records, settings.state_dir)
                done += teardown_all(records, skip=busy)
        except LabBusy as exc:
            raise LabBusy(f"{exc}; `tare lab down --force` tears it down anyway") from None
    click.echo("lab: removed " + ", ".join(done) if done else "lab: nothing to remove")


def _down_hosts_labs(records: Path, state_dir: Path) -> tuple[list[str], frozenset[Path]]:
    """The records of labs on hosts over SSH, each torn down under its host's lock: one whose
    host a live campaign holds is left alone (named, and returned to be skipped)."""
    import json

    from harness.lab import teardown_record
    from harness.lock import LabBusy, LabLock
    from harness.remote import Ssh

    done: list[str] = []
    busy: set[Path] = set()
    for record in sorted(records.glob("*.json")):
        try:
            data = json.loads(record.read_text())
            host = Ssh.from_record(data["ssh"]).describe if data.get("kind") == "hosts" else None
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if host is None:
            continue
        try:
            with LabLock("lab down", "-", state_dir, host=host):
                done += teardown_record(record)
        except LabBusy:
            done.append(f"not {record.stem}: {host} is in use by a live campaign")
            busy.add(record)
    return done, frozenset(busy)


def _load(settings: StackSettings, campaign_id: str | None) -> tuple[Any, list[Any]]:
    """(the campaign, its runs) from the ledger: the one asked for, or the latest finished."""
    from harness.ledger import Ledger
    from pipeline.campaign import pick_campaign

    path = state_path(settings.state_dir, "ledger.db", "no ledger in {dir}; run a campaign first")
    ledger = Ledger(path)
    try:
        campaigns = [(c, ledger.runs(c.campaign_id)) for c in ledger.campaigns()]
    finally:
        ledger.close()
    return pick_campaign(campaigns, campaign_id)


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
@click.option("--carbon", "carbon_text", help="HOST:PORT for the nightly series [the campaign's].")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def analyze_cmd(
    campaign_id: str | None,
    latest: bool,
    out_dir: Path | None,
    no_write_back: bool,
    carbon_text: str | None,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Overhead of every contender cell against its baseline, with 95% CIs."""
    from pipeline import tables

    if campaign_id and latest:
        raise UsageError("give --campaign ID or --latest, not both")
    carbon = None
    if carbon_text is not None:
        try:
            carbon = CarbonAddress.parse(carbon_text)
        except ValueError as exc:
            raise UsageError(f"--carbon {carbon_text!r}: {exc}") from None
    settings = resolve(state_dir=state_dir)
    result, delivery, carbon, _ = analyze_campaign(
        settings, campaign_id, out_dir, not no_write_back, carbon
    )
    if as_json:
        emit(
            {
                **tables.to_json(result),
                "written_points": delivery.points if delivery and delivery.sent else 0,
                "spooled_points": delivery.spooled if delivery else 0,
            }
        )
    else:
        for line in tables.table(result):
            click.echo(line)
        told = delivery.describe("nightly points", carbon) if delivery else "nothing written back"
        click.echo(f"tables in {result.output_dir}; {told}")
    if delivery is not None and not delivery.sent:  # the tables are written; carbon is down
        raise ServiceUnavailable(delivery.describe("nightly points", carbon))


def analyze_campaign(
    settings: StackSettings,
    campaign_id: str | None,
    out_dir: Path | None = None,
    write_back: bool = True,
    carbon: CarbonAddress | None = None,
) -> tuple[Any, Any, CarbonAddress, list[tuple[str, float, int]]]:
    """``tare analyze``'s work: (the Analysis, what became of the nightly points or None, the
    carbon they went to, the points); the tables are written."""
    from collectors.sender import deliver
    from pipeline import health, nightly
    from pipeline.campaign import analyze, graphite_of, output_dir, write_tables
    from pipeline.graphite import GraphiteClient

    campaign, rows = _load(settings, campaign_id)
    graphite = graphite_of(rows)
    url = str(graphite.render_url) if graphite else settings.render_url
    carbon = carbon or (graphite.carbon if graphite else settings.carbon)
    result = analyze(campaign, rows, GraphiteClient(url, timeout_s=30))
    write_tables(result, out_dir or output_dir(rows))
    delivery = None
    points: list[tuple[str, float, int]] = []
    if write_back:  # the lab's health even on a night without an overhead; the overheads last
        prefix = graphite.prefix if graphite else DEFAULT_PREFIX
        points = health.campaign_points(prefix, campaign, rows)
        points += nightly.points(prefix, campaign, result.overheads)
        delivery = deliver(carbon, settings.state_dir / "spool", "analyze", points)
    return result, delivery, carbon, points


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
    click.echo(f"report: {build_report(resolve(state_dir=state_dir), campaign_id, out_dir)}")


def build_report(settings: StackSettings, campaign_id: str | None, out_dir: Path | None) -> Path:
    """``tare report``'s work: the page for a campaign (the latest by default); its path."""
    from contracts.labels import label
    from pipeline import reporting
    from pipeline.campaign import analyze, graphite_of, output_dir
    from pipeline.graphite import GraphiteClient

    campaign, rows = _load(settings, campaign_id)
    graphite = graphite_of(rows)
    client = GraphiteClient(str(graphite.render_url) if graphite else settings.render_url, 30)
    result = analyze(campaign, rows, client)
    root = out_dir or output_dir(rows) / label(campaign.campaign_id)
    return reporting.build(result, client, root, open_alerts(settings, campaign.name))


def open_alerts(settings: StackSettings, campaign: str) -> list[str]:
    """The campaign's alerts not yet resolved or invalid, one line each, for the report."""
    path = settings.state_dir / "alerts.db"
    if not path.exists():
        return []
    from alerting.messages import describe_cell
    from alerting.store import AlertStore
    from contracts.labels import label
    from contracts.states import AlertState

    closed = {AlertState.RESOLVED.value, AlertState.INVALID.value}
    with AlertStore(path) as store:
        mine = label(campaign)  # as the nightly paths spell it
        rows = [r for r in store.alerts() if r.alert.campaign == mine and r.state not in closed]
    return [
        f"{r.id} {r.state}: {r.alert.kind}, {describe_cell(r.alert)}, night {r.alert.night}"
        for r in rows
    ]
