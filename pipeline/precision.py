"""How the calibration judges what it measured (pure: comparisons in, verdicts out).

Recovery is an equivalence rule, not "the injected value lies inside the CI" (which fails a
perfect lab one time in twenty and lets a 40 % bias pass a noisy one): the whole 95 % CI of the
recovered overhead must lie within the injected value +- its margin (CPU: max(1 point of one
core, 20 %); memory: max(2 MB, 10 %)). The A/A test is the same rule around zero: a lab whose
two baselines differ by less than the margin, with an interval to prove it, is fit to measure.
A comparison without an interval (fewer than two finished runs a side) is never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.stats import Comparison


@dataclass(frozen=True, slots=True)
class Margin:
    """How far the recovered overhead may be from the truth: max(absolute, relative x it)."""

    absolute: float
    relative: float

    def of(self, injected: float) -> float:
        return max(self.absolute, self.relative * abs(injected))


CPU_MARGIN = Margin(1.0, 0.20)  # points of one core
MEMORY_MARGIN = Margin(2.0, 0.10)  # MB


@dataclass(frozen=True, slots=True)
class Recovery:
    kpi: str
    injected: float  # 0 for an A/A pair
    recovered: Comparison | None  # None: no comparison at all (no runs, no series)
    margin: float
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def half_width(self) -> float:
        c = self.recovered
        return float("nan") if c is None else (c.ci_high - c.ci_low) / 2

    @property
    def inside(self) -> bool | None:
        """The strict "injected inside the CI", kept for reference; not the verdict."""
        c = self.recovered
        if c is None or not c.inferred:
            return None
        return c.ci_low <= self.injected <= c.ci_high


def judge(
    kpi: str,
    injected: float,
    recovered: Comparison | None,
    margin: float,
    unit: str,
    missing: str | None = None,
) -> Recovery:
    """``missing``: why there is no comparison (say, which group lacks finished runs)."""
    if recovered is None or not recovered.inferred:
        why = missing or (recovered.method if recovered is not None else "no comparison")
        return Recovery(kpi, injected, recovered, margin, (f"not measured: {why}",))
    lo, hi = recovered.ci_low, recovered.ci_high
    half = (hi - lo) / 2
    problems: tuple[str, ...] = ()
    if injected - margin <= lo and hi <= injected + margin:
        pass
    elif half > margin:
        problems = (f"too noisy: CI +-{half:.2f} {unit} is wider than the +-{margin:.2f} allowed",)
    else:
        what = "A/A difference" if injected == 0 else f"injected {injected:g} {unit}"
        problems = (f"biased: CI [{lo:.2f}, {hi:.2f}] {unit} not within {what} +-{margin:.2f}",)
    return Recovery(kpi, injected, recovered, margin, problems)


def narrow_enough(v: Recovery) -> bool:
    """Sequential stopping looks at precision only (never at where the estimate lies): the CI
    is at most half as wide as the margin allows."""
    return v.recovered is not None and v.recovered.inferred and v.half_width <= v.margin / 2
