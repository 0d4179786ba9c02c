"""Capacity against baseline: the change of each mode's closed-loop maximum rate, in % of the
baseline's, with a between-sweep interval (Welch on the sweeps' maxima; pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from contracts.manifest import BASELINE
from pipeline.stats import Comparison, welch


@dataclass(frozen=True, slots=True)
class CapacityChange:
    mode: str
    sweeps: int  # successful sweeps of this mode
    max_rate: float | None  # mean over the sweeps
    change_pct: float | None  # (mode - baseline) / baseline x 100
    ci_pct: tuple[float, float] | None  # None: fewer than 2 sweeps a side (no inference)
    pvalue: float | None

    @property
    def method(self) -> str:
        return "welch (between sweeps)" if self.ci_pct else "no inference (< 2 sweeps a side)"


def capacity_changes(maxima: Mapping[str, Sequence[float]]) -> list[CapacityChange]:
    """``maxima``: mode -> the maximum rate of each successful sweep."""
    base = [float(v) for v in maxima.get(BASELINE, ())]
    base_mean = float(np.mean(base)) if base else None
    out: list[CapacityChange] = []
    for mode, values in maxima.items():
        vals = [float(v) for v in values]
        mean = float(np.mean(vals)) if vals else None
        change = ci = p = None
        if mode != BASELINE and base_mean and mean is not None:
            change = (mean - base_mean) / base_mean * 100
            if len(base) >= 2 and len(vals) >= 2:
                c: Comparison = welch(base, vals)
                ci = (c.ci_low / base_mean * 100, c.ci_high / base_mean * 100)
                p = c.pvalue
        out.append(CapacityChange(mode, len(vals), mean, change, ci, p))
    return out


def capacity_table(changes: Sequence[CapacityChange]) -> list[str]:
    lines = [f"{'mode':12} {'sweeps':>6} {'capacity conn/s':>16} {'vs baseline, 95% CI':>32}"]
    for c in changes:
        cap = f"{c.max_rate:.0f}" if c.max_rate else "-"
        if c.change_pct is None:
            vs = ""
        elif c.ci_pct is None:
            vs = f"{c.change_pct:+.1f}% (no inference)"
        else:
            vs = f"{c.change_pct:+.1f}% [{c.ci_pct[0]:+.1f},{c.ci_pct[1]:+.1f}]"
        lines.append(f"{c.mode:12} {c.sweeps:>6} {cap:>16} {vs:>32}")
    return lines
