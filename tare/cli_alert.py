"""Verbs ``alert``, ``alerts list|ack|resolve|invalid`` and ``changepoints``."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from contracts.errors import RegressionFound, ServiceUnavailable, UsageError
from contracts.paths import DEFAULT_PREFIX
from contracts.states import AlertState
from tare.cli_common import emit, state_path
from tare.configfile import ConfigError
from tare.stack.settings import StackSettings, resolve

NOTIFY = click.Choice(["auto", "slack", "console", "none"])


def _delivery_problem(result: Any) -> None:
    if result is not None and result.error:
        raise ServiceUnavailable(
            f"{result.error}; {result.kept} message(s) kept in the outbox, "
            "sent by the next `tare alert`"
        )


@click.command("alert")
@click.argument("config", required=False, type=click.Path(path_type=Path))
@click.option("--rules", type=click.Path(path_type=Path), help="An alerts file ([alerts] table).")
@click.option("--campaign", "campaign_name", help="Only this campaign's series [CONFIG's; all].")
@click.option("--prefix", help="Graphite prefix of the nightly series [CONFIG's; tare].")
@click.option("--render-url", help="graphite-web [CONFIG's; the local stack].")
@click.option(
    "--notify",
    type=NOTIFY,
    default="auto",
    show_default=True,
    help="auto: Slack when configured, else the console.",
)
@click.option(
    "--slack-secrets",
    type=click.Path(path_type=Path),
    help="NAME=value file, mode 600 [env TARE_SLACK_SECRETS].",
)
@click.option("--dry-run", is_flag=True, help="Evaluate and print; record and send nothing.")
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when a new regression is found.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def alert_cmd(
    config: Path | None,
    rules: Path | None,
    campaign_name: str | None,
    prefix: str | None,
    render_url: str | None,
    notify: str,
    slack_secrets: Path | None,
    dry_run: bool,
    fail_on_regression: bool,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Check the nightly overhead series: change points, thresholds; notify what is new."""
    from alerting import cycle, summary

    settings = resolve(state_dir=state_dir)
    outcome = check_alerts(
        settings, config, rules, campaign_name, prefix, render_url, notify, slack_secrets, dry_run
    )
    ev = outcome.evaluation
    gate = cycle.regressions(outcome.new)
    if as_json:
        emit(
            {
                "latest_night": ev.latest_night,
                "series": ev.series,
                "dry_run": dry_run,
                "alerts": [summary.alert_json(i, a, new=True) for i, a in outcome.new]
                + [summary.alert_json(i, a, new=False) for i, a in outcome.known],
                "pending": [dataclasses.asdict(o) for o in ev.pending],
                "outliers": [dataclasses.asdict(o) for o in ev.outliers],
                "regressions": [i for i, _ in gate],
                "delivery": None
                if outcome.delivery is None
                else {"sent": outcome.delivery.sent, "kept": outcome.delivery.kept},
            }
        )
    else:
        for line in summary.outcome_lines(outcome, dry_run):
            click.echo(line)
    if fail_on_regression and gate:
        if outcome.delivery is not None and outcome.delivery.error:
            click.echo(f"tare: {outcome.delivery.error} (kept in the outbox)", err=True)
        raise RegressionFound(
            f"{len(gate)} new regression(s): "
            + ", ".join(f"{i} ({a.cell}, {a.night})" for i, a in gate)
        )
    _delivery_problem(outcome.delivery)


