"""``tare alert`` and ``tare alerts``: nightly series from Graphite, detection (``alerting``), the
alert store and the notifiers. Wiring only."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from alerting import changepoints
from alerting.evaluate import GATING, Alert, Evaluation, Settings, ThresholdRule, evaluate
from alerting.messages import Context, build, state_change
from alerting.nightly import to_frame
from alerting.notify import ConsoleNotifier, FlushResult, Notifier, flush
from alerting.slack import SlackNotifier
from alerting.store import AlertStore, StoredAlert, alert_id
from pipeline.graphite import GraphiteClient
from tare.alerts_config import AlertsSection
from tare.errors import ConfigError
from tare.secrets import SlackSecrets

RENDER_BATCH = 60


@dataclass(frozen=True, slots=True)
class Outcome:
    evaluation: Evaluation
    new: tuple[tuple[str, Alert], ...]
    known: tuple[tuple[str, Alert], ...]
    delivery: FlushResult | None


def rules_of(section: AlertsSection) -> list[ThresholdRule]:
    return [
        ThresholdRule(
            kpi=t.kpi,
            limit=float(t.limit),
            relative=t.relative,
            upper=t.direction == "upper",
            mode=t.mode,
            rate=str(t.rate) if t.rate is not None else None,
            factors=tuple(f"{k}_{v}" for k, v in t.factors.items()),
        )
        for t in section.thresholds
    ]


def settings_of(section: AlertsSection) -> Settings:
    return Settings(
        detector=changepoints.Settings(
            confirm_nights=section.confirm_nights,
            outlier_z=section.outlier_z,
            max_pvalue=section.max_pvalue,
        ),
        recent_nights=section.recent_nights,
    )


def fetch_nightly(
    client: GraphiteClient, prefix: str, campaign: str | None, nights: int
) -> pd.DataFrame:
    """Every nightly series under ``prefix`` (of one campaign, when given), ``nights`` back."""
    head = f"{prefix}.nightly."
    paths = [p for p in client.index() if p.startswith(head)]
    if campaign is not None:
        paths = [p for p in paths if p[len(head) :].split(".")[1:2] == [campaign]]
    points: list[tuple[str, int, float]] = []
    for i in range(0, len(paths), RENDER_BATCH):
        for series in client.render(paths[i : i + RENDER_BATCH], f"-{nights}d"):
            points += [(series.target, ts, v) for ts, v in series.values()]
    return to_frame(prefix, points)


def agent_versions(ledger_path: Path) -> dict[tuple[str, str, str], tuple[str, ...]]:
    """(campaign name, night, mode) -> the agent versions its runs reported, from the ledger."""
    if not ledger_path.exists():
        return {}
    from harness.ledger import Ledger

    ledger = Ledger(ledger_path)
    try:
        out: dict[tuple[str, str, str], set[str]] = {}
        for c in ledger.campaigns():
            for r in ledger.runs(c["id"]):
                v = r.manifest.get("agent_version")
                if v:
                    out.setdefault((c["name"], c["night"], r.mode), set()).add(str(v))
        return {k: tuple(sorted(v)) for k, v in out.items()}
    finally:
        ledger.close()


def context_for(
    a: Alert,
    versions: dict[tuple[str, str, str], tuple[str, ...]],
    nights: Sequence[str],
    dashboard_url: str | None,
) -> Context:
    mode = a.cell.split(".")[0]
    after = versions.get((a.campaign, a.night, mode), ())
    earlier = [n for n in nights if n < a.night]
    before = versions.get((a.campaign, earlier[-1], mode), ()) if earlier else ()
    return Context(alert_id(a.key), "new", before, after, dashboard_url)


def _context(d: dict[str, Any], state: str) -> Context:
    return Context(
        d["alert_id"],
        state,
        tuple(d.get("versions_before") or ()),
        tuple(d.get("versions_after") or ()),
        d.get("dashboard_url"),
    )


def notifier_for(choice: str, secrets: SlackSecrets) -> Notifier | None:
    if choice == "none":
        return None
    if choice == "console" or (choice == "auto" and not secrets.configured):
        return ConsoleNotifier(sys.stdout)
    if not secrets.configured:
        raise ConfigError(
            "--notify slack: set SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN and a channel "
            "(SLACK_CHANNEL or alerts.slack_channel)"
        )
    return SlackNotifier(
        webhook_url=None if secrets.token and secrets.channel else secrets.webhook_url,
        token=secrets.token,
        channel=secrets.channel,
        base_url=secrets.api_url,
    )


def run_alert(
    frame: pd.DataFrame,
    section: AlertsSection,
    store: AlertStore | None,
    notifier: Notifier | None,
    versions: dict[tuple[str, str, str], tuple[str, ...]],
) -> Outcome:
    """Evaluate; record what is new and queue its message (unless ``store`` is None: dry run);
    deliver the outbox."""
    ev = evaluate(frame, rules_of(section), settings_of(section))
    new: list[tuple[str, Alert]] = []
    known: list[tuple[str, Alert]] = []
    for a in ev.alerts:
        ctx = context_for(
            a, versions, ev.nights.get((a.platform, a.campaign), ()), section.dashboard_url
        )
        if store is None:
            new.append((ctx.alert_id, a))
            continue
        aid = store.record(a, dataclasses.asdict(ctx), build(a, ctx).payload())
        if aid is None:
            known.append((store.known(a) or ctx.alert_id, a))
        else:
            new.append((aid, a))
    delivery = flush(store, notifier) if store is not None and notifier is not None else None
    return Outcome(ev, tuple(new), tuple(known), delivery)


def change_state(
    store: AlertStore, prefix: str, state: str, note: str | None, notifier: Notifier | None
) -> tuple[StoredAlert, FlushResult | None]:
    aid = store.resolve_id(prefix)
    current = store.get(aid)
    ctx = _context(current.context, state)
    message = {
        "edited": build(current.alert, ctx).payload(),
        "reply": state_change(aid, state, note).payload(),
    }
    updated = store.set_state(aid, state, note, message)
    return updated, flush(store, notifier) if notifier is not None else None


def regressions(new: Iterable[tuple[str, Alert]]) -> list[tuple[str, Alert]]:
    return [(i, a) for i, a in new if a.kind in GATING]
