"""Graphite events tare posts (``/events``), as the dashboards' annotations read them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from contracts.labels import label, tag_value
from contracts.manifest import Levels, levels_of
from contracts.states import RunState

TARE_TAG = "tare"
RUN_TAG = "run"
RATE_TAG = "rate-"
STEADY_END_TAG = "steady-end"


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One run, posted when it ends, dated at its steady window's start."""

    run_id: str
    campaign: str
    campaign_id: str
    levels: Levels
    status: RunState
    reason: str | None
    when: int  # epoch seconds

    @property
    def what(self) -> str:
        return f"tare run {self.run_id}"

    def tags(self) -> list[str]:
        levels = dict(self.levels)
        return [
            TARE_TAG,
            RUN_TAG,
            tag_value(label(self.campaign)),
            tag_value(label(levels["mode"])),
            f"{RATE_TAG}{tag_value(levels['rate'])}",
            self.status.value,
            tag_value(self.run_id),
        ]

    def data(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "campaign": self.campaign,
                "campaign_id": self.campaign_id,
                "levels": dict(self.levels),
                "status": self.status.value,
                "reason": self.reason,
            }
        )

    @classmethod
    def from_graphite(cls, event: dict[str, Any]) -> RunEvent:
        """From one entry of graphite-web's ``/events/get_data``."""
        d = json.loads(event["data"])
        return cls(
            str(d["run_id"]),
            str(d["campaign"]),
            str(d["campaign_id"]),
            levels_of(d["levels"]),
            RunState(d["status"]),
            d.get("reason"),
            int(event["when"]),
        )


ALERT_TAG = "alert"
AGENT_TAG = "agent-version"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert when it is new or changes state (acknowledged, resolved ...), dated at the night
    its change happened (new) or when its state changed, for the trend panels' annotations."""

    alert_id: str
    kind: str  # regression, improvement, threshold, ...
    platform: str
    campaign: str
    cell: str  # "mode.rate_R[.factor_level...]"
    night: str
    state: str  # new, acknowledged, resolved, ...
    when: int
    summary: str  # one line, what the on-call engineer reads first

    @property
    def what(self) -> str:
        return f"tare alert {self.alert_id} {self.kind} {self.cell}: {self.state}"

    def tags(self) -> list[str]:
        mode, _, rest = self.cell.partition(".")
        rate = rest.split(".")[0].removeprefix("rate_") if rest else ""
        tags = [TARE_TAG, ALERT_TAG, tag_value(label(self.kind)), tag_value(label(self.campaign))]
        tags += [tag_value(label(mode))] if mode and mode != "*" else []
        tags += [f"{RATE_TAG}{tag_value(label(rate))}"] if rate else []
        return [*tags, tag_value(label(self.state))]

    def data(self) -> str:
        return json.dumps(
            {
                "alert_id": self.alert_id,
                "kind": self.kind,
                "platform": self.platform,
                "campaign": self.campaign,
                "cell": self.cell,
                "night": self.night,
                "state": self.state,
                "summary": self.summary,
            }
        )


@dataclass(frozen=True, slots=True)
class AgentVersionEvent:
    """The agent's version changed between two nights of a campaign (dated at the new night)."""

    campaign: str
    mode: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    when: int

    @property
    def what(self) -> str:
        return (
            f"tare agent {self.campaign} {self.mode}: "
            f"{', '.join(self.before) or '-'} -> {', '.join(self.after)}"
        )

    def tags(self) -> list[str]:
        return [TARE_TAG, AGENT_TAG, tag_value(label(self.campaign)), tag_value(label(self.mode))]

    def data(self) -> str:
        return json.dumps(
            {
                "campaign": self.campaign,
                "mode": self.mode,
                "before": list(self.before),
                "after": list(self.after),
            }
        )


@dataclass(frozen=True, slots=True)
class SteadyEnd:
    """The end of a run's steady window (its ``RunEvent`` marks the start): the drill-down
    dashboard shows the window the run's means are taken over between the two."""

    run_id: str
    when: int

    @property
    def what(self) -> str:
        return f"tare run {self.run_id}: steady window ends"

    def tags(self) -> list[str]:
        return [TARE_TAG, STEADY_END_TAG, tag_value(self.run_id)]

    def data(self) -> str:
        return json.dumps({"run_id": self.run_id})
