"""The ``[alerts]`` section: detection settings, thresholds and where alerts go.

It lives in a campaign file or in an alerts file of its own (same ``[alerts]`` table), so one set
of rules can serve several campaigns. Secrets (Slack token, webhook URL) are never here: they
come from the environment or a file only the user can read (``alerting.secrets``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.kpis import BY_NAME
from tare.configfile import parse_model, read_text

if TYPE_CHECKING:  # the detector (scipy, pandas) is imported where rules are used, not parsed
    from alerting.evaluate import Settings, ThresholdRule


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ThresholdSpec(_Model):
    kpi: str
    limit: float | int
    relative: bool = False  # True: overhead in % of the baseline; False: in the KPI's unit
    direction: Literal["upper", "lower"] = "upper"
    mode: str | None = None
    rate: Annotated[int, Field(gt=0)] | None = None
    factors: dict[str, int | float | str] = Field(default_factory=dict)

    @field_validator("kpi")
    @classmethod
    def _known_kpi(cls, value: str) -> str:
        if value not in BY_NAME:
            raise ValueError(f"unknown KPI {value!r} (known: {', '.join(BY_NAME)})")
        return value


class AlertsSection(_Model):
    confirm_nights: Annotated[int, Field(ge=1, le=30)] = 2
    recent_nights: Annotated[int, Field(ge=1, le=366)] = 14
    history_nights: Annotated[int, Field(ge=7, le=3650)] = 400
    outlier_z: Annotated[float, Field(gt=0)] = 4.5
    max_pvalue: Annotated[float, Field(gt=0, lt=1)] = 0.001
    drift_nights: Annotated[int, Field(ge=8, le=366)] = 30
    drift_sd: Annotated[float, Field(gt=0)] = 2.0
    dashboard_url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    slack_channel: str | None = None
    thresholds: list[ThresholdSpec] = Field(default_factory=list)


class AlertsFile(_Model):
    alerts: AlertsSection


def load_alerts_file(path: Path) -> AlertsSection:
    label = str(path)
    return parse_model(read_text(path, label, "alerts file"), label, AlertsFile).alerts


def rules_of(section: AlertsSection) -> list[ThresholdRule]:
    from alerting.evaluate import ThresholdRule

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
    from alerting import changepoints
    from alerting.evaluate import Settings

    return Settings(
        detector=changepoints.Settings(
            confirm_nights=section.confirm_nights,
            outlier_z=section.outlier_z,
            max_pvalue=section.max_pvalue,
            drift_nights=section.drift_nights,
            drift_sd=section.drift_sd,
        ),
        recent_nights=section.recent_nights,
    )
