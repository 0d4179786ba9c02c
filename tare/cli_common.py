"""Helpers shared by the verbs of the ``tare`` command."""

from __future__ import annotations

import json
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


def emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))
