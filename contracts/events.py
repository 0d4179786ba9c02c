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
