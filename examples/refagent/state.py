"""The agent's state directory: installed policy, wanted mode, what the daemon last applied."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refagent.policy import Policy, parse_policy
from refagent.ruleset import MODES, Mode, Style


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class StateDir:
    root: Path

    @property
    def policy(self) -> Path:
        return self.root / "policy.json"

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def mode_file(self) -> Path:
        return self.root / "mode"

    @property
    def pid_file(self) -> Path:
        return self.root / "refagent.pid"

    @property
    def heartbeat(self) -> Path:
        return self.root / "heartbeat"

    @property
    def applied(self) -> Path:
        return self.root / "applied.json"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    @property
    def log(self) -> Path:
        return self.root / "refagent.log"

    def installed(self) -> bool:
        return self.config.exists() and self.policy.exists()

    def read_policy(self) -> Policy:
        return parse_policy(self.policy.read_text(), str(self.policy))

    def read_config(self) -> dict[str, Any]:
        data = json.loads(self.config.read_text())
        return data if isinstance(data, dict) else {}

    def style(self) -> Style:
        return "linear" if self.read_config().get("style") == "linear" else "sets"

    def sync_interval(self) -> float:
        return float(self.read_config().get("sync_interval_s", 5.0))

    def updates_per_min(self) -> float:
        """Policy updates a minute the daemon applies by itself (0: none)."""
        return float(self.read_config().get("updates_per_min", 0.0))

    def churn_fraction(self) -> float:
        """The share of the filler entries each policy update replaces."""
        return float(self.read_config().get("churn", 0.1))

    def mode(self) -> Mode:
        try:
            text = self.mode_file.read_text().strip()
        except FileNotFoundError:
            return "idle"
        return text if text in MODES else "idle"  # type: ignore[return-value]

    def read_json(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def heartbeat_age(self) -> float | None:
        try:
            return time.time() - float(self.heartbeat.read_text())
        except (OSError, ValueError):
            return None

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat[stat.rindex(")") + 2] == "Z":
                return None
        except OSError:
            pass
        return pid
