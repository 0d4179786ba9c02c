"""What the calibration's design (``harness.calibration``) and its evaluation
(``pipeline.calibration``) share: the switchable techniques, the ballast's size and the groups."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Techniques:
    """The noise-reduction techniques, each switchable so its effect can be measured."""

    exact_cpu: bool = True  # wall - idle per core and the cgroup; off: /proc/stat busy ticks
    pinning: bool = True  # generator and workload on separate cores
    rps: bool = True  # packet processing steered to each side's cores
    short_runs: bool = True  # many short interleaved runs; off: one long run per side
    trimming: bool = True  # warm-up and cool-down left out; off: the whole run
    sequential: bool = True  # stop once every CI is narrow enough; off: spend the budget
    covariate: bool = True  # CPU KPIs adjusted by each run's probe before the agent


@dataclass(frozen=True, slots=True)
class Ballast:
    """The agent of known cost: a CPU share of one core and resident memory."""

    cpu_percent: float = 5.0
    memory_mb: float = 64.0

    def __post_init__(self) -> None:
        if not 0 < self.cpu_percent <= 100:
            raise ValueError("--cpu-percent must be within (0, 100]")
        if self.memory_mb <= 0:
            raise ValueError("--memory-mb must be > 0")


class Group(StrEnum):
    A = "A"  # baseline
    A2 = "A2"  # baseline again: the A/A test
    B = "B"  # the ballast

    @property
    def baseline(self) -> bool:
        return self is not Group.B


BALLAST_MODE = "ballast"