def check_alerts(
    settings: StackSettings,
    config: Path | None,
    rules: Path | None = None,
    campaign_name: str | None = None,
    prefix: str | None = None,
    render_url: str | None = None,
    notify: str = "auto",
    slack_secrets: Path | None = None,
    dry_run: bool = False,
) -> Any:
    """``tare alert``'s work: evaluate, record and notify; the cycle's outcome."""
    from alerting import cycle, marks, secrets
    from alerting.store import AlertStore
    from pipeline import nightly
    from pipeline.graphite import GraphiteClient
    from tare.alerts_config import AlertsSection, load_alerts_file, rules_of, settings_of

    section = AlertsSection()
    if config is not None:
        from tare.config import load_campaign

        spec = load_campaign(config).spec
        section = spec.alerts
        campaign_name = campaign_name or spec.campaign.name
        prefix = prefix or spec.graphite.prefix
        render_url = render_url or spec.graphite.render_url
    if rules is not None:
        section = load_alerts_file(rules)
    notifier = None
    if not dry_run:  # secrets first: a bad secrets file fails before any work
        notifier = cycle.notifier_for(
            notify, secrets.from_environment(slack_secrets, section.slack_channel)
        )
    client = GraphiteClient(render_url or settings.render_url, timeout_s=30)
    frame = nightly.fetch(client, prefix or DEFAULT_PREFIX, campaign_name, section.history_nights)
    versions = cycle.agent_versions(_ledger_records(settings.state_dir / "ledger.db"))
    thresholds, detection, url = rules_of(section), settings_of(section), section.dashboard_url
    if dry_run:
        return cycle.run_alert(frame, thresholds, detection, url, None, None, versions)
    with AlertStore(settings.state_dir / "alerts.db") as store:
        outcome = cycle.run_alert(frame, thresholds, detection, url, store, notifier, versions)
    events = [*marks.new_alerts(outcome.new), *marks.version_changes(versions)]
    problem = annotate(client, events)
    if problem is not None:
        print(f"tare: {problem}", file=sys.stderr)
    return outcome


def _ledger_records(path: Path) -> list[tuple[Any, list[Any]]]:
    """Every campaign with its runs, from the ledger (none when there is no ledger yet)."""
    if not path.exists():
        return []
    from harness.ledger import Ledger

    ledger = Ledger(path)
    try:
        return [(c, ledger.runs(c.campaign_id)) for c in ledger.campaigns()]
    finally:
        ledger.close()


@click.group("alerts")
def alerts_group() -> None:
    """The alerts recorded so far, and their state."""


def _store(state_dir: Path | None) -> Any:
    from alerting.store import AlertStore

    settings = resolve(state_dir=state_dir)
    return AlertStore(
        state_path(settings.state_dir, "alerts.db", "no alerts yet in {dir} (run `tare alert`)")
    )


@alerts_group.command("list")
@click.option("--state", type=click.Choice([s.value for s in AlertState]))
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def alerts_list(state: str | None, state_dir: Path | None, as_json: bool) -> None:
    """Every alert (or those in one state), oldest night first."""
    from alerting import summary
    from alerting.messages import describe_cell

    with _store(state_dir) as store:
        rows = store.alerts(state)
        pending = len(store.outbox())
    if as_json:
        emit(
            {
                "alerts": [
                    summary.alert_json(r.id, r.alert, state=r.state, note=r.note) for r in rows
                ],
                "outbox": pending,
            }
        )
        return
    for r in rows:
        note = f"  ({r.note})" if r.note else ""
        where = describe_cell(r.alert)
        click.echo(f"{r.id}  {r.state:<12} {r.alert.kind:<11} {r.alert.night}  {where}{note}")
    if not rows:
        click.echo("no alerts")
    if pending:
        click.echo(f"{pending} message(s) waiting in the outbox")


def _state_command(state: AlertState, help_text: str) -> click.Command:
    @click.command(state.value if state != AlertState.ACKNOWLEDGED else "ack", help=help_text)
    @click.argument("alert_id")
    @click.option("--note", help="Why (shown in the thread reply).")
    @click.option("--notify", type=NOTIFY, default="auto", show_default=True)
    @click.option("--slack-secrets", type=click.Path(path_type=Path))
    @click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
    def command(
        alert_id: str,
        note: str | None,
        notify: str,
        slack_secrets: Path | None,
        state_dir: Path | None,
    ) -> None:
        from alerting import cycle, marks, secrets
        from alerting.store import UnknownAlert
        from pipeline.graphite import GraphiteClient

        with _store(state_dir) as store:
            try:
                aid = store.resolve_id(alert_id)
            except UnknownAlert as exc:
                raise UsageError(str(exc)) from None
            channel = (store.get(aid).delivery or {}).get("channel")
            notifier = cycle.notifier_for(notify, secrets.from_environment(slack_secrets, channel))
            updated, result = cycle.change_state(store, aid, state, note, notifier)
        click.echo(f"alert {updated.id}: {updated.state}")
        event = marks.state_changed(aid, updated.alert, state, note, int(time.time()))
        client = GraphiteClient(resolve(state_dir=state_dir).render_url, timeout_s=10)
        problem = annotate(client, [event])
        if problem is not None:
            click.echo(f"tare: {problem}", err=True)
        _delivery_problem(result)

    return command


