"""Alerts and agent version changes as Graphite events, for the dashboards' annotations (pure:
the events; ``tare alert`` posts them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from alerting.evaluate import Alert
from alerting.messages import describe_cell
from contracts.events import AgentVersionEvent, AlertEvent
from contracts.nights import night_timestamp
from contracts.states import AlertState


def _event(aid: str, a: Alert, state: str, when: int, summary: str) -> AlertEvent:
    return AlertEvent(aid, a.kind, a.platform, a.campaign, a.cell, a.night, state, when, summary)


def new_alerts(new: Iterable[tuple[str, Alert]]) -> list[AlertEvent]:
    """Each new alert, dated at the first night of its change (where the trend moved)."""
    return [
        _event(
            aid,
            a,
            AlertState.NEW.value,
            night_timestamp(a.night),
            f"{a.kind}: {describe_cell(a)}, night {a.night}",
        )
        for aid, a in new
    ]


def state_changed(aid: str, a: Alert, state: str, note: str | None, when: int) -> AlertEvent:
    why = f" ({note})" if note else ""
    return _event(
        aid, a, state, when, f"{state}: {a.kind} {describe_cell(a)}, night {a.night}{why}"
    )


def version_changes(
    versions: Mapping[tuple[str, str, str], Sequence[str]],
) -> list[AgentVersionEvent]:
    """(campaign, night, mode) -> versions: an event on every night whose versions differ from
    the campaign's previous night in that mode (the first night of a campaign is a change from
    nothing)."""
    out: list[AgentVersionEvent] = []
    by_series: dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]] = {}
    for (campaign, night, mode), v in versions.items():
        by_series.setdefault((campaign, mode), []).append((night, tuple(v)))
    for (campaign, mode), nights in sorted(by_series.items()):
        before: tuple[str, ...] = ()
        for night, v in sorted(nights):
            if v != before:
                out.append(AgentVersionEvent(campaign, mode, before, v, night_timestamp(night)))
            before = v
    return out
