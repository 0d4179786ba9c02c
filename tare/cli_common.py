"""Helpers shared by the verbs of the ``tare`` command."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from contracts.errors import UsageError


def state_path(state_dir: Path, name: str, missing: str) -> Path:
    """A file under the state directory that must exist already (``missing`` says what to do,
    with ``{dir}`` for the directory)."""
    path = state_dir / name
    if not path.exists():
        raise UsageError(missing.format(dir=state_dir))
    return path


def _strict(data: Any) -> Any:
    """JSON has no NaN or infinity: a figure that does not exist is null."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _strict(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_strict(v) for v in data]
    return data


def emit(data: Any) -> None:
    click.echo(json.dumps(_strict(data), indent=2, sort_keys=True, allow_nan=False))
