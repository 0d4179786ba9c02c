"""The adaptive nightly's stopping rule and its expected length (pure: overheads and noise in,
verdicts and round counts out).

A block (a baseline and its contenders) has reached its precision when every judged KPI of
every contender has a between-run 95 % CI whose half-width is within the KPI's target; KPIs
whose runs did not vary at all (the series' resolution) count as reached, a comparison without
an interval does not. The rule looks at the width of the interval only, never at where the
estimate lies, so stopping does not steer the overhead; ``benchmarks/nightly_budget.py``
measures what the early stop costs in coverage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

from contracts.durations import fmt_duration
from contracts.kpis import CPU_UNIT, KPIS, MEMORY_UNIT, Kpi
from contracts.noise import Noise
from pipeline.analysis import Levels, Overhead
from pipeline.stats import ALPHA, NO_VARIATION

DEFAULT_TARGET = {CPU_UNIT: 1.0, MEMORY_UNIT: 2.0, "%": 1.0}
# Judged, but no target unless the campaign names one: machine-wide CPU that on a one-machine
# lab carries the load generator's own CPU (cpu_all), and softirq time whose share moves with
# where the kernel accounts it (in context or in ksoftirqd). Measured here at 5K/s between
# 30 s runs: sd 6.9 and 7.9 points against 2.1 for cpu_cgroup; a 1-point target for them would
# spend every night's budget (docs/nightly.md).
NO_DEFAULT_TARGET = frozenset({"cpu_all", "softirq_all"})


def targets(overrides: Mapping[str, float]) -> dict[str, float]:
    """The target half-width of the judged KPIs the adaptive rule waits for: the campaign's,
    else its unit's default (none by default for ``NO_DEFAULT_TARGET``)."""
    out = {}
    for k in judged():
        if k.name in overrides:
            out[k.name] = float(overrides[k.name])
        elif k.name not in NO_DEFAULT_TARGET and k.unit in DEFAULT_TARGET:
            out[k.name] = DEFAULT_TARGET[k.unit]
    return out


def judged() -> list[Kpi]:
    return [k for k in KPIS if k.judged]


def half_width(o: Overhead) -> float | None:
    """The CI's half-width in the unit its target is in (% for relative-only KPIs); None
    without an interval."""
    if o.absolute is not None:
        c = o.absolute
        return (c.ci_high - c.ci_low) / 2 if c.inferred else None
    if o.relative_ci is None:
        return None
    return (o.relative_ci[1] - o.relative_ci[0]) / 2


@dataclass(frozen=True, slots=True)
class Short:
    """A judged KPI of a cell whose interval is wider than its target (or absent)."""

    cell: Levels
    kpi: str
    half_width: float | None
    target: float
    unit: str

    def to_json(self) -> dict[str, object]:
        return {
            "cell": dict(self.cell),
            "kpi": self.kpi,
            "half_width": self.half_width,
            "target": self.target,
        }

    def describe(self) -> str:
        cell = " ".join(f"{k}={v}" for k, v in self.cell)
        got = "no interval" if self.half_width is None else f"+-{self.half_width:.2f}"
        return f"{cell} {self.kpi}: {got} {self.unit}, target +-{self.target:g}"


def short_of(overheads: Iterable[Overhead], goal: Mapping[str, float]) -> list[Short]:
    """Every judged overhead not yet within its target."""
    out = []
    for o in overheads:
        if not o.judged or o.kpi not in goal or o.method.startswith(NO_VARIATION):
            continue
        hw = half_width(o)
        if hw is None or not math.isfinite(hw) or hw > goal[o.kpi]:
            unit = "%" if o.absolute is None else o.unit
            out.append(Short(o.cell, o.kpi, hw, goal[o.kpi], unit))
    return out


def block_short(
    overheads: Sequence[Overhead], contenders: Iterable[Levels], goal: Mapping[str, float]
) -> list[Short]:
    """A block's judged overheads not within target, and every (contender, KPI) with no
    overhead at all (its runs invalid, its series missing): a block is done only when each of
    its contenders has every judged KPI the block measured, each within target."""
    out = short_of(overheads, goal)
    kpis = sorted({o.kpi for o in overheads if o.judged and o.kpi in goal}) or ["every KPI"]
    have = {(o.cell, o.kpi) for o in overheads}
    for cell in sorted(set(contenders), key=str):
        out += [Short(cell, k, None, goal.get(k, 0.0), "") for k in kpis if (cell, k) not in have]
    return out


def looks_at(rounds: int, min_rounds: int) -> bool:
    """The rule looks after every second round from ``min_rounds``: each look then ends on a
    whole forward-and-back pair, so a linear drift of the machine adds nothing to any cell."""
    return rounds >= min_rounds and (rounds - min_rounds) % 2 == 0


def welch_half_width(sd: float, rounds: int) -> float:
    """The CI half-width of two groups of ``rounds`` runs with between-run sd ``sd``."""
    df = 2 * rounds - 2
    return float(stats.t.ppf(1 - ALPHA / 2, df)) * sd * math.sqrt(2 / rounds)


def rounds_needed(sd: Mapping[str, float], goal: Mapping[str, float], lo: int, hi: int) -> int:
    """The first look at which every KPI with a known sd is within its target at that sd (the
    expected stop when the sd is estimated well), capped at the budget ``hi``."""
    n = lo
    while n < hi:
        if all(welch_half_width(s, n) <= goal[k] for k, s in sd.items() if k in goal):
            return n
        n += 2
    return hi


@dataclass(frozen=True, slots=True)
class BlockCost:
    name: str
    rate: int
    round_s: float  # wall time of one round of the block


@dataclass(frozen=True, slots=True)
class Expected:
    least_s: float  # every block stops at the first look
    expected_s: float  # each block at the look its measured noise needs
    most_s: float  # every block spends the budget
    lines: list[str]


def expected(
    blocks: Sequence[BlockCost],
    lo: int,
    hi: int,
    goal: Mapping[str, float],
    noise: Sequence[Noise],
    run_s: int,
) -> Expected:
    """An adaptive night's wall time from the noise ``tare calibrate`` measured: the nearest
    calibrated rate (of this run length when there is one) stands in for each block."""
    least = most = exp = 0.0
    lines = []
    for b in blocks:
        least, most = least + lo * b.round_s, most + hi * b.round_s
        same = [n for n in noise if n.run_s == run_s] or list(noise)
        if not same:
            exp += hi * b.round_s
            lines.append(f"  {b.name}: no noise measured (tare calibrate): the budget, {hi} rounds")
            continue
        n = min(same, key=lambda x: (abs(x.rate - b.rate), abs(x.run_s - run_s)))
        sd = {k: v for k, v in n.sd.items() if k in goal}
        rounds = rounds_needed(sd, goal, lo, hi)
        exp += rounds * b.round_s
        widest = max(sd, key=lambda k: sd[k] / goal[k]) if sd else None
        what = f"widest {widest} sd {sd[widest]:.2f}" if widest else "no judged KPI measured"
        lines.append(
            f"  {b.name}: {rounds} rounds, {fmt_duration(rounds * b.round_s)} (noise at "
            f"{n.rate}/s, {n.run_s} s runs, {n.runs} runs; {what})"
        )
    return Expected(least, exp, most, lines)
