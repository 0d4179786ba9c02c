"""One alert cycle: evaluate the nightly frame, record what is new (and queue its message) in
the alert store, deliver the outbox; and an alert's state changes. The frame comes from the
pipeline (``pipeline.nightly.fetch``), the agent versions from the run ledger's records."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from alerting import changepoints
from alerting.errors import AlertingError
from alerting.evaluate import (
    GATING,
    Alert,
    Detector,
    Evaluation,
    Settings,
    ThresholdRule,
    evaluate,
)
from alerting.messages import Context, build, state_change
from alerting.notify import ConsoleNotifier, FlushResult, Notifier, flush
from alerting.secrets import SlackSecrets
from alerting.slack import SlackNotifier
from alerting.store import AlertStore, StoredAlert, alert_id
from contracts.errors import ErrorKind
from contracts.manifest import CampaignRecord, RunRecord
from contracts.states import AlertState


class NotifierUnconfigured(AlertingError):
    kind = ErrorKind.BAD_INPUT


@dataclass(frozen=True, slots=True)
class Outcome:
    evaluation: Evaluation
    new: tuple[tuple[str, Alert], ...]
    known: tuple[tuple[str, Alert], ...]
    delivery: FlushResult | None


Versions = dict[tuple[str, str, str], tuple[str, ...]]


def agent_versions(campaigns: Iterable[tuple[CampaignRecord, Sequence[RunRecord]]]) -> Versions:
    """(campaign name, night, mode) -> the agent versions its runs reported."""
    out: dict[tuple[str, str, str], set[str]] = {}
    for c, rows in campaigns:
        for r in rows:
            v = r.manifest.agent_version if r.manifest else None
            if v:
                out.setdefault((c.name, c.night, r.mode), set()).add(str(v))
    return {k: tuple(sorted(v)) for k, v in out.items()}


def context_for(
    a: Alert,
    versions: Versions,
    nights: Sequence[str],
    dashboard_url: str | None,
) -> Context:
    mode = a.cell.split(".")[0]
    after = versions.get((a.campaign, a.night, mode), ())
    earlier = [n for n in nights if n < a.night]
    before = versions.get((a.campaign, earlier[-1], mode), ()) if earlier else ()
    return Context(alert_id(a.key), AlertState.NEW.value, before, after, dashboard_url)


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
        raise NotifierUnconfigured(
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
    rules: Sequence[ThresholdRule],
    settings: Settings,
    dashboard_url: str | None,
    store: AlertStore | None,
    notifier: Notifier | None,
    versions: Versions,
    detect: Detector = changepoints.detect,
) -> Outcome:
    """Evaluate; record what is new and queue its message (unless ``store`` is None: dry run);
    deliver the outbox."""
    ev = evaluate(frame, rules, settings, detect)
    new: list[tuple[str, Alert]] = []
    known: list[tuple[str, Alert]] = []
    for a in ev.alerts:
        ctx = context_for(a, versions, ev.nights.get((a.platform, a.campaign), ()), dashboard_url)
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
