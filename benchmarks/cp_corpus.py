"""The replay corpus: nightly series as the nightly meets them (pure, seeded).

Per noise family (independent Gaussian, Student-t with 3 degrees of freedom, AR(1) with lag-1
correlation 0.3 and 0.5; every family scaled to a marginal standard deviation of one ``sd``):

- ``quiet``: step-free series, with single-night outliers of 3-5 sd in half of them;
- ``steps``: 1-2 steps of 2-6 sd, anywhere from the 4th night (near the start) to the newest
  night (near the end), at least 15 nights apart, outliers as above;
- ``drift``: a slow ramp adding 3-5 sd over 20-40 nights, level before and after, no step;
- ``short``: histories of 8-30 nights, half quiet, half ending in a step of 4-6 sd on their
  newest 1-3 nights (the case the newest-night check is for).

Sizes are in marginal standard deviations of the noise, so an AR(1) series of a given size
moves as far as an independent one does (its night-to-night differences are smaller).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FAMILIES = ("gaussian", "t3", "ar0.3", "ar0.5")
KINDS = ("quiet", "steps", "drift", "short")
SD = 0.25
LEVEL = 2.0


@dataclass(frozen=True, slots=True)
class Drift:
    start: int  # first night of the ramp
    nights: int
    size: float  # in sd, over the whole ramp


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    family: str
    kind: str
    values: tuple[float, ...]
    steps: tuple[tuple[int, float], ...] = ()  # (first night at the new level, size in sd)
    outliers: tuple[int, ...] = ()
    drift: Drift | None = None


def lag1(family: str) -> float:
    """The family's lag-1 correlation (0 for the independent families)."""
    return float(family.removeprefix("ar")) if family.startswith("ar") else 0.0


def noise(rng: np.random.Generator, family: str, n: int) -> np.ndarray:
    """Unit-variance noise of one family."""
    if family == "gaussian":
        return rng.normal(0.0, 1.0, n)
    if family == "t3":
        return rng.standard_t(3, n) / math.sqrt(3.0)
    rho = lag1(family)
    u = rng.normal(0.0, math.sqrt(1.0 - rho * rho), n)
    e = np.empty(n)
    e[0] = rng.normal()
    for t in range(1, n):
        e[t] = rho * e[t - 1] + u[t]
    return e


def _sign(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


def _outliers(rng: np.random.Generator, y: np.ndarray, avoid: list[int]) -> list[int]:
    out: list[int] = []
    if rng.random() < 0.5:
        return out
    for _ in range(int(rng.integers(1, 3))):
        i = int(rng.integers(2, len(y) - 3))
        if all(abs(i - a) > 3 for a in avoid + out):
            y[i] += SD * float(rng.uniform(3.0, 5.0)) * _sign(rng)
            out.append(i)
    return sorted(out)


def _step_positions(rng: np.random.Generator, n: int, want: int) -> list[int]:
    chosen: list[int] = []
    for _ in range(200):
        if len(chosen) == want:
            break
        where = rng.random()
        p = (
            int(rng.integers(4, 11))
            if where < 0.2
            else int(rng.integers(n - 3, n))
            if where < 0.35
            else int(rng.integers(11, n - 3))
        )
        if all(abs(p - c) >= 15 for c in chosen):
            chosen.append(p)
    return sorted(chosen)


def make(rng: np.random.Generator, family: str, kind: str, i: int) -> Case:
    name = f"{family}.{kind}.{i}"
    if kind == "short":
        n = int(rng.integers(8, 31))
    elif kind == "quiet":
        n = 160
    else:
        n = int(rng.integers(60, 161))
    level = np.full(n, LEVEL)
    steps: list[tuple[int, float]] = []
    drift = None
    if kind == "steps":
        for p in _step_positions(rng, n, int(rng.integers(1, 3))):
            size = float(rng.uniform(2.0, 6.0)) * _sign(rng)
            level[p:] += size * SD
            steps.append((p, size))
    elif kind == "short" and i % 2 == 1:
        p = n - int(rng.integers(1, 4))
        size = float(rng.uniform(4.0, 6.0)) * _sign(rng)
        level[p:] += size * SD
        steps.append((p, size))
    elif kind == "drift":
        length = int(rng.integers(20, 41))
        start = int(rng.integers(10, max(11, n - length - 5)))
        size = float(rng.uniform(3.0, 5.0)) * _sign(rng)
        ramp = np.clip((np.arange(n) - start + 1) / length, 0.0, 1.0)
        level += size * SD * ramp
        drift = Drift(start, length, size)
    y = level + SD * noise(rng, family, n)
    outliers = _outliers(rng, y, [p for p, _ in steps]) if kind in ("quiet", "steps") else []
    values = tuple(float(v) for v in y)
    return Case(name, family, kind, values, tuple(steps), tuple(outliers), drift)


def corpus(seed: int, counts: dict[str, int], families: tuple[str, ...] = FAMILIES) -> list[Case]:
    """``counts``: series per kind and family."""
    out: list[Case] = []
    for family in families:  # each family its own stream: --family alone judges the same series
        rng = np.random.default_rng([seed, FAMILIES.index(family)])
        for kind in KINDS:
            out += [make(rng, family, kind, i) for i in range(counts.get(kind, 0))]
    return out
