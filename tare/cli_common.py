"""Helpers shared by the verbs of the ``tare`` command."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from tare.errors import UsageError
from tare.secrets import RedactingFilter


def log_to_file(state_dir: Path) -> None:
    """Keep a full log (tracebacks included) under the state directory."""
    log_dir = state_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "tare.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    handler.addFilter(RedactingFilter())
    logging.getLogger().addHandler(handler)


def state_path(state_dir: Path, name: str, missing: str) -> Path:
    """A file under the state directory that must exist already (``missing`` says what to do,
    with ``{dir}`` for the directory); logs go to the state directory from here on."""
    log_to_file(state_dir)
    path = state_dir / name
    if not path.exists():
        raise UsageError(missing.format(dir=state_dir))
    return path


def emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def fmt_s(seconds: float) -> str:
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
