"""How precisely the lab sees an overhead (pure: per-run values in, verdicts out).

* ``adjusted``: covariate adjustment (CUPED / ANCOVA): each run's KPI minus theta times its
  covariate's departure from the grand mean, theta the pooled within-group slope. With the load
  core's busy time as covariate it removes the part of the run-to-run noise that both cores share
  (the machine's state, the generator's own jitter).
* ``judge``: is the injected value inside the recovered 95 % CI, is the CI narrow enough, and (for
  an A/A pair) is the difference not significant.
* ``holm``: Holm's step-down correction, for an A/A verdict over several KPIs at once (five KPIs
  tested at 5 % each would fail one A/A in four by chance alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from pipeline.stats import ALPHA, Comparison, compare, welch


def adjusted(
    a: Sequence[float], xa: Sequence[float], b: Sequence[float], xb: Sequence[float]
) -> tuple[list[float], list[float], float]:
    """(a', b', theta): the runs' values with the covariate's effect removed."""
    ya, yb = np.asarray(a, float), np.asarray(b, float)
    ca, cb = np.asarray(xa, float), np.asarray(xb, float)
    dxa, dxb = ca - ca.mean(), cb - cb.mean()
    sxx = float(np.sum(dxa**2) + np.sum(dxb**2))
    if sxx <= 0 or len(ya) + len(yb) < 4:
        return list(map(float, ya)), list(map(float, yb)), 0.0
    theta = float(np.sum(dxa * (ya - ya.mean())) + np.sum(dxb * (yb - yb.mean()))) / sxx
    grand = float(np.concatenate((ca, cb)).mean())
    return (
        [float(v) for v in ya - theta * (ca - grand)],
        [float(v) for v in yb - theta * (cb - grand)],
        theta,
    )


BALANCE_P = 0.2


def compare_runs(
    a: Sequence[Sequence[float]],
    b: Sequence[Sequence[float]],
    covariate: tuple[Sequence[float], Sequence[float]] | None = None,
) -> Comparison:
    """Per-second values of each run on each side; with a covariate (one value per run), Welch
    on the adjusted run means, method ``welch+covariate``.

    The adjustment is only unbiased when the contender does not move the covariate. Measured
    here: a 10 %-of-a-core ballast at 10K conn/s raised the load core's busy time by 3.2 points
    (p=0.04), and the adjusted overhead came out at 9.1 [8.3, 9.9] instead of 10. So the
    covariate is used only when its two sides look balanced (Welch p >= 0.2); otherwise the
    plain comparison, method ``welch (covariate unbalanced)``."""
    if covariate is None or len(a) < 2 or len(b) < 2:
        return compare(a, b)
    ma = [float(np.mean(r)) for r in a]
    mb = [float(np.mean(r)) for r in b]
    balance = welch(list(covariate[0]), list(covariate[1]))
    if balance.pvalue < BALANCE_P:
        return replace(welch(ma, mb), method="welch (covariate unbalanced)")
    adj_a, adj_b, _theta = adjusted(ma, covariate[0], mb, covariate[1])
    return replace(welch(adj_a, adj_b), method="welch+covariate")


def holm(pvalues: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Which hypotheses are rejected (significant) under Holm's correction."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    rejected = [False] * len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] >= alpha / (len(pvalues) - rank):  # strict, like Comparison.significant
            break
        rejected[i] = True
    return rejected


@dataclass(frozen=True, slots=True)
class Verdict:
    kpi: str
    injected: float | None  # None for an A/A pair
    recovered: Comparison
    max_half_width: float | None
    inside: bool | None
    narrow: bool | None
    problems: tuple[str, ...]
    resolution: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def half_width(self) -> float:
        return (self.recovered.ci_high - self.recovered.ci_low) / 2


def judge(
    kpi: str,
    injected: float,
    recovered: Comparison,
    max_half_width: float | None,
    unit: str,
    resolution: float = 0.0,
) -> Verdict:
    """``resolution``: how far outside the CI the injected value may lie and still count as
    recovered, for a KPI whose accounting is coarser than its noise (cgroup memory: see
    docs/precision.md). ``inside`` itself is always strict."""
    inside = recovered.ci_low <= injected <= recovered.ci_high
    within = recovered.ci_low - resolution <= injected <= recovered.ci_high + resolution
    half = (recovered.ci_high - recovered.ci_low) / 2
    narrow = None if max_half_width is None else half <= max_half_width
    problems = []
    if narrow is False:
        problems.append(f"too noisy: CI +-{half:.2f} {unit} is wider than +-{max_half_width:g}")
    if not within:
        side = "below" if injected < recovered.ci_low else "above"
        slack = f" by more than its resolution {resolution:g} {unit}" if resolution else ""
        problems.append(
            f"biased: injected {injected:g} {unit} is {side} the CI "
            f"[{recovered.ci_low:.2f}, {recovered.ci_high:.2f}]{slack}"
        )
    return Verdict(
        kpi, injected, recovered, max_half_width, inside, narrow, tuple(problems), resolution
    )


def judge_aa(kpis: Sequence[str], comparisons: Sequence[Comparison]) -> list[Verdict]:
    flags = holm([c.pvalue for c in comparisons])
    return [
        Verdict(
            k,
            None,
            c,
            None,
            None,
            None,
            (f"A/A difference significant (p={c.pvalue:.3g}, Holm-corrected)",) if sig else (),
        )
        for k, c, sig in zip(kpis, comparisons, flags, strict=True)
    ]
