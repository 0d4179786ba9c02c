"""The lab's measured noise: what ``tare calibrate`` found between runs (the A/A baselines), kept
per rate and run length so that ``tare plan`` and ``benchmarks/nightly_budget.py`` can tell how
many rounds an adaptive nightly will need. One JSON file per (rate, run length) under
``<state>/noise/``; the newest calibration of a pair replaces the older one."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.errors import BadInput


@dataclass(frozen=True, slots=True)
class Noise:
    rate: int  # new connections/s
    run_s: int  # the run's length, warm-up and cool-down included
    steady_s: int  # the seconds each run's mean is taken over
    sd: Mapping[str, float]  # KPI -> between-run standard deviation of run means
    runs: int  # baseline runs the sd comes from
    measured_at: int  # unix time

    def to_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "run_s": self.run_s,
            "steady_s": self.steady_s,
            "sd": dict(self.sd),
            "runs": self.runs,
            "measured_at": self.measured_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Noise:
        sd = {str(k): float(v) for k, v in dict(data["sd"]).items()}
        if not all(math.isfinite(v) and v >= 0 for v in sd.values()):
            raise ValueError("sd values must be finite and >= 0")
        return cls(
            int(data["rate"]),
            int(data["run_s"]),
            int(data["steady_s"]),
            sd,
            int(data["runs"]),
            int(data["measured_at"]),
        )


def noise_dir(state_dir: Path) -> Path:
    return state_dir / "noise"


def save(state_dir: Path, noise: Noise) -> Path:
    d = noise_dir(state_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"rate-{noise.rate}-run-{noise.run_s}s.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(noise.to_json(), indent=2) + "\n")
    os.replace(tmp, path)
    return path


class BadNoiseFile(BadInput):
    pass


def load_all(state_dir: Path) -> list[Noise]:
    """Every noise record, sorted by rate and run length; a file that cannot be read is named."""
    d = noise_dir(state_dir)
    if not d.is_dir():
        return []
    out = []
    for path in sorted(d.glob("*.json")):
        try:
            out.append(Noise.from_json(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadNoiseFile(f"{path}: {exc}") from None
    return sorted(out, key=lambda n: (n.rate, n.run_s))
