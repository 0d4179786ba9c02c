"""The frontier of the replay's targets: how many >= 3 sd steps the newest-nights test alerts
within 3 nights for a given rate of false alerts, with the noise known and as tare measures it
(seeded).

    .venv/bin/python -m benchmarks.changepoint_frontier [--quiet 1500] [--steps 3000] [--seed 7]

The replay benchmark (``changepoint_quality --replay``) asks for two things at once: few false
alerts per quiet night, and every step alerted within 3 nights of it. How far both can go
together is a property of the noise, not of a detector. Three detectors measure it here, each
reduced to tare's test that decides the newest nights (``_glstest``: generalised least squares
under the AR(1) noise, Prais-Winsten, on a split of the newest ``confirm_nights + 1`` and
``+ 2`` nights from every night before them), told different things about the noise:

- **oracle**: its true standard deviation and lag-1 correlation (and so normal quantiles). For
  a step at a known night under Gaussian AR(1) noise this is the most powerful test there is;
  nothing that must measure the noise does better;
- **measured**: what tare measures from the nights to date (``estimate_noise``: scale,
  correlation and the degrees of freedom they rest on), as the nightly does;
- **rho known**: tare's scale and degrees of freedom with the true lag-1 correlation, to tell
  which of the two estimates costs the recall.

Scored as the replay scores (``benchmarks/cp_replay.py``), per noise family:
- quiet 160-night series replayed from night ``cp_replay.ESTABLISHED``; a night is alerted when
  either split passes; an alert dated within ``SAME_CHANGE_NIGHTS`` (2) of the previous one is
  the same alert (the store's de-duplication); false alerts per 1,000 quiet series-nights;
- one step of 3-6 sd after 30-130 nights: found when a split passes on its
  ``confirm_nights + 1``-th or ``+ 2``-th night (within 3 nights), in the step's direction.

Each limit is swept, so the table reads as a frontier: the recall a false-alert rate buys.
Student-t noise is left out: for it GLS is not the best test, so the oracle would not bound.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from alerting import changepoints as cp
from alerting import noise as nz
from alerting.store import SAME_CHANGE_NIGHTS
from benchmarks import cp_corpus, cp_replay

FAMILIES = ("gaussian", "ar0.3", "ar0.5")
LIMITS = (0.00025, 0.0005, 0.001, 0.002)
TARGET_FALSE = {"gaussian": 0.5, "ar0.3": 1.0, "ar0.5": 1.0}  # per 1,000 quiet nights
NIGHTS = 160
SETTINGS = cp.Settings()
SPLITS = (SETTINGS.confirm_nights + 1, SETTINGS.confirm_nights + 2)

NoiseOf = Callable[[np.ndarray], nz.Noise]


@dataclass(frozen=True, slots=True)
class Point:
    limit: float
    false_per_1000: float
    recall: float


def signed_p(y: np.ndarray, j: int, noise: nz.Noise) -> float:
    """tare's test of the split (``_glstest``), negative when the newest nights are lower."""
    level, tail = y[:-j], y[-j:]
    p = cp._glstest(level, tail, noise)
    return p if tail.mean() >= level.mean() else -p


def quiet_pvalues(y: np.ndarray, noise_of: NoiseOf) -> np.ndarray:
    """[night, split]: each split's p-value, every night of the replay."""
    out = np.ones((len(y), len(SPLITS)))
    for t in range(cp_replay.ESTABLISHED, len(y)):
        history = y[: t + 1]
        noise = noise_of(history)
        for k, j in enumerate(SPLITS):
            out[t, k] = abs(signed_p(history, j, noise))
    return out


def false_alerts(pvalues: np.ndarray, limit: float) -> int:
    alerts, last = 0, -math.inf
    for t in range(len(pvalues)):
        for k, j in enumerate(SPLITS):
            if pvalues[t, k] <= limit:
                dated = t - j + 1
                alerts += dated > last + SAME_CHANGE_NIGHTS
                last = max(last, dated)
    return alerts