for _state, _help in (
    (AlertState.ACKNOWLEDGED, "Acknowledge an alert: someone is on it."),
    (AlertState.RESOLVED, "Mark an alert resolved: the change is understood or fixed."),
    (AlertState.INVALID, "Mark an alert invalid: not a real change (noise, a broken night)."),
):
    alerts_group.add_command(_state_command(_state, _help))


@click.command("changepoints")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--column", "columns", multiple=True, help="Only these columns (repeatable).")
@click.option("--confirm-nights", type=click.IntRange(1, 30), default=2, show_default=True)
@click.option(
    "--sort", "sort_rows", is_flag=True, help="Sort rows by time [refuse rows out of order]."
)
@click.option(
    "--pool",
    is_flag=True,
    help="A file's columns are one metric's series sharing their nights: each is taken to "
    "remember yesterday at least as much as the others do, as `tare alert` judges a nightly.",
)
@click.option("--json", "as_json", is_flag=True)
def changepoints_cmd(
    files: tuple[Path, ...],
    columns: tuple[str, ...],
    confirm_nights: int,
    sort_rows: bool,
    pool: bool,
    as_json: bool,
) -> None:
    """Change points and outliers in any CSV history (time column, then numeric columns)."""
    from alerting import changepoints as cp
    from alerting import summary
    from alerting.csvinput import CsvError, parse

    settings = cp.Settings(confirm_nights=confirm_nights)
    out: list[dict[str, Any]] = []
    for path in files:
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                history = parse(fh, "sort" if sort_rows else "strict")
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except CsvError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc.__class__.__name__}") from None
        unknown = [c for c in columns if c not in history.columns]
        if unknown:
            raise ConfigError(
                f"{path}: no column {unknown[0]!r} (columns: {', '.join(history.columns)})"
            )
        chosen = {n: list(v) for n, v in history.columns.items() if not columns or n in columns}
        floors = cp.floors(list(chosen.values()), settings) if pool else [0.0] * len(chosen)
        for (name, values), floor in zip(chosen.items(), floors, strict=True):
            found = cp.detect(values, dataclasses.replace(settings, rho_floor=floor))
            label = name if len(files) == 1 else f"{path.name}:{name}"
            out.append(summary.series_json(label, history.times, found))
    if as_json:
        emit({"series": out})
        return
    for line in summary.changepoint_lines(out):
        click.echo(line)


def annotate(client: Any, events: Sequence[Any]) -> str | None:
    """Post ``events`` (``contracts.events``) to graphite-web, skipping any already there (the
    same text at the same time: a version change is found again every night); a line saying
    what could not be posted, or None. An annotation is never worth failing the verb for."""
    from contracts.events import TARE_TAG
    from pipeline.graphite import GraphiteBadResponse, GraphiteUnavailable

    if not events:
        return None
    try:
        start, end = min(e.when for e in events), max(e.when for e in events) + 1
        kinds = {e.tags()[1] for e in events}  # alert, agent-version: not every run's event
        there = {
            (str(x["what"]), int(x["when"]))
            for kind in kinds
            for x in client.events([TARE_TAG, kind], start, end)
        }
        for e in events:
            if (e.what, e.when) not in there:
                client.post_event(e.what, e.tags(), e.when, e.data())
    except (GraphiteUnavailable, GraphiteBadResponse) as exc:
        return f"annotations not posted: {exc}"
    return None
