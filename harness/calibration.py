"""The calibration's design: three groups of runs interleaved round after round (A B A2, then
A2 B A, ...), A and A2 the baseline twice (the A/A test), B the ballast agent
(``harness/ballast.py``) of known CPU share and resident memory; after each round the caller's
``done`` decides whether every judged CI is narrow enough (sequential stopping), else the
budget of load seconds per pair ends it. The evaluation is ``pipeline.calibration``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from contracts.calibration import BALLAST_MODE, Ballast, Group, Techniques
from contracts.errors import ErrorKind
from contracts.manifest import BASELINE
from harness.agent import AgentCommands
from harness.errors import HarnessError
from harness.runner import RunnerConfig

SETUP_S = 7.0  # lab, workload, agent up and down per run (measured here: 5-8 s)
PORT = 8080
PROCESS = "tare-ballast"
MAX_DISTURBANCE_PCT = 5.0  # a disturbed run is left out (``harness.disturbance``)
T = TypeVar("T")


class BadCalibration(HarnessError):
    kind = ErrorKind.USAGE


@dataclass(frozen=True, slots=True)
class Design:
    ballast: Ballast = field(default_factory=Ballast)
    rate: int = 5000
    budget_s: int = 600  # seconds of load per pair (A/B, and A/A)
    run_s: int = 30
    warmup_s: int = 5
    cooldown_s: int = 2
    min_rounds: int = 3
    techniques: Techniques = field(default_factory=Techniques)
    aa_only: bool = False  # the noise floor alone (benchmarks/noise_floor.py)
    max_rounds: int | None = None  # default: as many as the budget allows
    max_disturbance_pct: float = MAX_DISTURBANCE_PCT  # points of one core outside the lab
    probe_s: int = 4  # the machine-speed probe before the agent (``harness.speed``)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise BadCalibration("--rate must be > 0")
        if self.run_s <= self.warmup_s + self.cooldown_s + 4:
            raise BadCalibration("--run-s must leave at least 5 s between warm-up and cool-down")
        if self.budget_s < 2 * self.run_s * (2 if self.techniques.short_runs else 1):
            raise BadCalibration(f"--budget-s must allow two runs per side ({4 * self.run_s} s)")
        if not 0 < self.max_disturbance_pct <= 200:
            raise BadCalibration("--max-disturbance must be in (0, 200] points of one core")

    @property
    def run_length_s(self) -> int:
        return self.run_s if self.techniques.short_runs else self.budget_s // 2

    @property
    def rounds(self) -> int:
        return self.max_rounds or max(1, self.budget_s // (2 * self.run_length_s))

    def order(self, rnd: int) -> tuple[Group, ...]:
        """The groups of round ``rnd`` (0-based): the order reversed in alternate rounds."""
        if self.aa_only:
            return (Group.A, Group.A2) if rnd % 2 == 0 else (Group.A2, Group.A)
        return (Group.A, Group.B, Group.A2) if rnd % 2 == 0 else (Group.A2, Group.B, Group.A)

    def levels(self, group: Group) -> dict[str, int | float | str]:
        b = self.ballast
        mode = BALLAST_MODE if group is Group.B else BASELINE
        return {
            "mode": mode,
            "rate": self.rate,
            "cpu_percent": b.cpu_percent,
            "memory_mb": b.memory_mb,
        }


def runner_config(d: Design, state_dir: Path) -> RunnerConfig:
    """nginx as the workload, tare-ballast as the agent, the design's run length."""
    state = ("--state-dir", "{lab_dir}/ballast")
    size = ("--cpu-percent", "{cpu_percent}", "--memory-mb", "{memory_mb}")
    nginx = ("nginx", "-p", "{lab_dir}/nginx", "-c", "{lab_dir}/nginx/nginx.conf")
    trim = d.techniques.trimming
    run_s = d.run_length_s
    return RunnerConfig(
        workload_argv=(*nginx, "-g", "daemon off;"),
        port=PORT,
        path="/",
        ready_timeout_s=15.0,
        agent=AgentCommands(
            install=(PROCESS, "install", *state, *size),
            uninstall=(PROCESS, "uninstall", *state),
            set_mode=(PROCESS, "mode", "{mode}", *state),
            start=(PROCESS, "start", *state),
            stop=(PROCESS, "stop", *state),
            health=(PROCESS, "status", *state),
            version=(PROCESS, "--version"),
            health_timeout_s=20.0,
        ),
        tool="h2load",
        duration_s=run_s,
        warmup_s=d.warmup_s if trim else 0,
        cooldown_s=d.cooldown_s if trim else 0,
        min_ratio=0.98,
        run_timeout_s=run_s * 3 + 60,
        lab_root=state_dir / "lab" / "runs",
        state_dir=state_dir,
        max_disturbance_pct=d.max_disturbance_pct,
        probe_s=d.probe_s if d.techniques.covariate else 0,
    )


def run_rounds(
    d: Design,
    execute: Callable[[Group, int], T],
    done: Callable[[list[T]], bool],
) -> tuple[list[T], int, str]:
    """(results, rounds run, why it stopped); ``execute(group, round)`` runs one run."""
    results: list[T] = []
    for rnd in range(d.rounds):
        for group in d.order(rnd):
            results.append(execute(group, rnd))
        sequential = d.techniques.sequential and not d.aa_only
        if sequential and rnd + 1 >= d.min_rounds and done(results):
            return results, rnd + 1, "every CI narrow enough"
    return results, d.rounds, "budget spent"