def step_pvalue(y: np.ndarray, at: int, size: float, noise_of: NoiseOf) -> float:
    """The smaller p-value of the two chances within 3 nights, in the step's direction (1 if
    neither split points the right way)."""
    best = 1.0
    for j in SPLITS:
        history = y[: at + j]
        p = signed_p(history, j, noise_of(history))
        if (p >= 0) == (size > 0):
            best = min(best, abs(p))
    return best


def frontier(family: str, noise_of: NoiseOf, quiet: int, steps: int, seed: int) -> list[Point]:
    rng = np.random.default_rng([seed, FAMILIES.index(family)])
    q = [quiet_pvalues(cp_corpus.noise(rng, family, NIGHTS), noise_of) for _ in range(quiet)]
    found = []
    for _ in range(steps):
        at = int(rng.integers(30, 130))
        size = float(rng.uniform(3.0, 6.0)) * (1.0 if rng.random() < 0.5 else -1.0)
        y = cp_corpus.noise(rng, family, at + SPLITS[-1])
        y[at:] += size
        found.append(step_pvalue(y, at, size, noise_of))
    p_steps = np.array(found)
    nights = quiet * (NIGHTS - cp_replay.ESTABLISHED)
    return [
        Point(
            limit,
            1000.0 * sum(false_alerts(p, limit) for p in q) / nights,
            float(np.mean(p_steps <= limit)),
        )
        for limit in LIMITS
    ]


def oracle(family: str) -> NoiseOf:
    known = nz.Noise(1.0, cp_corpus.lag1(family), math.inf)
    return lambda _y: known


def measured(y: np.ndarray) -> nz.Noise:
    return cp.estimate_noise(y - float(np.median(y)), SETTINGS)


def rho_known(family: str) -> NoiseOf:
    def noise_of(y: np.ndarray) -> nz.Noise:
        found = measured(y)
        return nz.Noise(found.sd, cp_corpus.lag1(family), found.df)

    return noise_of


def run(task: tuple[str, str, int, int, int]) -> tuple[str, str, list[Point], float]:
    """One detector on one family (a worker process's share)."""
    family, name, quiet, steps, seed = task
    noise_of = {"oracle": oracle(family), "measured": measured, "rho known": rho_known(family)}
    t0 = time.perf_counter()
    points = frontier(family, noise_of[name], quiet, steps, seed)
    return family, name, points, time.perf_counter() - t0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", type=int, default=1500, help="quiet series per family")
    parser.add_argument("--steps", type=int, default=3000, help="step series per family")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--family", choices=FAMILIES, action="append")
    args = parser.parse_args(argv)
    few = max(1, args.quiet // 3), max(1, args.steps // 3)
    print(
        f"{args.quiet} quiet series of {NIGHTS} nights and {args.steps} steps of 3-6 sd per "
        f"family for the oracle, {few[0]} and {few[1]} for the others (they cost an estimate "
        "per night)",
        file=sys.stderr,
    )
    tasks = [
        (family, name, *(few if name != "oracle" else (args.quiet, args.steps)), args.seed)
        for family in args.family or FAMILIES
        for name in ("oracle", "measured", "rho known")
    ]
    print(f"{'family':9} {'detector':9} {'limit':>8} {'false/1000':>10} {'recall':>7}")
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        for family, name, points, seconds in pool.map(run, tasks):
            for pt in points:
                print(
                    f"{family:9} {name:9} {pt.limit:8.5f} {pt.false_per_1000:10.2f} "
                    f"{pt.recall:7.4f}"
                )
            within = [pt for pt in points if pt.false_per_1000 <= TARGET_FALSE[family]]
            best = max((pt.recall for pt in within), default=math.nan)
            print(
                f"{family:9} {name:9} best recall at <= {TARGET_FALSE[family]} false alerts "
                f"per 1,000: {best:.4f} ({seconds:.0f} s)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
