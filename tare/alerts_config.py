"""The ``[alerts]`` section: detection settings, thresholds and where alerts go.

It lives in a campaign file or in an alerts file of its own (same ``[alerts]`` table), so one set
of rules can serve several campaigns. Secrets (Slack token, webhook URL) are never here: they
come from the environment or a file only the user can read (``tare.secrets``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.kpis import BY_NAME
from tare.errors import ConfigError


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
    dashboard_url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    slack_channel: str | None = None
    thresholds: list[ThresholdSpec] = Field(default_factory=list)


class AlertsFile(_Model):
    alerts: AlertsSection


def load_alerts_file(path: Path) -> AlertsSection:
    from tare.config import _message, _read_text, format_loc

    label = str(path)
    text = _read_text(path, label)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from None
    try:
        return AlertsFile.model_validate(raw).alerts
    except ValidationError as exc:
        lines = [
            f"{label}: {format_loc(err['loc']) or '(top level)'}: {_message(err)}"
            for err in exc.errors()
        ]
        raise ConfigError(lines[0], details=lines) from None
